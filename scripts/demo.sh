#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Copyright (c) 2026 the swbridge authors. Licensed under the Apache License, Version 2.0: see LICENSE.

# The classic scenario: three host namespaces, each joined by a veth pair to a bridge
# namespace where swbridge bridges the three ports. Shows pings between every pair of hosts,
# then `fdb show`, `link show` and `stats`, and tears everything down (also on failure or
# Ctrl-C). Traffic stays inside the namespaces this script creates (198.18.0.0/24).
# Usage: scripts/demo.sh [extra swbridge run options, e.g. --threads 2]
#        (after scripts/setup.sh; SWBRIDGE=path overrides the binary)
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${SWBRIDGE:-$(swift build -c release --show-bin-path)/swbridge}
[ -x "$BIN" ] || { echo "demo: $BIN not found: run scripts/setup.sh first" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || { echo "demo: needs root (network namespaces, AF_PACKET)" >&2; exit 1; }

P="swbd$(printf '%04x' $((RANDOM % 65536)))"   # unique per run; interface names stay <= 15 chars
BR="$P-br"
HOSTS=(1 2 3)
PID=""
cleanup() {
  set +e
  if [ -n "$PID" ] && kill -0 "$PID" 2>/dev/null; then kill -TERM "$PID"; wait "$PID" 2>/dev/null; fi
  for h in "${HOSTS[@]}"; do ip netns del "$P-h$h" 2>/dev/null; done
  ip netns del "$BR" 2>/dev/null
}
trap cleanup EXIT INT TERM

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "topology: namespaces $BR and $P-h1..3, veth pairs, addresses 198.18.0.1-3/24"
ip netns add "$BR"
ip netns exec "$BR" sysctl -qw net.ipv6.conf.all.disable_ipv6=1
ip -n "$BR" link set lo up
for h in "${HOSTS[@]}"; do
  ns="$P-h$h"
  ip netns add "$ns"
  ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1
  ip -n "$ns" link add eth0 type veth peer name "$P-p$h" netns "$BR"
  ip -n "$ns" addr add "198.18.0.$h/24" dev eth0
  ip -n "$ns" link set lo up
  ip -n "$ns" link set eth0 up
  ip -n "$BR" link set "$P-p$h" up
done

step "swbridge run --name $P --port $P-p1 --port $P-p2 --port $P-p3"
ip netns exec "$BR" "$BIN" run --name "$P" --port "$P-p1" --port "$P-p2" --port "$P-p3" "$@" &
PID=$!
for _ in $(seq 100); do [ -S "/run/swbridge/$P.sock" ] && break; sleep 0.1; done
[ -S "/run/swbridge/$P.sock" ] || { echo "demo: swbridge did not start" >&2; exit 1; }

for pair in "1 2" "1 3" "2 3"; do
  a=${pair% *}; b=${pair#* }
  step "ping host $a -> host $b"
  ip netns exec "$P-h$a" ping -c 3 -i 0.2 -W 2 "198.18.0.$b"
done

step "swbridge fdb show --name $P"
"$BIN" fdb show --name "$P"
step "swbridge link show --name $P"
"$BIN" link show --name "$P"
step "swbridge stats --name $P"
"$BIN" stats --name "$P"

step "SIGTERM: clean stop, final statistics"
kill -TERM "$PID"; wait "$PID"; PID=""
echo "demo: done"
