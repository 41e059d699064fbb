// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 the swbridge authors. Licensed under the Apache License, Version 2.0: see LICENSE.

// 17.28 Port Role Selection (the one per-bridge machine) and updtRolesTree (17.21.25): the
// root priority vector is the best of the bridge's own and each port's received vector plus
// its path cost (ports whose information came from this bridge excluded); every port then
// gets Root, Designated, Alternate, Backup or Disabled. root_guard ports are left out of the
// root choice (802.1Q restrictedRole): superior information makes them Alternate.

extension SpanningTreeBridge {
    func portRoleSelection() -> Bool {
        var reselect = false
        for index in order where ports[index]?.reselect == true { reselect = true; break }
        guard reselect else { return false }
        // ROLE_SELECTION: clearReselectTree, updtRolesTree, setSelectedTree.
        for index in order { ports[index]?.reselect = false }
        updtRolesTree()
        for index in order {
            guard let p = ports[index], !p.selected else { continue }
            p.selected = true
            touch(p)
        }
        return true
    }

    func updtRolesTree() {
        let oldRoot = rootPriority.rootBridge
        var best = bridgePriority
        var bestBridgePort = PortIdentifier(rawValue: 0)
        var bestPort: SpanningTreePort?
        var times = bridgeTimes
        func better(_ v: PriorityVector, _ port: PortIdentifier) -> Bool {
            v.isBetter(than: best) || (v == best && port < bestBridgePort)
        }
        func rootPath(_ p: SpanningTreePort) -> PriorityVector? {
            guard p.infoIs == .received, p.portPriority.designatedBridge.address != address else { return nil }
            var v = p.portPriority
            let sum = v.rootPathCost.addingReportingOverflow(p.pathCost)
            v.rootPathCost = sum.overflow ? .max : sum.partialValue
            return v
        }
        for index in order {
            guard let p = ports[index], !p.configuration.rootGuard, let v = rootPath(p) else { continue }
            if better(v, p.portId) {
                best = v
                bestBridgePort = p.portId
                bestPort = p
                times = p.portTimes
                times.messageAge = times.messageAge &+ 1
            }
        }
        rootPriority = best
        rootPortId = bestBridgePort
        rootTimes = times
        if best.rootBridge != oldRoot { output.events.append(.newRoot(best.rootBridge)) }

        for index in order {
            guard let p = ports[index] else { continue }
            let before = (p.selectedRole, p.updtInfo, p.designatedPriority, p.designatedTimes)
            defer { if before != (p.selectedRole, p.updtInfo, p.designatedPriority, p.designatedTimes) { touch(p) } }
            p.designatedPriority = PriorityVector(rootBridge: best.rootBridge, rootPathCost: best.rootPathCost,
                                                  designatedBridge: bridgeIdentifier, designatedPort: p.portId)
            p.designatedTimes = times
            p.designatedTimes.helloTime = configuration.helloTime
            var blocking = false
            if p.configuration.rootGuard, let v = rootPath(p), better(v, p.portId) { blocking = true }
            if blocking != p.rootGuardBlocking {
                p.rootGuardBlocking = blocking
                output.events.append(blocking ? .rootGuardBlocking(port: p.index) : .rootGuardReleased(port: p.index))
            }
            switch p.infoIs {
            case .disabled:
                p.selectedRole = .disabled
            case .aged:
                p.selectedRole = .designated
                p.updtInfo = true
            case .mine:
                p.selectedRole = .designated
                if p.portPriority != p.designatedPriority || p.portTimes != p.designatedTimes { p.updtInfo = true }
            case .received:
                if p === bestPort {
                    p.selectedRole = .root
                    p.updtInfo = false
                } else if !p.designatedPriority.isBetter(than: p.portPriority) {
                    p.selectedRole = p.portPriority.designatedBridge.address != address ? .alternate : .backup
                    p.updtInfo = false
                } else {
                    p.selectedRole = .designated
                    p.updtInfo = true
                }
            }
        }
    }
}
