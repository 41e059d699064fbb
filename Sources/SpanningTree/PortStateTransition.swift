// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 the swbridge authors. Licensed under the Apache License, Version 2.0: see LICENSE.

// 17.30 Port State Transition: learn/forward decided by the role transitions become the
// port's state, reported to the caller (the forwarding engine enforces it: discarding ports
// neither learn nor forward, learning ports learn only).

extension SpanningTreeBridge {
    func enterDiscarding(_ p: SpanningTreePort) {
        p.learning = false
        p.forwarding = false
        p.stateTransitionState = .discarding
        report(p, .discarding)
    }

    func portStateTransition(_ p: SpanningTreePort) -> Bool {
        switch p.stateTransitionState {
        case .discarding:
            guard p.learn else { return false }
            p.learning = true
            p.stateTransitionState = .learning
            report(p, .learning)
        case .learning:
            if !p.learn {
                enterDiscarding(p)
            } else if p.forward {
                p.forwarding = true
                p.stateTransitionState = .forwarding
                report(p, .forwarding)
            } else {
                return false
            }
        case .forwarding:
            guard !p.forward else { return false }
            enterDiscarding(p)
        }
        return true
    }

    func report(_ p: SpanningTreePort, _ state: SpanningTreePortState) {
        guard p.reportedState != state else { return }
        p.reportedState = state
        p.stateChanges &+= 1
        output.stateChanges.append(PortStateChange(port: p.index, state: state))
    }
}
