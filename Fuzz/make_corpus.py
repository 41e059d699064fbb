#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# Copyright (c) 2026 the swbridge authors. Licensed under the Apache License, Version 2.0: see LICENSE.

"""Writes the handcrafted seed corpus of the fuzz target into Fuzz/corpus (see the input
layout in Tests/IntegrationTests/Support/HardeningFuzzHarness.swift). Deterministic: rerun it
after changing the layout and commit the result."""
import os, struct

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "corpus")
DEFAULT = 0x0F  # learning, flood, mcast_flood, bcast_flood

A = bytes.fromhex("025b000000a1")
B = bytes.fromhex("025b000000b2")
C = bytes.fromhex("025b000000c3")
BCAST = b"\xff" * 6
MCAST = bytes.fromhex("01005e000001")
ZERO = b"\x00" * 6
STP = bytes.fromhex("0180c2000000")
LLDP = bytes.fromhex("0180c200000e")
PAUSE = bytes.fromhex("0180c2000001")

def tag(tpid, vid, pcp=0):
    return struct.pack(">HH", tpid, (pcp << 13) | vid)

def frame(dst, src, tags=b"", etype=0x88B5, payload=46):
    return dst + src + tags + struct.pack(">H", etype) + bytes(i & 0xFF for i in range(payload))

def engine(frames, mode=0, ports=3, batch=8, storm=0, max_learned=255, flags=None):
    flags = flags or [DEFAULT] * 8
    b1 = ((ports - 1) & 7) | (((batch - 1) & 31) << 3)
    out = bytes([mode & ~3 & 0xFF, b1, storm, max_learned]) + bytes(flags[:8])
    for port, f, step in frames:
        out += struct.pack("<HBB", len(f), port, step) + f
    return out

def table(ops, max_learned=7, max_static=3, ageing=1):
    out = bytes([3, max_learned - 1, max_static, ageing])
    for op in ops:
        out += bytes(op)
    return out

seeds = {}
ok = frame(B, A)
seeds["learn-forward-flood"] = engine([(0, frame(B, A), 1), (1, frame(A, B), 1), (0, frame(B, A), 1), (2, frame(C, C[:5] + b"\x01"), 1)])
seeds["runts"] = engine([(0, b"", 0), (0, b"\x01", 0), (1, ok[:13], 0), (1, ok[:14], 0), (2, BCAST + A, 0)])
seeds["truncated-tags"] = engine([(0, (B + A + tag(0x8100, 5))[:k], 0) for k in (13, 14, 15, 16, 17)]
                                 + [(1, (B + A + tag(0x88A8, 5) + tag(0x8100, 6))[:k], 0) for k in (18, 19, 20, 21)])
seeds["triple-tag"] = engine([(0, frame(B, A, tag(0x88A8, 10) + tag(0x8100, 20) + tag(0x8100, 30)), 0),
                              (0, frame(B, A, tag(0x8100, 1) + tag(0x8100, 2) + tag(0x88A8, 3)), 0),
                              (0, (B + A + tag(0x8100, 1) + tag(0x8100, 2) + tag(0x8100, 3))[:22], 0)])
seeds["qinq"] = engine([(0, frame(B, A, tag(0x88A8, 300) + tag(0x8100, 10)), 0), (1, frame(A, B, tag(0x88A8, 300)), 0)])
seeds["bad-sources"] = engine([(0, frame(B, BCAST), 0), (0, frame(B, MCAST), 0), (0, frame(B, ZERO), 0), (1, frame(A, B), 0)])
seeds["broadcast-multicast"] = engine([(0, frame(BCAST, A), 0), (1, frame(MCAST, B), 0), (2, frame(BCAST, C, tag(0x8100, 7)), 0)])
seeds["link-local"] = engine([(0, frame(STP, A, etype=0x0026), 0), (0, frame(PAUSE, A, etype=0x8808), 0), (1, frame(LLDP, B, etype=0x88CC), 0)])
seeds["link-local-fwd-mask"] = engine([(0, frame(LLDP, A, etype=0x88CC), 0), (0, frame(bytes.fromhex("0180c2000003"), A), 0)], mode=32)
for vid in (0, 1, 4094, 4095):
    for proto, m in ((0x8100, 4), (0x88A8, 12)):
        seeds[f"vid{vid}-{proto:04x}"] = engine(
            [(0, frame(B, A, tag(proto, vid, 5)), 0), (1, frame(A, B, tag(proto, vid)), 0), (2, frame(BCAST, C, tag(proto, vid)), 0),
             (0, frame(B, A), 0), (1, frame(A, B, tag(0x8100, 0, 7)), 0)], mode=m)
