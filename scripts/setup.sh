#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Copyright (c) 2026 the swbridge authors. Licensed under the Apache License, Version 2.0: see LICENSE.

# Installs what swbridge needs from Debian (idempotent) and builds it in release mode.
# Usage: scripts/setup.sh [--debug]
set -euo pipefail
cd "$(dirname "$0")/.."
need=(iproute2 iputils-ping ethtool iperf3 tcpdump procps libpcap-dev)
missing=()
for p in "${need[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}" >&2
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi
if [ "${1:-}" = "--debug" ]; then
  swift build
else
  swift build -c release --product swbridge
fi
