#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Copyright (c) 2026 the swbridge authors. Licensed under the Apache License, Version 2.0: see LICENSE.

# Runs every test: installs what the tests need (idempotent), builds, runs the unit tests in
# parallel and the integration tests one at a time (they build network namespaces and launch
# many processes; one at a time, on 2 cores, their timing figures mean something, and only
# this pass asserts wall-clock bounds: SWBRIDGE_TIMING_BOUNDS=1; plain `swift test`, all in
# parallel, passes too, with those figures printed instead), then the core and
# control-plane tests again under ThreadSanitizer, checks that the benchmark suite still
# compiles, and fuzzes the parser and engine for a bounded time. Integration tests need root:
# they skip with a message otherwise, or fail when SWBRIDGE_REQUIRE_PRIVILEGED_TESTS=1.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --debug
swift build --target BridgeCoreBenchmarks
swift build --build-tests
swift test --skip-build --skip IntegrationTests
# The serial pass also asserts the wall-clock bounds (SIGTERM within 2 s, a paced rate within
# 10%, ...) that a parallel run on a loaded machine cannot promise: there they are printed only.
SWBRIDGE_TIMING_BOUNDS=1 swift test --skip-build --filter 'IntegrationTests|TrafficGeneratorTests|VethSmokeTests|PcapMirrorTests|ControlServerTests' --no-parallel
swift test --sanitize=thread --scratch-path .build-tsan --filter 'BridgeCoreTests|BridgeServiceTests|MulticastSnoopingTests|SpanningTreeTests'
FUZZ_SECONDS="${FUZZ_SECONDS:-60}" scripts/fuzz.sh