seeds["vlan-no-pvid"] = engine([(0, frame(B, A), 0), (1, frame(A, B, tag(0x8100, 2)), 0)], mode=4, flags=[DEFAULT | 0x80, DEFAULT, DEFAULT] + [DEFAULT] * 5)
seeds["max-size-1514"] = engine([(0, frame(B, A, payload=1500), 0), (1, frame(A, B, payload=1500), 0)])
seeds["max-size-1518-tagged"] = engine([(0, frame(B, A, tag(0x8100, 2), payload=1500), 0)], mode=4)
seeds["jumbo-9018"] = engine([(0, frame(BCAST, A, payload=9000), 0)])
seeds["superframe-4k"] = engine([(1, frame(A, B, payload=4000), 0)])
seeds["weird-ports"] = engine([(p, frame(B, A), 0) for p in (0xF0, 0xF1, 0xF2, 0xF3, 0xF4, 0xF5, 0xF6, 0xF7, 3)])
seeds["disabled-port"] = engine([(0, frame(B, A), 0), (1, frame(A, B), 0)], flags=[DEFAULT, DEFAULT | 0x40, DEFAULT] + [DEFAULT] * 5)
seeds["hairpin"] = engine([(0, frame(B, A), 0), (0, frame(A, B), 0), (0, frame(A, C), 0)], flags=[DEFAULT | 0x10] * 8)
seeds["isolated"] = engine([(0, frame(BCAST, A), 0), (1, frame(A, B), 0), (2, frame(A, C), 0)], flags=[DEFAULT | 0x20, DEFAULT | 0x20, DEFAULT] + [DEFAULT] * 5)
seeds["no-learning-no-flood"] = engine([(0, frame(B, A), 0), (1, frame(A, B), 0)], flags=[0x00, 0x01, 0x0E] + [DEFAULT] * 5)
seeds["storm-control"] = engine([(0, frame(BCAST, A), 0)] * 40 + [(0, frame(BCAST, A), 200)] * 5 + [(1, frame(MCAST, B), 0)] * 20, mode=16, storm=0x25)
seeds["table-full-eviction"] = engine([(i % 3, frame(B, bytes.fromhex("02000000%04x" % i)), 0) for i in range(64)], max_learned=7)
seeds["ageing"] = engine([(0, frame(B, A), 0), (1, frame(A, B), 255), (1, frame(A, B), 255), (2, frame(A, C), 255)], max_learned=3)
seeds["eight-ports-batch1"] = engine([(i % 8, frame(BCAST, bytes([2, 0, 0, 0, 0, i])), 0) for i in range(16)], ports=8, batch=1)
seeds["batch32"] = engine([(i % 2, frame(B if i % 2 == 0 else A, A if i % 2 == 0 else B), 0) for i in range(70)], ports=2, batch=32)
seeds["etype-tag-as-payload"] = engine([(0, frame(B, A, tag(0x9100, 5)), 0), (0, frame(B, A, etype=0x8100, payload=2), 0)])
seeds["empty-engine"] = bytes([0])
seeds["empty"] = b""
# MAC table sequences: ops [op, address, port, time step]; op % 10: 0-3 learn, 4 age, 5 flush,
# 6 static, 7 remove, 8-9 check. Address bit 7: multicast, bit 6: VLAN 100.
seeds["table-learn-move-age"] = table([[0, 1, 0, 0], [0, 2, 1, 0], [0, 1, 2, 1], [8, 0, 0, 0], [4, 255, 0, 255], [8, 0, 0, 0]])
seeds["table-fill-evict"] = table([[0, i, i % 3, 1] for i in range(40)] + [[9, 0, 0, 0]], max_learned=8)
seeds["table-static"] = table([[6, 5, 1, 0], [0, 5, 2, 0], [6, 0x85, 1, 0], [6, 6, 1, 0], [6, 7, 1, 0], [6, 8, 1, 0], [7, 5, 0, 0], [5, 3, 0, 0], [8, 0, 0, 0]])
seeds["table-flush"] = table([[0, i, i % 4, 0] for i in range(20)] + [[5, 0, 2, 0], [5, 1, 0, 0], [8, 0, 0, 0]], max_learned=32)
seeds["table-vlans"] = table([[0, 9, 1, 0], [0, 0x49, 2, 0], [7, 9, 0, 0], [8, 0, 0, 0]])
seeds["table-age-never"] = table([[0, 1, 1, 255], [4, 255, 0, 255], [8, 0, 0, 0]], ageing=0)
seeds["table-one-slot"] = table([[0, i, 0, 0] for i in range(10)] + [[6, 3, 1, 0], [8, 0, 0, 0]], max_learned=1, max_static=1)
# BPDUs (Sources/SpanningTree): the whole input is read as LLC + BPDU and as a whole frame.
BRIDGE = struct.pack(">H", 0x8000) + bytes.fromhex("020000000100")
SUPERIOR = struct.pack(">H", 0x1000) + bytes.fromhex("020000000200")
def bpdu(kind, flags=0, root=BRIDGE, cost=0, bridge=BRIDGE, port=0x8001, times=(0, 20, 2, 15), version=None):
    version = (2 if kind == 2 else 0) if version is None else version
    if kind == 0x80:
        return struct.pack(">HBB", 0, version, kind)
    out = struct.pack(">HBBB", 0, version, kind, flags) + root + struct.pack(">I", cost) + bridge + struct.pack(">H", port)
    out += b"".join(struct.pack(">H", t * 256) for t in times)
    return out + (b"\x00" if kind == 2 else b"")
