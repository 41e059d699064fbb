// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 the swbridge authors. Licensed under the Apache License, Version 2.0: see LICENSE.

// 17.23 Port Receive: takes a validated BPDU (rcvdBPDU) to rcvdMsg for Port Information,
// noting its version for Protocol Migration and ending edge status (a BPDU means a bridge).

extension SpanningTreeBridge {
    func enterPortReceiveDiscard(_ p: SpanningTreePort) {
        p.rcvdBPDU = false; p.rcvdRSTP = false; p.rcvdSTP = false
        p.rcvdMsg = false
        p.edgeDelayWhile = migrateTime
        p.receiveState = .discard
    }

    func enterPortReceiveReceive(_ p: SpanningTreePort) {
        updtBPDUVersion(p)
        setOperEdge(p, false)
        p.rcvdBPDU = false
        p.rcvdMsg = true
        p.edgeDelayWhile = migrateTime
        p.receiveState = .receive
    }

    /// 17.21.22 updtBPDUVersion.
    func updtBPDUVersion(_ p: SpanningTreePort) {
        if p.received.kind == .rst { p.rcvdRSTP = true } else { p.rcvdSTP = true }
    }

    func portReceive(_ p: SpanningTreePort) -> Bool {
        if (p.rcvdBPDU || p.edgeDelayWhile != migrateTime) && !p.portEnabled {
            enterPortReceiveDiscard(p)
            return true
        }
        switch p.receiveState {
        case .discard:
            if p.rcvdBPDU && p.portEnabled { enterPortReceiveReceive(p); return true }
        case .receive:
            if p.rcvdBPDU && p.portEnabled && !p.rcvdMsg { enterPortReceiveReceive(p); return true }
        }
        return false
    }
}
