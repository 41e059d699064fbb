// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 the swbridge authors. Licensed under the Apache License, Version 2.0: see LICENSE.

// VXLAN ports (issue 17): a kernel VXLAN device is an ordinary port. `swbridge vxlan add`
// creates the device (the client holds CAP_NET_ADMIN; the bridge keeps only CAP_NET_RAW) and
// asks the bridge to attach it through the same path as `link add`; `vxlan del` detaches it
// here and the client deletes it. What is VXLAN-specific on the bridge's side:
// - attach and detach refuse an interface whose link kind is not "vxlan", so `vxlan del`
//   never detaches (and then deletes) a veth by mistake;
// - `fdb show` names the remote VTEP of a station behind a VXLAN port. The split of
//   authority: swbridge's own table says which *port* a MAC is on (it learns from the frames
//   the device hands up, as from any port); the device's table, which the kernel fills by its
//   own learning (IFLA_VXLAN_LEARNING on), says which *VTEP* behind that port, and is what the
//   kernel uses to send a known unicast frame to one remote instead of all of them. The
//   remote is read from the kernel (RTM_GETNEIGH dump, no privilege needed) when asked, never
//   on the forwarding path.

import BridgeControl
import BridgeCore
import PacketIO

#if canImport(Glibc)
import Glibc
#endif

extension Bridge {
    func namespaceIdentity() -> String { VXLANNamespace.current() }

    /// Attaches VXLAN device `port.name` as a new port (`link add` after a kind check).
    func attachVXLAN(_ port: PortConfiguration) throws(BridgeError) {
        try requireVXLAN(port.name)
        _ = try attachPort(port, backend: .afPacket)
    }

    /// Detaches VXLAN port `name` (`link del` after a kind check).
    func detachVXLAN(_ name: String) throws(BridgeError) {
        guard live.withLock({ $0.index(of: name) }) != nil else {
            throw .invalid("no port named '\(name)' on bridge \(options.name)")
        }
        try requireVXLAN(name)
        try detachPort(name)
    }

    private func requireVXLAN(_ name: String) throws(BridgeError) {
        let info: LinkInfo
        do { info = try LinkInfo.query(name: name) } catch {
            throw .invalid("\(name): \(error)")
        }
        guard info.kind == "vxlan" else {
            throw .invalid("\(name) is not a VXLAN device (kind \(info.kind ?? "none")): use link add|del for other interfaces")
        }
    }

    /// Per attached VXLAN port slot: inner MAC → the remote VTEP the device learned it behind
    /// (a learned entry before a permanent one; all-zeros defaults left out).
    func vxlanDestinations() -> [Int: [MACAddress: String]] {
        let (config, rt) = live.withLock { ($0.config, $0.runtime) }
        guard let netlink = try? NetlinkSocket(), let links = try? netlink.links() else { return [:] }
        var kinds: [Int32: String] = [:]
        for l in links { kinds[l.index] = l.kind }
        var result: [Int: [MACAddress: String]] = [:]
        for (i, p) in config.ports.enumerated() where !p.isVacant && rt[i].attached && kinds[rt[i].ifindex] == "vxlan" {
            guard let entries = try? netlink.vxlanFDB(ifindex: rt[i].ifindex) else { continue }
            var byMAC: [MACAddress: String] = [:]
            for e in entries.sorted(by: { !$0.isPermanent && $1.isPermanent }) where !e.isDefault {
                let mac = e.mac.withUnsafeBytes { MACAddress(bytes: $0, offset: 0) }
                if byMAC[mac] == nil { byMAC[mac] = e.destination.description }
            }
            result[i] = byMAC
        }
        return result
    }
}

/// A VXLAN device as the command line (`swbridge vxlan add`) or the configuration file
/// (`vxlan:`) describes it, before names are resolved.
public struct VXLANParameters: Equatable, Sendable {
    public var name: String
    public var vni: UInt32
    public var local: VXLANAddress
    public var remotes: [VXLANAddress] = []
    public var port: UInt16 = NetlinkVXLAN.defaultPort
    public var group: VXLANAddress?
    /// The underlay interface (`dev` after `group`).
    public var underlay: String?
    /// nil: the underlay's MTU minus 50 (IPv4) or 70 (IPv6).
    public var mtu: Int?

    public init(name: String, vni: UInt32, local: VXLANAddress) {
        self.name = name
        self.vni = vni
        self.local = local
    }

    /// The device to create: the underlay's index looked up, the MTU derived when not given
    /// (from `underlay`, else from the interface holding `local`; left to the kernel, 1,450 or
    /// 1,430, when neither is found). Throws a message for the user.
    public func resolved() throws(BridgeError) -> VXLANDeviceSpec {
        var spec = VXLANDeviceSpec(name: name, vni: vni, local: local, remotes: remotes, port: port, group: group, mtu: mtu)
        if let underlay {
            do { spec.underlayIndex = try Interface.index(of: underlay) } catch {
                throw .invalid("dev \(underlay): no such interface in this network namespace")
            }
        }
        if mtu == nil, let lower = underlay ?? local.interfaceHoldingIt, let lowerMTU = try? Interface.mtu(of: lower) {
            spec.mtu = spec.overlayMTU(underlayMTU: lowerMTU)
        }
        if let refusal = spec.refusal { throw .invalid("vxlan \(name): \(refusal)") }
        return spec
    }
}

/// Creating and deleting VXLAN devices (needs CAP_NET_ADMIN: the client, or `run` before it
/// drops its capabilities).
public enum VXLANSetup {
    /// Creates the device in the calling thread's namespace, its remotes added, up. Returns the spec used.
    @discardableResult
    public static func create(_ parameters: VXLANParameters) throws(BridgeError) -> VXLANDeviceSpec {
        let spec = try parameters.resolved()
        do {
            _ = try NetlinkSocket().createVXLAN(spec)
        } catch .system(let e) where e.errno == EEXIST {
            throw .invalid("vxlan \(spec.name): an interface of that name exists (or another VXLAN device has vni \(spec.vni) and dstport \(spec.port))")
        } catch {
            throw .invalid("vxlan \(spec.name): \(error)")
        }
        return spec
    }

    /// For `run --config`: the file owns its devices, so one left by an earlier run (the
    /// bridge cannot delete it at exit: it no longer holds CAP_NET_ADMIN) is deleted and
    /// created again as the file says. An interface of that name that is not VXLAN is refused.
    public static func recreate(_ parameters: VXLANParameters) throws(BridgeError) {
        if let existing = try? LinkInfo.query(name: parameters.name) {
            guard existing.kind == "vxlan" else {
                throw .invalid("vxlan \(parameters.name): an interface of that name exists and is not VXLAN (kind \(existing.kind ?? "none"))")
            }
            // Enslaved to a kernel bridge or bond: someone else's, not a leftover of ours.
            guard existing.masterIndex == nil else {
                throw .invalid("vxlan \(parameters.name): a VXLAN device of that name exists and is enslaved to another master")
            }
            try delete(parameters.name)
        }
        try create(parameters)
    }

    /// Deletes VXLAN device `name`; refuses another kind of interface.
    public static func delete(_ name: String) throws(BridgeError) {
        do {
            let socket = try NetlinkSocket()
            let info = try socket.link(name: name)
            guard info.kind == "vxlan" else { throw BridgeError.invalid("\(name) is not a VXLAN device (kind \(info.kind ?? "none"))") }
            try socket.deleteLink(name: name)
        } catch let e as BridgeError {
            throw e
        } catch {
            throw .invalid("vxlan \(name): \(error)")
        }
    }
}
