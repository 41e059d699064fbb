// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 the swbridge authors. Licensed under the Apache License, Version 2.0: see LICENSE.

// 17.31 Topology Change: a root or designated port that starts forwarding (not an edge port)
// detects a topology change; the bridge then sends TC for tcWhile on its root and designated
// ports and flushes the learned entries of every other port (tcProp), as does a bridge that
// receives a TC (or, from an STP neighbour, a TCN, acknowledged with TCA). A port that stops
// being root or designated has its own entries flushed (INACTIVE). Each flush is reported
// once per output (in `flushes`); the caller performs it before the next input.

extension SpanningTreeBridge {
    func enterTopologyInactive(_ p: SpanningTreePort) {
        requestFlush(p)
        p.tcWhile = 0
        p.tcAck = false
        p.topologyChangeState = .inactive
    }

    func enterTopologyLearning(_ p: SpanningTreePort) {
        p.rcvdTc = false; p.rcvdTcn = false; p.rcvdTcAck = false
        p.tcProp = false
        p.topologyChangeState = .learning
    }

    func requestFlush(_ p: SpanningTreePort) {
        // fdbFlush is done as soon as it is handed to the caller.
        p.fdbFlush = false
        if !output.flushes.contains(p.index) { output.flushes.append(p.index) }
    }

    /// 17.21.7 newTcWhile.
    func newTcWhile(_ p: SpanningTreePort) {
        guard p.tcWhile == 0 else { return }
        var ongoing = false
        for index in order where (ports[index]?.tcWhile ?? 0) != 0 { ongoing = true; break }
        if !ongoing {
            topologyChangeCount &+= 1
            lastTopologyChange = now
            lastTopologyChangePort = p.index
            output.events.append(.topologyChange(port: p.index))
        }
        if p.sendRSTP {
            p.tcWhile = p.helloTime &+ 1
            p.newInfo = true
        } else {
            p.tcWhile = rootTimes.maxAge &+ rootTimes.forwardDelay
        }
    }

    /// 17.21.18 setTcPropTree: every port but this one.
    func setTcPropTree(_ p: SpanningTreePort) {
        for index in order where index != p.index {
            guard let q = ports[index], !q.tcProp else { continue }
            q.tcProp = true
            touch(q)
        }
    }

    func topologyChange(_ p: SpanningTreePort) -> Bool {
        let active = p.role == .root || p.role == .designated
        switch p.topologyChangeState {
        case .inactive:
            guard p.learn && !p.fdbFlush else { return false }
            enterTopologyLearning(p)
        case .learning:
            if !active && !(p.learn || p.learning) && !(p.rcvdTc || p.rcvdTcn || p.rcvdTcAck || p.tcProp) {
                enterTopologyInactive(p)
            } else if active && p.forward && !p.operEdge {
                newTcWhile(p)                                  // DETECTED
                setTcPropTree(p)
                p.newInfo = true
                p.topologyChangeState = .active
            } else if p.rcvdTc || p.rcvdTcn || p.rcvdTcAck || p.tcProp {
                enterTopologyLearning(p)
            } else {
                return false
            }
        case .active:
            if !active || p.operEdge {
                enterTopologyLearning(p)
            } else if p.rcvdTcn {
                newTcWhile(p)                                  // NOTIFIED_TCN, then NOTIFIED_TC
                notifiedTc(p)
            } else if p.rcvdTc {
                notifiedTc(p)
            } else if p.tcProp && !p.operEdge {
                newTcWhile(p)                                  // PROPAGATING
                requestFlush(p)
                p.tcProp = false
            } else if p.rcvdTcAck {
                p.tcWhile = 0                                  // ACKNOWLEDGED
                p.rcvdTcAck = false
            } else {
                return false
            }
        }
        return true
    }

    func notifiedTc(_ p: SpanningTreePort) {
        p.rcvdTcn = false
        p.rcvdTc = false
        if p.role == .designated { p.tcAck = true }
        setTcPropTree(p)
    }
}
