// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 the swbridge authors. Licensed under the Apache License, Version 2.0: see LICENSE.

// 17.25 Bridge Detection: operEdge. An admin edge port starts as edge; any port loses edge
// status on receiving a BPDU (Port Receive clears operEdge); with AutoEdge, a designated port
// that proposed and heard nothing for the edge delay becomes edge.

extension SpanningTreeBridge {
    func enterEdge(_ p: SpanningTreePort) {
        setOperEdge(p, true)
        p.detectionState = .edge
    }

    func enterNotEdge(_ p: SpanningTreePort) {
        setOperEdge(p, false)
        p.detectionState = .notEdge
    }

    func bridgeDetection(_ p: SpanningTreePort) -> Bool {
        switch p.detectionState {
        case .edge:
            if (!p.portEnabled && !p.configuration.adminEdge) || !p.operEdge { enterNotEdge(p); return true }
        case .notEdge:
            if (!p.portEnabled && p.configuration.adminEdge)
                || (p.edgeDelayWhile == 0 && p.configuration.autoEdge && p.sendRSTP && p.proposing) {
                enterEdge(p)
                return true
            }
        }
        return false
    }
}
