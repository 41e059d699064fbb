#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Copyright (c) 2026 the swbridge authors. Licensed under the Apache License, Version 2.0: see LICENSE.

# What a Prometheus scrape costs forwarding: one `swbridge bench` run measures, side by side and
# interleaved, swbridge without metrics and swbridge with --metrics scraped every 100 ms (curl in
# the bridge's namespace, for as long as that bridge runs and at most 10 minutes), then prints
# the two frames/s figures and their ratio. Only a ratio from one run means anything (figures
# move ±30% between runs on this VM).
# Usage: scripts/metrics-overhead.sh [BINARY] [bench options...]   (default: .build/release/swbridge,
#        `--quick --trials tcp,frames`; needs root, curl, and what `swbridge bench` needs)
set -euo pipefail
cd "$(dirname "$0")/.."
bin="${1:-.build/release/swbridge}"; shift || true
[ -x "$bin" ] || { echo "metrics-overhead: no $bin (swift build -c release --product swbridge)" >&2; exit 1; }
command -v curl >/dev/null || { echo "metrics-overhead: curl is missing (scripts/setup.sh installs it)" >&2; exit 1; }
bin="$(realpath "$bin")"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
ports=""
for i in $(seq 1 3); do ports="$ports --port {port$i}"; done
# The scraper: a bounded loop (6000 x 100 ms) that ends with the bridge; `exec` makes the
# bridge the process bench stops, and $$ its PID inside the loop.
scraped="cmd:(i=0; while [ \$i -lt 6000 ] && kill -0 \$\$ 2>/dev/null; do curl -s -o /dev/null --max-time 1 http://127.0.0.1:9477/metrics; sleep 0.1; i=\$((i+1)); done) & exec $bin run --name {name} --log-level warning$ports --metrics 127.0.0.1:9477"
opts=("$@")
[ ${#opts[@]} -gt 0 ] || opts=(--quick --trials tcp,frames)
"$bin" bench --bridge swbridge --bridge "$scraped" "${opts[@]}" --output "$out/report.json" | tee "$out/table.txt"
python3 - "$out/report.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
base, scraped = r["summaries"][0]["metrics"], r["summaries"][1]["metrics"]
print("\nscraped every 100 ms / no metrics (1.00: no cost; figures move +-30% between runs, compare within this one):")
for key in ["frames64_delivered_fps", "ndr64_fps", "pdr64_fps", "tcp1_gbps", "tcpN_gbps", "bridge_cpu_us_per_frame64"]:
    if key in base and key in scraped and base[key]:
        print(f"  {key}: {base[key]:.4g} -> {scraped[key]:.4g}  ratio {scraped[key] / base[key]:.3f}")
PY
