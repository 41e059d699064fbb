#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Copyright (c) 2026 the swbridge authors. Licensed under the Apache License, Version 2.0: see LICENSE.

# Renders a page written by `swbridge bench --html` with headless Chromium (Debian's `chromium`,
# installed here if missing) to a PNG, and checks the PNG is a real picture.
# Usage: scripts/html-screenshot.sh REPORT.html OUT.png [WIDTHxHEIGHT]   (default 1400x2200)
# Chromium runs with networking off (--proxy-server pointing nowhere, no extensions): a page that
# tried to fetch something would render without it, and the page fetches nothing anyway.
set -euo pipefail
[ $# -ge 2 ] || { echo "usage: scripts/html-screenshot.sh REPORT.html OUT.png [WIDTHxHEIGHT]" >&2; exit 64; }
page="$(realpath "$1")"; out="$2"; size="${3:-1400x2200}"
[ -s "$page" ] || { echo "html-screenshot: no page at $1" >&2; exit 1; }
browser="$(command -v chromium || command -v chromium-browser || true)"
if [ -z "$browser" ]; then
  echo "html-screenshot: installing chromium (apt)" >&2
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
  browser="$(command -v chromium)"
fi
profile="$(mktemp -d)"
trap 'rm -rf "$profile"' EXIT
out_abs="$(realpath -m "$out")"
# --no-sandbox: root in a container has no user namespaces for Chromium's sandbox.
timeout 120 "$browser" --headless --no-sandbox --disable-gpu --hide-scrollbars --no-first-run \
  --disable-extensions --proxy-server="127.0.0.1:9" --user-data-dir="$profile" \
  --window-size="${size/x/,}" --screenshot="$out_abs" "file://$page" >/dev/null 2>"$profile/log" || {
  echo "html-screenshot: chromium failed:" >&2; cat "$profile/log" >&2; exit 1; }
# A PNG: its 8-byte signature, and more than a blank page's few hundred bytes.
sig="$(head -c 8 "$out_abs" | od -An -tx1 | tr -d ' \n')"
[ "$sig" = "89504e470d0a1a0a" ] || { echo "html-screenshot: $out is not a PNG" >&2; exit 1; }
bytes="$(stat -c %s "$out_abs")"
[ "$bytes" -gt 20000 ] || { echo "html-screenshot: $out is only $bytes bytes (a blank page?)" >&2; exit 1; }
echo "html-screenshot: $out ($bytes bytes, $size)"