LLC = bytes([0x42, 0x42, 0x03])
def stp_frame(body):
    f = STP + A + struct.pack(">H", len(LLC) + len(body)) + LLC + body
    return f + bytes(max(0, 60 - len(f)))
seeds["bpdu-config"] = LLC + bpdu(0, flags=0x81)
seeds["bpdu-rst-proposal"] = LLC + bpdu(2, flags=0x0E, root=SUPERIOR, bridge=SUPERIOR)
seeds["bpdu-rst-agreement"] = LLC + bpdu(2, flags=0x78, root=SUPERIOR, cost=20000)
seeds["bpdu-tcn"] = LLC + bpdu(0x80)
seeds["bpdu-mstp"] = LLC + bpdu(2, flags=0x3C, version=3)[:-1] + bytes([64]) + bytes(64)
seeds["bpdu-aged"] = LLC + bpdu(2, flags=0x0C, root=SUPERIOR, times=(20, 20, 2, 15))
seeds["bpdu-absurd-timers"] = LLC + bpdu(0, times=(0, 255, 0, 0))
seeds["bpdu-truncated"] = LLC + bpdu(2)[:30]
seeds["bpdu-frame-rst"] = stp_frame(bpdu(2, flags=0x0E, root=SUPERIOR, bridge=SUPERIOR))
seeds["bpdu-frame-config-tc"] = stp_frame(bpdu(0, flags=0x01))

# Multicast snooping (Fuzz/MulticastFuzz.swift): IGMP/MLD frames captured from Linux 6.18 (a kernel
# bridge querier and a host joining in IGMPv2/v3, MLDv1/v2; see Tests/MulticastSnoopingTests/CapturedFrames.swift).
seeds["mcast-igmpv2-general-query"] = bytes.fromhex("01005e00000122fbc9f6bd43080046c00020000040000102041700000000e0000001940400001164ee9b00000000")
seeds["mcast-igmpv2-leave"] = bytes.fromhex("01005e000002fe274544644c080046c000200000400001023701c6120702e0000002940400001700f8fbef010102")
seeds["mcast-igmpv2-report"] = bytes.fromhex("01005e010102fe274544644c080046c000200000400001022700c6120702ef010102940400001600f9fbef010102")
seeds["mcast-igmpv3-group-query"] = bytes.fromhex("01005e01010312a3357c4e9e080046c00024000040000102f40f00000000ef01010394040000110afc73ef010103027d0000")
seeds["mcast-igmpv3-report-to-ex"] = bytes.fromhex("01005e000016920d3076bb62080046c0002800004000010236e5c6120702e0000016940400002200e9f90000000104000000ef010103")
seeds["mcast-igmpv3-report-to-in"] = bytes.fromhex("01005e000016920d3076bb62080046c0002800004000010236e5c6120702e0000016940400002200eaf90000000103000000ef010103")
seeds["mcast-mldv1-done"] = bytes.fromhex("333300000002fe274544644c86dd6000000000200001fe80000000000000fc2745fffe44644cff0200000000000000000000000000023a000502000001008400da5d00000000ff0e0000000000000000000000010001")
seeds["mcast-mldv1-general-query"] = bytes.fromhex("33330000000122fbc9f6bd4386dd6000000000200001fe8000000000000020fbc9fffef6bd43ff0200000000000000000000000000013a000502000000008200b1e22710000000000000000000000000000000000000")
seeds["mcast-mldv1-report"] = bytes.fromhex("333300010001fe274544644c86dd6000000000200001fe80000000000000fc2745fffe44644cff0e00000000000000000000000100013a000502000001008300db5100000000ff0e0000000000000000000000010001")
seeds["mcast-mldv2-group-query"] = bytes.fromhex("33330001000212a3357c4e9e86dd6000000000240001fe8000000000000010a335fffe7c4e9eff0e00000000000000000000000100023a000502000000008200e6e103e80000ff0e0000000000000000000000010002027d0000")
seeds["mcast-mldv2-report-to-ex"] = bytes.fromhex("333300000016fe274544644c86dd6000000000240001fe80000000000000fc2745fffe44644cff0200000000000000000000000000163a000502000001008f00cb430000000104000000ff0e0000000000000000000000010002")
# The hostile inputs of MulticastTests.hostileIGMP: a report cut after the IGMP type/code/checksum,
# one with a wrong checksum, and a report for another group as sent 100,000 times.
seeds["mcast-igmpv2-report-truncated"] = seeds["mcast-igmpv2-report"][:14 + 24 + 4]
seeds["mcast-igmpv2-report-bad-checksum"] = seeds["mcast-igmpv2-report"][:14 + 24 + 2] + b"\x55\x55" + seeds["mcast-igmpv2-report"][14 + 24 + 4:]
seeds["mcast-igmpv2-report-flood-group"] = seeds["mcast-igmpv2-report"][:14 + 24 + 4] + bytes([239, 100, 1, 2])

os.makedirs(OUT, exist_ok=True)
for name in os.listdir(OUT):
    os.remove(os.path.join(OUT, name))
for name, data in sorted(seeds.items()):
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(data)
print(f"{len(seeds)} seeds in {OUT}")
