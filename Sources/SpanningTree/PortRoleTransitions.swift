// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 the swbridge authors. Licensed under the Apache License, Version 2.0: see LICENSE.

// 17.29 Port Role Transitions: moves a port to its selected role and decides learn/forward.
// The rapid part of RSTP lives here: a root port answers a proposal by syncing every other
// port (setSyncTree) and agreeing once all are synced; a designated port forwards as soon as
// it is agreed (or edge), otherwise after forwardDelay twice; a new root port forwards at once
// when no recent root port is still forwarding (reRooted). The transient states (ROOT_AGREED,
// DESIGNATED_SYNCED, ...) run their actions and return to their role's home state, whose
// entry actions run again, as the standard's UCT arrows say.

extension SpanningTreeBridge {
    // MARK: Home states

    /// INIT_PORT, then DISABLE_PORT.
    func enterInitPort(_ p: SpanningTreePort) {
        setRole(p, .disabled)
        p.learn = false; p.forward = false
        p.synced = false
        p.sync = true; p.reRoot = true
        p.rrWhile = p.fwdDelay
        p.fdWhile = p.maxAge
        p.rbWhile = 0
        enterDisablePort(p)
    }

    func enterDisablePort(_ p: SpanningTreePort) {
        setRole(p, p.selectedRole)
        p.learn = false; p.forward = false
        p.roleTransitionState = .disablePort
    }

    func enterDisabledPort(_ p: SpanningTreePort) {
        p.fdWhile = p.maxAge
        p.synced = true
        p.rrWhile = 0
        p.sync = false; p.reRoot = false
        p.roleTransitionState = .disabledPort
    }

    func enterRootPort(_ p: SpanningTreePort) {
        setRole(p, .root)
        p.rrWhile = p.fwdDelay
        p.roleTransitionState = .rootPort
    }

    func enterDesignatedPort(_ p: SpanningTreePort) {
        setRole(p, .designated)
        p.roleTransitionState = .designatedPort
    }

    func enterAlternatePort(_ p: SpanningTreePort) {
        p.fdWhile = p.fwdDelay
        p.synced = true
        p.rrWhile = 0
        p.sync = false; p.reRoot = false
        p.roleTransitionState = .alternatePort
    }

    func enterBlockPort(_ p: SpanningTreePort) {
        setRole(p, p.selectedRole)
        p.learn = false; p.forward = false
        p.roleTransitionState = .blockPort
    }

    // MARK: Conditions (17.20)

    /// allSynced: every port has its selected role and is synced, the root port excepted.
    func allSynced() -> Bool {
        for index in order {
            guard let q = ports[index] else { continue }
            if !q.selected || q.role != q.selectedRole || (q.role != .root && !q.synced) { return false }
        }
        return true
    }

    /// reRooted: no other port's rrWhile is running.
    func reRooted(_ p: SpanningTreePort) -> Bool {
        for index in order {
            guard let q = ports[index], q !== p else { continue }
            if q.rrWhile != 0 { return false }
        }
        return true
    }

    /// 17.21.14 setSyncTree.
    func setSyncTree() {
        for index in order {
            guard let q = ports[index], !q.sync else { continue }
            q.sync = true
            touch(q)
        }
    }

    /// 17.21.15 setReRootTree.
    func setReRootTree() {
        for index in order {
            guard let q = ports[index], !q.reRoot else { continue }
            q.reRoot = true
            touch(q)
        }
    }

    // MARK: The machine

    func portRoleTransitions(_ p: SpanningTreePort) -> Bool {
        guard p.selected && !p.updtInfo else { return false }
        if p.role != p.selectedRole {
            switch p.selectedRole {
            case .disabled: enterDisablePort(p)
            case .root: enterRootPort(p)
            case .designated: enterDesignatedPort(p)
            case .alternate, .backup: enterBlockPort(p)
            }
            return true
        }
        switch p.roleTransitionState {
        case .disablePort:
            if !p.learning && !p.forwarding { enterDisabledPort(p); return true }
        case .disabledPort:
            if p.fdWhile != p.maxAge || p.sync || p.reRoot || !p.synced { enterDisabledPort(p); return true }
        case .rootPort:
            return rootPortTransitions(p)
        case .designatedPort:
            return designatedPortTransitions(p)
        case .alternatePort:
            return alternatePortTransitions(p)
        case .blockPort:
            if !p.learning && !p.forwarding { enterAlternatePort(p); return true }
        }
        return false
    }

