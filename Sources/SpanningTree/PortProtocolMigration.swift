// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 the swbridge authors. Licensed under the Apache License, Version 2.0: see LICENSE.

// 17.24 Port Protocol Migration: a port starts speaking RSTP (unless the bridge is forced to
// STP); hearing a Configuration or TCN BPDU once Migrate Time (3 s) has passed, it switches to
// STP-compatible mode (sendRSTP false: Configuration and TCN BPDUs, forward-delay timers) and
// stays there until mcheck, the link going down, or an RST BPDU heard after Migrate Time.

extension SpanningTreeBridge {
    func enterCheckingRSTP(_ p: SpanningTreePort) {
        p.mcheck = false
        setSendRSTP(p, rstpVersion)
        p.mdelayWhile = migrateTime
        p.migrationState = .checkingRSTP
    }

    func enterSelectingSTP(_ p: SpanningTreePort) {
        setSendRSTP(p, false)
        p.mdelayWhile = migrateTime
        p.migrationState = .selectingSTP
    }

    func enterSensing(_ p: SpanningTreePort) {
        p.rcvdRSTP = false
        p.rcvdSTP = false
        p.migrationState = .sensing
    }

    func setSendRSTP(_ p: SpanningTreePort, _ value: Bool) {
        // Reported only when the bridge speaks RSTP: forced STP is not a migration.
        if p.sendRSTP != value && rstpVersion {
            output.events.append(.protocolMigrated(port: p.index, stpCompatible: !value))
        }
        p.sendRSTP = value
    }

    func portProtocolMigration(_ p: SpanningTreePort) -> Bool {
        switch p.migrationState {
        case .checkingRSTP:
            if p.mdelayWhile == 0 { enterSensing(p); return true }
            if p.mdelayWhile != migrateTime && !p.portEnabled { enterCheckingRSTP(p); return true }
        case .selectingSTP:
            if p.mdelayWhile == 0 || !p.portEnabled || p.mcheck { enterSensing(p); return true }
        case .sensing:
            if !p.portEnabled || p.mcheck || (rstpVersion && !p.sendRSTP && p.rcvdRSTP) { enterCheckingRSTP(p); return true }
            if p.sendRSTP && p.rcvdSTP { enterSelectingSTP(p); return true }
        }
        return false
    }
}
