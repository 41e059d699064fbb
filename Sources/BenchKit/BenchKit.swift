// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 the swbridge authors. Licensed under the Apache License, Version 2.0: see LICENSE.

// BenchKit: the measurement core of `swbridge bench`. Test frames (TestFrame.swift), a paced
// traffic generator and a sequence-checking receiver over any `Port` (TrafficGenerator.swift,
// TrafficReceiver.swift, with their AF_PACKET loops in AFPacketTraffic.swift), a latency
// histogram, the RFC 2544 NDR/PDR throughput search and a simulated bridge of known capacity
// that lets all of it be tested in code. The CLI and the lab build on these pieces; nothing
// here creates namespaces or prints.