    func rootPortTransitions(_ p: SpanningTreePort) -> Bool {
        if p.proposed && !p.agree {                                   // ROOT_PROPOSED
            setSyncTree()
            p.proposed = false
        } else if (p.proposed && p.agree) || (!p.agree && allSynced()) { // ROOT_AGREED
            p.proposed = false
            p.sync = false
            p.agree = true
            p.newInfo = true
        } else if !p.forward && !p.reRoot {                           // REROOT
            setReRootTree()
        } else if p.rrWhile != p.fwdDelay {                           // ROOT_PORT again
        } else if p.reRoot && p.forward {                             // REROOTED
            p.reRoot = false
        } else if (p.fdWhile == 0 || (rstpVersion && p.rbWhile == 0 && reRooted(p))) && !p.learn {
            p.fdWhile = p.forwardDelay                                // ROOT_LEARN
            p.learn = true
        } else if (p.fdWhile == 0 || (rstpVersion && p.rbWhile == 0 && reRooted(p))) && p.learn && !p.forward {
            p.fdWhile = 0                                             // ROOT_FORWARD
            p.forward = true
        } else {
            return false
        }
        enterRootPort(p)
        return true
    }

    func designatedPortTransitions(_ p: SpanningTreePort) -> Bool {
        let mayLearn = (p.fdWhile == 0 || p.agreed || p.operEdge) && (p.rrWhile == 0 || !p.reRoot) && !p.sync
        if ((p.sync && !p.synced) || (p.reRoot && p.rrWhile != 0) || p.disputed) && !p.operEdge && (p.learn || p.forward) {
            p.learn = false; p.forward = false; p.disputed = false // DESIGNATED_DISCARD
            p.fdWhile = p.forwardDelay
        } else if mayLearn && !p.learn {                         // DESIGNATED_LEARN
            p.learn = true
            p.fdWhile = p.forwardDelay
        } else if mayLearn && p.learn && !p.forward {            // DESIGNATED_FORWARD
            p.forward = true
            p.fdWhile = 0
            p.agreed = p.sendRSTP
        } else if !p.forward && !p.agreed && !p.proposing && !p.operEdge { // DESIGNATED_PROPOSE
            p.proposing = true
            p.edgeDelayWhile = p.edgeDelay
            p.newInfo = true
        } else if (!p.learning && !p.forwarding && !p.synced) || (p.agreed && !p.synced)
                    || (p.operEdge && !p.synced) || (p.sync && p.synced) { // DESIGNATED_SYNCED
            p.rrWhile = 0
            p.synced = true
            p.sync = false
        } else if p.rrWhile == 0 && p.reRoot {                   // DESIGNATED_RETIRED
            p.reRoot = false
        } else {
            return false
        }
        enterDesignatedPort(p)
        return true
    }

    func alternatePortTransitions(_ p: SpanningTreePort) -> Bool {
        if p.proposed && !p.agree {                                    // ALTERNATE_PROPOSED
            setSyncTree()
            p.proposed = false
        } else if (p.proposed && p.agree) || (!p.agree && allSynced()) { // ALTERNATE_AGREED
            p.proposed = false
            p.agree = true
            p.newInfo = true
        } else if p.fdWhile != p.fwdDelay || p.sync || p.reRoot || !p.synced { // ALTERNATE_PORT again
        } else if p.rbWhile != 2 &* p.helloTime && p.role == .backup { // BACKUP_PORT
            p.rbWhile = 2 &* p.helloTime
        } else {
            return false
        }
        enterAlternatePort(p)
        return true
    }
}
