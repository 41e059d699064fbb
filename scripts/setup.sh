#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Copyright (c) 2026 the swbridge authors. Licensed under the Apache License, Version 2.0: see LICENSE.

# Installs what swbridge needs from Debian (idempotent), builds it in release mode and installs
# its man page and shell completions (bash, zsh, fish), both generated from the command line's
# own definition by swift-argument-parser, so they never drift from `swbridge --help`.
# Usage: scripts/setup.sh [--debug] [--no-docs]
#   --debug    debug build of everything (what scripts/test.sh uses); installs no docs
#   --no-docs  release build only, no man page or completions
# PREFIX (default /usr/local) says where the docs go, re-installed identically on every run:
#   $PREFIX/share/man/man1/swbridge.1                            man swbridge
#   $PREFIX/share/bash-completion/completions/swbridge           bash-completion 2 finds it there
#   $PREFIX/share/zsh/site-functions/_swbridge                   in Debian zsh's fpath
#   $PREFIX/share/fish/vendor_completions.d/swbridge.fish        fish's vendor directory
# The binary itself stays in .build/release/swbridge (completions apply to `swbridge` on PATH).
set -euo pipefail
cd "$(dirname "$0")/.."
# openvswitch-switch: the spanning-tree tests run OVS's userspace datapath with RSTP as a peer.
need=(iproute2 iputils-ping ethtool iperf3 tcpdump procps libpcap-dev curl tmux openvswitch-switch)
missing=()
for p in "${need[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}" >&2
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  # No package may start a system-wide daemon (openvswitch-switch would): the tests start
  # their own, inside their namespaces. policy-rc.d says so to invoke-rc.d while installing.
  placed_policy=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
    $SUDO chmod +x /usr/sbin/policy-rc.d
    placed_policy=1
  fi
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
  [ "$placed_policy" -eq 0 ] || $SUDO rm -f /usr/sbin/policy-rc.d
fi
# The metrics tests parse /metrics with a real Prometheus text-format parser (PyPI's).
if ! python3 -c 'import prometheus_client.parser' 2>/dev/null; then
  echo "setup: installing prometheus-client (pip)" >&2
  python3 -m pip install -q prometheus-client
fi
debug=0; docs=1
for arg in "$@"; do
  case "$arg" in
    --debug) debug=1; docs=0 ;;
    --no-docs) docs=0 ;;
    *) echo "usage: scripts/setup.sh [--debug] [--no-docs]" >&2; exit 64 ;;
  esac
done
if [ "$debug" -eq 1 ]; then
  swift build
else
  swift build -c release --product swbridge
fi
[ "$docs" -eq 1 ] || exit 0

# The man page: swift-argument-parser's generate-manual tool (what its `generate-manual` package
# plugin runs) applied to the binary just built. Built as a product on its own because the plugin
# would first build every product in release mode, the benchmarks included.
prefix="${PREFIX:-/usr/local}"
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
swift build -c release --product generate-manual
bin="$(swift build -c release --show-bin-path)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
"$bin/generate-manual" "$bin/swbridge" --authors "the swbridge authors" --output-directory "$work"
[ -s "$work/swbridge.1" ] || { echo "setup: generate-manual wrote no swbridge.1" >&2; exit 1; }
for shell in bash zsh fish; do
  "$bin/swbridge" --generate-completion-script "$shell" > "$work/completion.$shell"
  [ -s "$work/completion.$shell" ] || { echo "setup: no $shell completion script" >&2; exit 1; }
done
$SUDO install -D -m 644 "$work/swbridge.1" "$prefix/share/man/man1/swbridge.1"
$SUDO install -D -m 644 "$work/completion.bash" "$prefix/share/bash-completion/completions/swbridge"
$SUDO install -D -m 644 "$work/completion.zsh" "$prefix/share/zsh/site-functions/_swbridge"
$SUDO install -D -m 644 "$work/completion.fish" "$prefix/share/fish/vendor_completions.d/swbridge.fish"
echo "setup: installed the swbridge(1) man page and bash, zsh and fish completions under $prefix/share" >&2
