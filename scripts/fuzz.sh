#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Copyright (c) 2026 the swbridge authors. Licensed under the Apache License, Version 2.0: see LICENSE.

# Builds the libFuzzer target over the frame parser, the forwarding engine, the MAC table,
# the rtnetlink message parser and multicast snooping (IGMP/MLD parsers, snooper, MDB table)
# (Fuzz/FuzzEntry.swift + Tests/IntegrationTests/Support/HardeningFuzzHarness.swift + the
# BridgeCore sources, one module, swiftc -sanitize=fuzzer,address) and runs it on the seed
# corpus for a bounded time. Exits non-zero on a crash (an ASan report, a trap or a broken
# invariant); crash inputs are saved in .build-fuzz/artifacts/.
#
#   scripts/fuzz.sh                 # 60 s
#   FUZZ_SECONDS=600 scripts/fuzz.sh
#   scripts/fuzz.sh --replay FILE   # run one input (a crash-* artifact) and exit
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${FUZZ_SECONDS:-60}"
out=.build-fuzz
mkdir -p "$out/artifacts" "$out/corpus"
bin="$out/fuzz-engine"

sources=(Sources/BridgeCore/*.swift Sources/PacketIO/NetlinkMessage.swift Sources/PacketIO/NetlinkLinkInfo.swift
         Sources/PacketIO/NetlinkVXLANMessages.swift
         Sources/SpanningTree/*.swift
         Sources/MulticastSnooping/*.swift Fuzz/MulticastFuzz.swift
         Tests/IntegrationTests/Support/HardeningFuzzHarness.swift Fuzz/FuzzEntry.swift)
newest=$(ls -t "${sources[@]}" scripts/fuzz.sh | head -1)
if [[ ! -x "$bin" || "$newest" -nt "$bin" ]]; then
    echo "fuzz: building $bin"
    # -parse-as-library: no top-level code, libFuzzer provides main. The linker's
    # "Cannot export local symbol __asan_*" warnings are harmless.
    swiftc -sanitize=fuzzer,address -parse-as-library -O -g \
        -swift-version 6 -enable-upcoming-feature ExistentialAny \
        -D SWBRIDGE_FUZZ_SINGLE_MODULE -module-name FuzzEngine \
        "${sources[@]}" -o "$bin" 2> >(grep -v "Cannot export local symbol" >&2)
fi

if [[ "${1:-}" == "--replay" ]]; then
    exec "$bin" "${@:2}"
fi

log="$out/last-run.log"
echo "fuzz: running $bin for ${seconds} s (seed corpus Fuzz/corpus, new inputs in $out/corpus)"
set +e
"$bin" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=4096 \
    -artifact_prefix="$out/artifacts/" -print_final_stats=1 \
    "$out/corpus" Fuzz/corpus > "$log" 2>&1
status=$?
set -e
execs=$(grep -E "^stat::number_of_executed_units" "$log" | awk "{print \$2}" || true)
rate=$(grep -E "^stat::average_exec_per_sec" "$log" | awk "{print \$2}" || true)
cov=$(grep -aE "DONE" "$log" | tail -1 | sed -E "s/.*cov: ([0-9]+).*/\1/" || true)
echo "fuzz: exit status $status, ${execs:-?} executions (${rate:-?}/s), coverage ${cov:-?} edges, corpus $(ls "$out/corpus" | wc -l) + $(ls Fuzz/corpus | wc -l) seeds"
if [[ $status -ne 0 ]]; then
    echo "fuzz: FAILED; the last lines of $log:" >&2
    tail -40 "$log" >&2
    ls -1 "$out/artifacts" >&2
    exit 1
fi
