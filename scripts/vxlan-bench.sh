#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Copyright (c) 2026 the swbridge authors. Licensed under the Apache License, Version 2.0: see LICENSE.

# VXLAN across two "machines", through swbridge and through Linux bridges, side by side.
#
#   h0 ── m0 (bridge + vx0) ── 198.19.0.1 ── kernel bridge (underlay ns) ── 198.19.0.2 ── m1 (bridge + vx0) ── h1
#
# Each machine is a network namespace; the bridge on both is either swbridge (`swbridge run`
# + `swbridge vxlan add`) or a Linux bridge with an `ip link add ... type vxlan` device. Hosts
# have MTU 1450 (the overlay's). Measured per bridge, in one run (compare only within it):
#   - TCP: iperf3, 1 stream, default offloads, h0 -> h1 for $SECONDS s (Gbit/s, retransmits);
#   - 64-byte frames: trafgen sends $FRAMES known-unicast frames from h0 to h1 as fast as it
#     can; delivered = h1's eth0 rx_packets delta (frames/s over the sender's time, and loss).
# Everything lives in namespaces with a per-run prefix and is deleted on exit, also on failure
# or Ctrl-C; every command is bounded by `timeout`.
#
#   sudo scripts/vxlan-bench.sh                      # .build/release/swbridge if built, else debug
#   SWBRIDGE=/path/to/swbridge SECONDS_TCP=10 FRAMES=2000000 sudo -E scripts/vxlan-bench.sh
set -euo pipefail
cd "$(dirname "$0")/.."
[[ $EUID -eq 0 ]] || { echo "vxlan-bench: needs root (namespaces, AF_PACKET)" >&2; exit 1; }
for tool in ip bridge iperf3 trafgen python3 timeout; do
    command -v "$tool" > /dev/null || { echo "vxlan-bench: needs $tool (trafgen: apt-get install netsniff-ng)" >&2; exit 1; }
done
swbridge="${SWBRIDGE:-}"
if [[ -z "$swbridge" ]]; then
    for c in .build/release/swbridge .build/debug/swbridge; do [[ -x $c ]] && { swbridge=$PWD/$c; break; }; done
fi
[[ -x "$swbridge" ]] || { echo "vxlan-bench: no swbridge binary (swift build -c release)" >&2; exit 1; }
seconds_tcp="${SECONDS_TCP:-5}"
frames="${FRAMES:-1000000}"
p="vxb$(printf '%04x' $((RANDOM % 65536)))"
pids=()

cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2> /dev/null || true; done
    for pid in "${pids[@]}"; do timeout 5 tail --pid="$pid" -f /dev/null 2> /dev/null || kill -9 "$pid" 2> /dev/null || true; done
    pids=()
    for ns in ul m0 m1 h0 h1; do ip netns del "$p-$ns" 2> /dev/null || true; done
    rm -f "/run/swbridge/${p}m0.sock" "/run/swbridge/${p}m1.sock" "/tmp/$p-"*
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The two machines, their hosts and the underlay, without bridges yet.
topology() {
    for ns in ul m0 m1 h0 h1; do
        ip netns add "$p-$ns"
        ip -n "$p-$ns" link set lo up
        ip netns exec "$p-$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1
    done
    ip -n "$p-ul" link add "${p}ul" type bridge
    ip -n "$p-ul" link set "${p}ul" up
    for m in 0 1; do
        ip -n "$p-m$m" link add "${p}u$m" type veth peer name "${p}v$m" netns "$p-ul"
        ip -n "$p-ul" link set "${p}v$m" master "${p}ul" up
        ip -n "$p-m$m" addr add "198.19.0.$((m + 1))/24" dev "${p}u$m"
        ip -n "$p-m$m" link set "${p}u$m" up
        ip -n "$p-h$m" link add eth0 type veth peer name "${p}p$m" netns "$p-m$m"
        ip -n "$p-h$m" addr add "198.18.0.$((m + 1))/24" dev eth0
        ip -n "$p-h$m" link set eth0 mtu 1450 up
        ip -n "$p-m$m" link set "${p}p$m" up
    done
}

bridges_swbridge() {
    for m in 0 1; do
        ip netns exec "$p-m$m" "$swbridge" run --name "${p}m$m" --port "${p}p$m" > "/tmp/$p-m$m.log" 2>&1 &
        pids+=($!)
    done
    for m in 0 1; do
        local ok=0
        for _ in $(seq 300); do
            if ip netns exec "$p-m$m" timeout 5 "$swbridge" stats --name "${p}m$m" > /dev/null 2>&1; then ok=1; break; fi
            sleep 0.1  # a poll interval, bounded by the loop
        done
        [[ $ok == 1 ]] || { echo "swbridge on m$m did not answer: $(cat "/tmp/$p-m$m.log")" >&2; exit 1; }
        ip netns exec "$p-m$m" timeout 20 "$swbridge" vxlan add dev vx0 vni 42 local "198.19.0.$((m + 1))" \
            remote "198.19.0.$((2 - m))" --name "${p}m$m" > /dev/null
    done
}

