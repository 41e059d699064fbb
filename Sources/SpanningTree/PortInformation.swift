// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 the swbridge authors. Licensed under the Apache License, Version 2.0: see LICENSE.

// 17.27 Port Information: what the port knows of the tree. Received information is
// classified (rcvInfo, 17.21.8) against the port priority vector and recorded if superior;
// it ages out when rcvdInfoWhile (three hello times, zero if Message Age has reached Max Age)
// runs down; the port's own information (Mine) replaces it when role selection says so.

extension SpanningTreeBridge {
    func enterInformationDisabled(_ p: SpanningTreePort) {
        p.rcvdMsg = false
        p.proposing = false; p.proposed = false; p.agree = false; p.agreed = false
        p.rcvdInfoWhile = 0
        p.infoIs = .disabled
        p.reselect = true; p.selected = false
        p.informationState = .disabled
    }

    func enterAged(_ p: SpanningTreePort) {
        p.infoIs = .aged
        p.reselect = true; p.selected = false
        p.informationState = .aged
    }

    /// UPDATE, then CURRENT.
    func enterUpdate(_ p: SpanningTreePort) {
        p.proposing = false; p.proposed = false
        p.agreed = p.agreed && betterOrSameInfo(p, mine: true)
        p.synced = p.synced && p.agreed
        p.portPriority = p.designatedPriority
        p.portTimes = p.designatedTimes
        p.updtInfo = false
        p.infoIs = .mine
        p.newInfo = true
        p.informationState = .current
    }

    /// RECEIVE, the state its rcvdInfo leads to, then CURRENT.
    func enterReceive(_ p: SpanningTreePort) {
        p.rcvdInfo = rcvInfo(p)
        switch p.rcvdInfo {
        case .superiorDesignated:
            p.agreed = false; p.proposing = false
            recordProposal(p)
            setTcFlags(p)
            p.agree = p.agree && betterOrSameInfo(p, mine: false)
            p.portPriority = p.msgPriority                       // recordPriority
            p.portTimes = p.msgTimes                             // recordTimes
            p.portTimes.helloTime = max(1, p.msgTimes.helloTime)
            updtRcvdInfoWhile(p)
            p.infoIs = .received
            p.reselect = true; p.selected = false
        case .repeatedDesignated:
            recordProposal(p)
            setTcFlags(p)
            updtRcvdInfoWhile(p)
        case .inferiorDesignated:
            recordDispute(p)
        case .inferiorRootAlternate:
            recordAgreement(p)
            setTcFlags(p)
        case .other:
            break
        }
        p.rcvdMsg = false
        p.informationState = .current
    }

    func portInformation(_ p: SpanningTreePort) -> Bool {
        if !p.portEnabled && p.infoIs != .disabled { enterInformationDisabled(p); return true }
        switch p.informationState {
        case .disabled:
            if p.portEnabled { enterAged(p); return true }
            if p.rcvdMsg { enterInformationDisabled(p); return true }
        case .aged:
            if p.selected && p.updtInfo { enterUpdate(p); return true }
        case .current:
            if p.rcvdMsg && !p.updtInfo { enterReceive(p); return true }
            if p.selected && p.updtInfo { enterUpdate(p); return true }
            if p.infoIs == .received && p.rcvdInfoWhile == 0 && !p.updtInfo && !p.rcvdMsg { enterAged(p); return true }
        }
        return false
    }

    /// 17.21.8 rcvInfo. A Configuration BPDU conveys the Designated role; a TCN only its notification.
    func rcvInfo(_ p: SpanningTreePort) -> ReceivedInfo {
        let bpdu = p.received
        if bpdu.kind == .topologyChangeNotification {
            p.rcvdTcn = true
            return .other
        }
        p.msgPriority = bpdu.priority
        p.msgTimes = bpdu.times.seconds
        // A Configuration BPDU conveys the Designated role; so does an RST BPDU whose role is
        // Unknown, which 9.2.9 says to handle as a Configuration BPDU.
        let role: EncodedPortRole = bpdu.kind == .configuration || bpdu.flags.role == .unknown ? .designated : bpdu.flags.role
        let same = p.msgPriority == p.portPriority
        let superior = p.msgPriority.isSuperior(to: p.portPriority) && !same
        switch role {
        case .designated:
            if superior || (same && p.msgTimes != p.portTimes) { return .superiorDesignated }
            if same { return .repeatedDesignated }
            return .inferiorDesignated
        case .root, .alternateOrBackup:
            return superior ? .other : .inferiorRootAlternate
        case .unknown:
            return .other  // not reached: Unknown is read as Designated above
        }
    }

    /// 802.1Q 13.27.1 betterorsameInfo (802.1D-2004's UPDATE/SUPERIOR_DESIGNATED use it, errata).
    func betterOrSameInfo(_ p: SpanningTreePort, mine: Bool) -> Bool {
        if mine { return p.infoIs == .mine && !p.portPriority.isBetter(than: p.designatedPriority) }
        return p.infoIs == .received && !p.portPriority.isBetter(than: p.msgPriority)
    }

    /// 17.21.11 recordProposal.
    func recordProposal(_ p: SpanningTreePort) {
        if p.received.kind == .rst && p.received.flags.role == .designated && p.received.flags.contains(.proposal) {
            p.proposed = true
        }
    }

    /// 17.21.9 recordAgreement: only an RSTP neighbour on a point-to-point link agrees.
    func recordAgreement(_ p: SpanningTreePort) {
        if rstpVersion && p.operPointToPoint && p.received.kind == .rst && p.received.flags.role != .unknown
            && p.received.flags.contains(.agreement) {
            p.agreed = true
            p.proposing = false
        } else {
            p.agreed = false
        }
    }

    /// 17.21.10 recordDispute as 802.1Q-2005 corrects it: an inferior designated neighbour
    /// that is learning or forwarding disputes our designated role (a one-way link).
    func recordDispute(_ p: SpanningTreePort) {
        if p.received.kind == .rst && p.received.flags.role != .unknown && p.received.flags.contains(.learning) {
            p.disputed = true
            p.agreed = false
        }
    }

    /// 17.21.17 setTcFlags.
    func setTcFlags(_ p: SpanningTreePort) {
        switch p.received.kind {
        case .configuration, .rst:
            if p.received.flags.contains(.topologyChange) { p.rcvdTc = true }
            if p.received.flags.contains(.topologyChangeAck) { p.rcvdTcAck = true }
        case .topologyChangeNotification:
            p.rcvdTcn = true
        }
    }

    /// 17.21.23 updtRcvdInfoWhile: information whose Message Age + 1 s exceeds Max Age is aged at once.
    func updtRcvdInfoWhile(_ p: SpanningTreePort) {
        p.rcvdInfoWhile = p.portTimes.messageAge &+ 1 <= p.portTimes.maxAge ? 3 &* p.portTimes.helloTime : 0
    }
}
