#!/usr/bin/env bash
# Runs every test: installs what the tests need (idempotent), builds, runs the whole suite
# (integration tests need root: they skip with a message otherwise, or fail when
# SWBRIDGE_REQUIRE_PRIVILEGED_TESTS=1), then the core and control-plane tests again under
# ThreadSanitizer, and checks that the benchmark suite still compiles.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --debug
swift build --target BridgeCoreBenchmarks
swift test
swift test --sanitize=thread --scratch-path .build-tsan --filter 'BridgeCoreTests|BridgeServiceTests'
FUZZ_SECONDS="${FUZZ_SECONDS:-60}" scripts/fuzz.sh