bridges_linux() {
    for m in 0 1; do
        ip -n "$p-m$m" link add "${p}br" type bridge
        ip -n "$p-m$m" link add vx0 type vxlan id 42 local "198.19.0.$((m + 1))" dstport 4789
        bridge -n "$p-m$m" fdb append 00:00:00:00:00:00 dev vx0 dst "198.19.0.$((2 - m))"
        ip -n "$p-m$m" link set vx0 master "${p}br" up
        ip -n "$p-m$m" link set "${p}p$m" master "${p}br" up
        ip -n "$p-m$m" link set "${p}br" up
    done
}

# Prints "tcp_gbit retransmits frames_sent frames_delivered seconds".
measure() {
    timeout 20 ip netns exec "$p-h0" ping -c 3 -i 0.2 -W 2 -q 198.18.0.2 > /dev/null  # both ways learned
    timeout 20 ip netns exec "$p-h1" ping -c 1 -W 2 -q 198.18.0.1 > /dev/null
    ip netns exec "$p-h1" timeout $((seconds_tcp + 30)) iperf3 -s -1 -B 198.18.0.2 > /dev/null 2>&1 &
    local server=$!
    local up=0
    for _ in $(seq 100); do
        ip netns exec "$p-h1" ss -Hltn 'sport = :5201' | grep -q . && { up=1; break; }
        sleep 0.05  # a poll interval, bounded by the loop
    done
    [[ $up == 1 ]] || { echo "iperf3 server did not listen" >&2; exit 1; }
    timeout $((seconds_tcp + 20)) ip netns exec "$p-h0" iperf3 -c 198.18.0.2 -t "$seconds_tcp" -J > "/tmp/$p-iperf.json"
    wait "$server" || true
    local tcp
    tcp=$(python3 -c 'import json,sys; e=json.load(open(sys.argv[1]))["end"]; print("%.2f %d" % (e["sum_received"]["bits_per_second"]/1e9, e["sum_sent"].get("retransmits", 0)))' "/tmp/$p-iperf.json")

    local dst src
    dst=$(ip netns exec "$p-h1" cat /sys/class/net/eth0/address)
    src=$(ip netns exec "$p-h0" cat /sys/class/net/eth0/address)
    hex() { echo "0x${1//:/, 0x}"; }
    # 14-byte header + 46 bytes: a 60-byte frame, 64 on the wire with the FCS.
    echo "{ $(hex "$dst"), $(hex "$src"), 0x88, 0xb5, fill(0x00, 46) }" > "/tmp/$p-trafgen.cfg"
    local before after start end
    before=$(ip netns exec "$p-h1" cat /sys/class/net/eth0/statistics/rx_packets)
    start=$(date +%s.%N)
    timeout 120 ip netns exec "$p-h0" trafgen -o eth0 -i "/tmp/$p-trafgen.cfg" -n "$frames" --no-sock-mem -Q -q > /dev/null 2>&1
    end=$(date +%s.%N)
    # Frames still in flight through a bridge's queue: wait until the counter stops moving.
    local last=-1
    for _ in $(seq 50); do
        after=$(ip netns exec "$p-h1" cat /sys/class/net/eth0/statistics/rx_packets)
        [[ $after == "$last" ]] && break
        last=$after
        sleep 0.1  # a poll interval, bounded by the loop
    done
    echo "$tcp $frames $((after - before)) $(python3 -c "print('%.3f' % ($end - $start))")"
}

declare -A result
drops_report=""
for bridge in linux swbridge; do
    topology
    "bridges_$bridge"
    result[$bridge]=$(measure)
    if [[ $bridge == swbridge ]]; then
        # Where frames were lost: each bridge's kernel ring drops and transmit drops, per port.
        for m in 0 1; do
            ip netns exec "$p-m$m" timeout 10 "$swbridge" stats --json --name "${p}m$m" | python3 -c '
import json, sys
r = json.load(sys.stdin)
print("  swbridge m%s: " % sys.argv[1] + ", ".join("%s ring_drops %s tx_dropped %s" % (p["name"], p.get("ringDrops"), p["txDropped"]) for p in r["ports"]))' "$m" > "/tmp/$p-drops.txt"
            drops_report+="$(cat "/tmp/$p-drops.txt")"$'\n'
        done
    fi
    cleanup
done

printf '\nVXLAN, two machines (namespaces), host MTU 1450, %s; %d frames of 64 B; TCP %d s, 1 stream, default offloads\n\n' \
    "$(nproc) CPUs" "$frames" "$seconds_tcp"
printf '%-10s %10s %12s %14s %14s %8s\n' bridge "TCP Gbit/s" retransmits "64B sent/s" "64B deliv./s" loss
for bridge in linux swbridge; do
    read -r gbit retr sent delivered secs <<< "${result[$bridge]}"
    python3 - "$bridge" "$gbit" "$retr" "$sent" "$delivered" "$secs" << 'EOF'
import sys
b, gbit, retr, sent, deliv, secs = sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), float(sys.argv[6])
loss = 100.0 * max(0, sent - deliv) / sent if sent else 0
print("%-10s %10.2f %12d %14.0f %14.0f %7.1f%%" % (b, gbit, retr, sent / secs, deliv / secs, loss))
EOF
done
printf '\nwhere swbridge lost frames (whole run):\n%s' "$drops_report"
