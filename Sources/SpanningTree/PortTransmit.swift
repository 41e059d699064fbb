// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 the swbridge authors. Licensed under the Apache License, Version 2.0: see LICENSE.

// 17.26 Port Transmit: sends what the port has to say (newInfo) at once, and periodically
// every Hello Time; never more than TxHoldCount BPDUs until the Port Timers tick txCount down
// (one per second). RST BPDUs while sendRSTP; otherwise Configuration BPDUs on designated
// ports and TCNs on the root port (17.21.19–21).

#if !SWBRIDGE_FUZZ_SINGLE_MODULE
import BridgeCore
#endif

extension SpanningTreeBridge {
    func enterTransmitInit(_ p: SpanningTreePort) {
        p.newInfo = true
        p.txCount = 0
        enterTransmitIdle(p)
    }

    func enterTransmitIdle(_ p: SpanningTreePort) {
        p.helloWhen = p.helloTime
    }

    func portTransmit(_ p: SpanningTreePort) -> Bool {
        // allTransmitReady (802.1Q 13.25.2): roles settled; nothing leaves a disabled port.
        guard p.selected && !p.updtInfo && p.portEnabled && p.role != .disabled else { return false }
        if p.helloWhen == 0 {
            // TRANSMIT_PERIODIC
            p.newInfo = p.newInfo || p.role == .designated || (p.role == .root && p.tcWhile != 0)
            enterTransmitIdle(p)
            return true
        }
        guard p.newInfo && p.txCount < configuration.transmitHoldCount else { return false }
        if p.sendRSTP {
            p.newInfo = false
            transmit(p, rstBPDU(p))
            p.txCount += 1
            p.tcAck = false
        } else if p.role == .designated {
            p.newInfo = false
            transmit(p, configurationBPDU(p))
            p.txCount += 1
            p.tcAck = false
        } else if p.role == .root {
            p.newInfo = false
            transmit(p, .topologyChangeNotification)
            p.txCount += 1
        } else {
            return false
        }
        enterTransmitIdle(p)
        return true
    }

    func transmit(_ p: SpanningTreePort, _ bpdu: BPDU) {
        p.bpdusOut &+= 1
        output.transmissions.append(BPDUTransmission(port: p.index, frame: bpdu.frame(source: p.address)))
    }

    /// 17.21.19 txConfig.
    func configurationBPDU(_ p: SpanningTreePort) -> BPDU {
        var flags: BPDUFlags = []
        if p.tcWhile != 0 { flags.insert(.topologyChange) }
        if p.tcAck { flags.insert(.topologyChangeAck) }
        return BPDU(kind: .configuration, flags: flags, priority: p.designatedPriority, times: BPDUTimes(seconds: p.designatedTimes))
    }

    /// 17.21.20 txRstp.
    func rstBPDU(_ p: SpanningTreePort) -> BPDU {
        var flags: BPDUFlags = []
        switch p.role {
        case .root: flags.role = .root
        case .designated: flags.role = .designated
        case .alternate, .backup: flags.role = .alternateOrBackup
        case .disabled: flags.role = .unknown
        }
        if p.agree { flags.insert(.agreement) }
        if p.proposing { flags.insert(.proposal) }
        if p.tcWhile != 0 { flags.insert(.topologyChange) }
        if p.learning { flags.insert(.learning) }
        if p.forwarding { flags.insert(.forwarding) }
        return BPDU(kind: .rst, flags: flags, priority: p.designatedPriority, times: BPDUTimes(seconds: p.designatedTimes))
    }
}
