// ControlHandler: what a running bridge answers on its control socket, without the socket.
// It turns a `ControlRequest` into a `ControlResponse` against a `ControlledBridge` — the
// running Bridge, or a fake in tests — so the rules of each command (bridge(8)'s semantics for
// fdb add/del without `vlan`, name resolution, refusals) are tested without sockets or root.
// It runs on the control server's thread: it must be quick and must not block forwarding
// (the table's readers take no lock; captures wait, bounded, for the workers' acknowledgement).

import BridgeControl
import BridgeCore

/// What the control handler needs of a bridge.
protocol ControlledBridge: AnyObject, Sendable {
    var name: String { get }
    var table: MACTable { get }
    /// The configuration as it is now (ports, VLAN filtering).
    var configuration: BridgeConfiguration { get }
    var captures: CaptureRegistry { get }
    /// Whether port `index` has a `--mirror` (a capture cannot share it).
    func hasStaticMirror(port index: Int) -> Bool
    func linkRows() -> [LinkRow]
    func statistics() -> StatsReport
}

struct ControlHandler: Sendable {
    let bridge: any ControlledBridge

    func handle(_ request: ControlRequest, now: Timestamp) -> ControlResponse {
        let config = bridge.configuration
        switch request {
        case .fdbShow:
            let rows = bridge.table.entries(now: now).map { e in
                FDBRow(e, dev: e.port < config.ports.count ? config.ports[e.port].name : "port\(e.port)",
                       vlanFiltering: config.vlanFiltering)
            }
            return .success(.fdb(rows))
        case .fdbAdd(let text, let dev, let vlan):
            return fdbChange(text, dev: dev, vlan: vlan, config) { mac, port, vid in
                guard let port else { return 0 }
                try bridge.table.addStatic(mac, vlan: vid, port: port)
                return 1
            }
        case .fdbDel(let text, let dev, let vlan):
            return fdbChange(text, dev: dev, vlan: vlan, config) { mac, port, vid in
                if let port, let holder = bridge.table.lookup(mac, vlan: vid), holder != port {
                    return 0  // bridge(8): the entry must be on the named device
                }
                return bridge.table.remove(mac, vlan: vid) ? 1 : 0
            }
        case .fdbFlush(let dev):
            if let dev {
                guard let i = index(of: dev, config) else { return noSuchPort(dev) }
                return .success(.changed(entries: bridge.table.flush(port: i)))
            }
            return .success(.changed(entries: bridge.table.flush()))
        case .linkShow:
            return .success(.links(bridge.linkRows()))
        case .stats:
            return .success(.stats(bridge.statistics()))
        case .captureStart(let spec):
            guard let i = index(of: spec.port, config) else { return noSuchPort(spec.port) }
            switch bridge.captures.start(spec, index: i, mirrored: bridge.hasStaticMirror(port: i)) {
            case .success(let status): return .success(.capture(status))
            case .failure(let f): return .failure(f.message)
            }
        case .captureStatus(let id):
            guard let s = bridge.captures.status(id: id) else { return .failure("no capture \(id) on bridge \(bridge.name)") }
            return .success(.capture(s))
        case .captureStop(let id):
            guard let s = bridge.captures.stop(id: id) else { return .failure("no capture \(id) on bridge \(bridge.name)") }
            return .success(.capture(s))
        }
    }

    private func index(of dev: String, _ config: BridgeConfiguration) -> Int? {
        config.ports.firstIndex { $0.name == dev }
    }

    private func noSuchPort(_ dev: String) -> ControlResponse {
        .failure("no port named '\(dev)' on bridge \(bridge.name)")
    }

    /// Parses an fdb add/del request and applies `body` per VLAN: the named VLAN, or (as
    /// bridge(8) does without `vlan`) every VLAN of the port with filtering on, VLAN 0 without.
    private func fdbChange(
        _ text: String, dev: String?, vlan: UInt16?, _ config: BridgeConfiguration,
        _ body: (MACAddress, Int?, UInt16) throws -> Int
    ) -> ControlResponse {
        let mac: MACAddress
        do { mac = try MACAddress(parsing: text) } catch { return .failure(error.description) }
        var port: Int? = nil
        if let dev {
            guard let i = index(of: dev, config) else { return noSuchPort(dev) }
            port = i
        }
        var vlans: [UInt16]
        if let vlan {
            guard vlan >= 1 && vlan <= 4094 || (vlan == 0 && !config.vlanFiltering) else {
                return .failure("VLAN \(vlan) is out of range (1-4094)")
            }
            vlans = [vlan]
        } else if config.vlanFiltering, let port {
            vlans = config.ports[port].vlans.members
        } else {
            vlans = [0]
        }
        if !config.vlanFiltering && vlans != [0] {
            return .failure("VLAN filtering is off on \(bridge.name): entries have no VLAN")
        }
        var changed = 0
        do {
            for v in vlans { changed += try body(mac, port, v) }
        } catch let e as FDBError {
            return .failure(e.description)
        } catch {
            return .failure("\(error)")
        }
        return .success(.changed(entries: changed))
    }
}
