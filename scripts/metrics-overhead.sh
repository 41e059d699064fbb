#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Copyright (c) 2026 the swbridge authors. Licensed under the Apache License, Version 2.0: see LICENSE.

# What a Prometheus scrape costs forwarding: one `swbridge bench` run measures, side by side and
# interleaved, two swbridges that differ only in --metrics. Both run the same scraper (a Python
# HTTP/1.1 keep-alive client, as Prometheus is, asking for /metrics every 100 ms for as long as
# its bridge runs and at most 10 minutes), so the scraper's own CPU is in both figures; against
# the bridge without --metrics its requests are refused at once. The ratio of the two is the
# cost of serving the scrapes. Only a ratio from one run means anything (figures move ±30%
# between runs on this VM).
# Usage: scripts/metrics-overhead.sh [BINARY] [bench options...]   (default: .build/release/swbridge,
#        `--quick --trials frames --rounds 5`; needs root, python3 and what `swbridge bench` needs)
set -euo pipefail
cd "$(dirname "$0")/.."
bin="${1:-.build/release/swbridge}"; shift || true
[ -x "$bin" ] || { echo "metrics-overhead: no $bin (swift build -c release --product swbridge)" >&2; exit 1; }
command -v python3 >/dev/null || { echo "metrics-overhead: python3 is missing" >&2; exit 1; }
bin="$(realpath "$bin")"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
ports=""
for i in $(seq 1 3); do ports="$ports --port {port$i}"; done
cat > "$out/scrape.py" <<'PY'
import http.client, os, sys, time
pid, out = int(sys.argv[1]), sys.argv[2]
ok, conn = 0, None
for _ in range(6000):  # bounded: 10 minutes at most
    try:
        os.kill(pid, 0)
    except OSError:
        break  # the bridge stopped
    try:
        if conn is None:
            conn = http.client.HTTPConnection("127.0.0.1", 9477, timeout=1)
        conn.request("GET", "/metrics")
        r = conn.getresponse()
        r.read()
        ok += r.status == 200
    except Exception:
        conn = None
    time.sleep(0.1)  # the scrape interval
with open(out, "a") as f:
    f.write(f"{ok}\n")
PY
# `exec` makes the bridge the process bench stops ($$ is its PID in the scraper's arguments);
# the scraper is started from a subshell that exits at once, so it is not the bridge's child
# (bench follows a single child down to find the process it measures and stops).
bridge() { echo "cmd:(python3 $out/scrape.py \$\$ $out/scrapes-$1 &); exec $bin run --name {name} --log-level warning$ports $2"; }
opts=("$@")
[ ${#opts[@]} -gt 0 ] || opts=(--quick --trials frames --rounds 5)
"$bin" bench --bridge "$(bridge plain "")" --bridge "$(bridge metrics "--metrics 127.0.0.1:9477")" "${opts[@]}" --output "$out/report.json" | tee "$out/table.txt"
python3 - "$out/report.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
base, scraped = r["summaries"][0]["metrics"], r["summaries"][1]["metrics"]
print("\nwith --metrics / without, both scraped every 100 ms (1.00: no cost; figures move +-30% between runs, compare within this one):")
# (bench measures a cmd: bridge's own CPU only for swbridge specs: no CPU figure here)
for key in ["frames64_delivered_fps", "ndr64_fps", "pdr64_fps", "b2b64_frames", "tcp1_gbps", "tcpN_gbps"]:
    if key in base and key in scraped and base[key]:
        print(f"  {key}: {base[key]:.4g} -> {scraped[key]:.4g}  ratio {scraped[key] / base[key]:.3f}")
PY
# Each round's scraper appends how many scrapes answered 200 once its bridge stopped.
for _ in $(seq 1 50); do [ -s "$out/scrapes-metrics" ] && break; sleep 0.1; done
echo "scrapes answered per round: with --metrics: $(tr '\n' ' ' < "$out/scrapes-metrics" 2>/dev/null || echo none)"\
  "without: $(tr '\n' ' ' < "$out/scrapes-plain" 2>/dev/null || echo none)"
