#!/usr/bin/env bash
# Runs every test: installs what the tests need (idempotent), builds, runs the unit tests in
# parallel and the integration tests one at a time (they build network namespaces, time things
# and launch many processes: run side by side on 2 cores they disturb each other's figures, and
# Foundation's Process.run crashed when two of them launched at once), then the core and
# control-plane tests again under ThreadSanitizer, checks that the benchmark suite still
# compiles, and fuzzes the parser and engine for a bounded time. Integration tests need root:
# they skip with a message otherwise, or fail when SWBRIDGE_REQUIRE_PRIVILEGED_TESTS=1.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --debug
swift build --target BridgeCoreBenchmarks
swift build --build-tests
swift test --skip-build --skip IntegrationTests
swift test --skip-build --filter IntegrationTests --no-parallel
swift test --sanitize=thread --scratch-path .build-tsan --filter 'BridgeCoreTests|BridgeServiceTests'
FUZZ_SECONDS="${FUZZ_SECONDS:-60}" scripts/fuzz.sh
