// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 the swbridge authors. Licensed under the Apache License, Version 2.0: see LICENSE.

// The multicast side of the control plane's publishing: `mdb show` and the snooping counters
// read a snapshot, never the snooper (it belongs to the control-plane thread). Building one
// walks every group, so it is rebuilt at most every 250 ms, not after each of a report flood's
// frames.

import BridgeCore
import MulticastSnooping
import Synchronization

/// What the control thread reads of the snooper.
struct MulticastSnapshot: Sendable {
    var status: MDBStatus
    var counters: MulticastSnoopingCounters
    var table: MulticastTableStatistics
}

extension ControlPlane {
    func publishMulticast(now: Timestamp) {
        guard let s = snooper else { return }
        let last = multicastPublished.load(ordering: .relaxed)
        guard now.milliseconds &- last >= 250 || last == 0 else { return }
        multicastPublished.store(max(now.milliseconds, 1), ordering: .relaxed)
        let names = ports.mapValues(\.name)
        let snap = MulticastSnapshot(status: s.status(now: now, bridge: bridgeName, portName: { names[$0] ?? "port\($0)" }),
                                     counters: s.counters, table: s.table.statistics)
        multicastSnapshot.withLock { $0 = snap }
    }
}
