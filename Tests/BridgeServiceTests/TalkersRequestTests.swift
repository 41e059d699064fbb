// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 the swbridge authors. Licensed under the Apache License, Version 2.0: see LICENSE.

// The `talkers` control request: its wire form both ways and the handler's bounds.

import BridgeControl
import BridgeCore
@testable import BridgeService
import Testing

@Suite struct TalkersRequestTests {
    @Test func roundTripsOnTheWire() throws {
        let line = try ControlProtocol.requestLine(.talkers(limit: 7))
        #expect(String(decoding: line, as: UTF8.self) == #"{"request":{"command":"talkers","limit":7},"version":1}"# + "\n")
        #expect(try ControlProtocol.decodeRequest(Array(line.dropLast())) == .talkers(limit: 7))
        let report = TalkersReport(windowSeconds: 5, sampleEvery: 64, talkers: [
            TalkerRow(mac: "02:00:00:00:00:01", dev: "veth1", framesPerSecond: 1200, bitsPerSecond: 614_400),
        ])
        let response = try ControlProtocol.responseLine(.success(.talkers(report)))
        #expect(try ControlProtocol.decodeResponse(Array(response.dropLast())) == .success(.talkers(report)))
    }

    @Test func handlerAnswersAndBoundsTheLimit() {
        let handler = ControlHandler(bridge: FakeControlledBridge())
        let now = Timestamp(milliseconds: 1_000)
        #expect(handler.handle(.talkers(limit: 5), now: now) == .success(.talkers(TalkersReport(windowSeconds: 0, sampleEvery: 0, talkers: []))))
        #expect(!handler.handle(.talkers(limit: 0), now: now).ok)
        #expect(!handler.handle(.talkers(limit: 100_000), now: now).ok)
    }
}
