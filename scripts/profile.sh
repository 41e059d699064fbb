#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Copyright (c) 2026 the swbridge authors. Licensed under the Apache License, Version 2.0: see LICENSE.

# Profiles swbridge's forwarding loop under 64-byte UDP load (iperf3 -u -l 18 from host 1 to
# host 2 through swbridge, in namespaces this script creates and removes):
#   perf record (software cpu-clock, call graphs) of the swbridge process -> top symbols
#   valgrind --tool=callgrind of a second run at a lower rate -> instructions per forwarded frame
# Usage: scripts/profile.sh [seconds]   (root; after scripts/setup.sh; needs perf and valgrind)
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-5}
BIN=${SWBRIDGE:-$(swift build -c release --show-bin-path)/swbridge}
OUT=${OUT:-/tmp/swbridge-profile}
mkdir -p "$OUT"
P="swbp$(printf '%04x' $((RANDOM % 65536)))"
PID=""
cleanup() {
  set +e
  [ -n "$PID" ] && kill -TERM "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
  for n in h1 h2 br; do ip netns del "$P-$n" 2>/dev/null; done
}
trap cleanup EXIT INT TERM
ip netns add "$P-br"
for h in 1 2; do
  ip netns add "$P-h$h"
  ip netns exec "$P-h$h" sysctl -qw net.ipv6.conf.all.disable_ipv6=1
  ip -n "$P-h$h" link add eth0 type veth peer name "$P-p$h" netns "$P-br"
  ip -n "$P-h$h" addr add "198.18.0.$h/24" dev eth0
  ip -n "$P-h$h" link set eth0 up
  ip -n "$P-br" link set "$P-p$h" up
done
ip netns exec "$P-br" sysctl -qw net.ipv6.conf.all.disable_ipv6=1

run_load() {  # $1 = seconds, $2 = iperf3 bandwidth
  ip netns exec "$P-h2" iperf3 -s -p 5299 -D -I "$OUT/iperf.pid"
  sleep 0.3
  ip netns exec "$P-h1" iperf3 -c 198.18.0.2 -p 5299 -u -l 18 -b "$2" -t "$1" >/dev/null 2>&1 || true
  kill "$(cat "$OUT/iperf.pid")" 2>/dev/null || true
}
stats_frames() { "$BIN" stats --name "$P" --json | python3 -c 'import json,sys; r=json.load(sys.stdin); print(sum(p["rxFrames"] for p in r["ports"]))'; }

# 1. perf: the release binary at full load.
ip netns exec "$P-br" "$BIN" run --name "$P" --port "$P-p1" --port "$P-p2" --log-level warning &
PID=$!
sleep 1
ip netns exec "$P-h1" ping -c 1 -W 1 198.18.0.2 >/dev/null
if command -v perf >/dev/null; then
  (sleep 1; perf record -q -e cpu-clock -g -p "$PID" -o "$OUT/perf.data" -- sleep "$((SECS - 2))" >/dev/null 2>&1) &
  REC=$!
  run_load "$SECS" 0
  wait $REC || true
  perf report -i "$OUT/perf.data" --no-children --sort symbol --stdio 2>/dev/null | grep -E '^ +[0-9]' | head -25 > "$OUT/perf-top.txt" || true  # head closes the pipe early
  echo "== perf: top symbols of the swbridge process (cpu-clock samples)"; cat "$OUT/perf-top.txt"
fi
echo "== frames received by the bridge: $(stats_frames)"
kill -TERM "$PID"; wait "$PID" 2>/dev/null || true; PID=""

# 2. callgrind: instructions per frame, at a rate valgrind keeps up with.
if command -v valgrind >/dev/null; then
  ip netns exec "$P-br" valgrind --tool=callgrind --callgrind-out-file="$OUT/callgrind.out" \
    "$BIN" run --name "$P" --port "$P-p1" --port "$P-p2" --log-level warning --keep-privileges >/dev/null 2>"$OUT/valgrind.log" &
  PID=$!
  for _ in $(seq 100); do [ -S "/run/swbridge/$P.sock" ] && break; sleep 0.2; done
  ip netns exec "$P-h1" ping -c 1 -W 2 198.18.0.2 >/dev/null || true
  before=$(stats_frames)
  run_load "$SECS" 20M
  after=$(stats_frames)
  kill -TERM "$PID"; wait "$PID" 2>/dev/null || true; PID=""
  frames=$((after - before))
  callgrind_annotate "$OUT/callgrind.out" 2>/dev/null | head -40 > "$OUT/callgrind-top.txt" || true
  total=$(grep -m1 -E "PROGRAM TOTALS" "$OUT/callgrind-top.txt" | tr -d ',' | awk '{print $1}')
  echo "== callgrind: $total instructions in all, $frames frames forwarded under load"
  [ "$frames" -gt 0 ] && echo "   (includes start-up and idle; see $OUT/callgrind-top.txt for the forwarding loop's share)"
  head -40 "$OUT/callgrind-top.txt"
fi
