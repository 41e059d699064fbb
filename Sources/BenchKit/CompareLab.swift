// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 the swbridge authors. Licensed under the Apache License, Version 2.0: see LICENSE.

// CompareLab: the topology every bridge under test runs on, built once per `swbridge bench`
// run: N host namespaces, each joined by a veth pair to one bridge namespace, hosts at
// 198.18.0.<i>/24, an MTU and an offload profile. Bridges come and go on it (one after the
// other, interleaved), so every comparison is measured on the very same interfaces.

import Foundation
import LabKit

/// Offload settings of the host and bridge-side veths.
public enum OffloadProfile: String, Codable, Sendable, CaseIterable {
    /// veth's defaults: TSO, GSO, tx checksumming, scatter-gather on.
    case defaults
    /// TSO, GSO, GRO and tx checksumming off on every veth end.
    case off
}

/// The lab of a comparison run.
public final class CompareLab: @unchecked Sendable {
    public let lab: Lab
    public let hostCount: Int
    public let mtu: Int
    public let offloads: OffloadProfile
    /// The namespace the bridge's ports live in.
    public let bridgeNamespace: String
    /// Host namespaces, host 1 first.
    public let hostNamespaces: [String]
    /// Bridge-side interface names, port i for host i + 1.
    public let ports: [String]

    /// Builds the topology; deletes everything it made if a step fails.
    public init(hosts: Int = 3, mtu: Int = 1500, offloads: OffloadProfile = .defaults) throws {
        precondition(hosts >= 2 && hosts <= 32, "2...32 hosts")
        let lab = try Lab()
        self.lab = lab
        hostCount = hosts
        self.mtu = mtu
        self.offloads = offloads
        do {
            bridgeNamespace = try lab.addNamespace("br")
            var hostsNS: [String] = []
            var portNames: [String] = []
            for i in 1...hosts {
                let ns = try lab.addNamespace("h\(i)")
                let port = try lab.interfaceName("p\(i)")
                try lab.addVethPair("eth0", in: ns, port, in: bridgeNamespace)
                for (ifname, space) in [("eth0", ns), (port, bridgeNamespace)] {
                    try lab.mustRun(["ip", "-n", space, "link", "set", ifname, "mtu", "\(mtu)"])
                    if offloads == .off {
                        try lab.setOffloads(ifname, in: space, ["tso": false, "gso": false, "gro": false, "tx": false])
                    }
                }
                try lab.setAddress("198.18.0.\(i)/24", on: "eth0", in: ns)
                hostsNS.append(ns)
                portNames.append(port)
            }
            hostNamespaces = hostsNS
            ports = portNames
        } catch {
            lab.teardown()
            throw error
        }
    }

    /// The IPv4 address of host `i` (1-based).
    public func address(ofHost i: Int) -> String { "198.18.0.\(i)" }

    /// Deletes every namespace (and so every veth) of the lab.
    public func teardown() { lab.teardown() }
}
