#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Copyright (c) 2026 the swbridge authors. Licensed under the Apache License, Version 2.0: see LICENSE.

# The licence header convention, checked or applied. Every source file (Swift, C, headers,
# module maps, shell and Python scripts, .ci/run) starts with two comment lines, then a blank
# line, then the file's own opening comment:
#
#   // SPDX-License-Identifier: Apache-2.0
#   // Copyright (c) 2026 the swbridge authors. Licensed under the Apache License, Version 2.0: see LICENSE.
#
# (`#` instead of `//` in scripts.) The header goes after a `#!` line and after Package.swift's
# `// swift-tools-version` line, which must stay first. SPDX makes it machine-readable; the year
# is the year the convention was introduced and is not bumped per file.
#
# Usage: scripts/license-headers.sh --check [FILE...]   list files without it, exit 1 if any
#        scripts/license-headers.sh --add [FILE...]     add it where missing (idempotent)
# Without FILEs: every tracked file of the kinds above (git ls-files), Fuzz/corpus excluded.
set -euo pipefail
cd "$(dirname "$0")/.."

spdx="SPDX-License-Identifier: Apache-2.0"
notice="Copyright (c) 2026 the swbridge authors. Licensed under the Apache License, Version 2.0: see LICENSE."

mode="${1:-}"
case "$mode" in
  --check|--add) shift ;;
  *) echo "usage: $0 --check|--add [FILE...]" >&2; exit 64 ;;
esac

if [ $# -gt 0 ]; then
  files=("$@")
else
  mapfile -t files < <(git ls-files -- '*.swift' '*.c' '*.h' '*.modulemap' '*.sh' '*.py' '.ci/run' | grep -v '^Fuzz/corpus/')
fi

# The comment marker for a file: `#` for scripts, `//` otherwise.
marker() {
  case "$1" in
    *.sh|*.py|.ci/run) echo "#" ;;
    *) echo "//" ;;
  esac
}

# How many leading lines must stay first (a shebang, Package.swift's tools version).
keep_first() {
  local first
  first=$(head -n 1 "$1")
  case "$first" in
    '#!'*|'// swift-tools-version'*) echo 1 ;;
    *) echo 0 ;;
  esac
}

missing=0
for f in "${files[@]}"; do
  [ -f "$f" ] || { echo "license-headers: no file $f" >&2; exit 66; }
  # Present when the SPDX line is among the first lines (after a shebang or tools version).
  if head -n 4 "$f" | grep -qF "$spdx"; then continue; fi
  if [ "$mode" = --check ]; then
    echo "$f"
    missing=$((missing + 1))
    continue
  fi
  m=$(marker "$f")
  k=$(keep_first "$f")
  tmp=$(mktemp)
  {
    if [ "$k" -eq 1 ]; then head -n 1 "$f"; fi
    printf '%s %s\n%s %s\n' "$m" "$spdx" "$m" "$notice"
    # One blank line between the header and the file's own text, never two.
    rest=$(tail -n +"$((k + 1))" "$f" | sed '/./,$!d')
    if [ -n "$rest" ]; then printf '\n%s\n' "$rest"; fi
  } > "$tmp"
  chmod --reference="$f" "$tmp"
  mv "$tmp" "$f"
  echo "license-headers: added to $f"
done

if [ "$mode" = --check ] && [ "$missing" -gt 0 ]; then
  echo "license-headers: $missing file(s) without the Apache-2.0 header (scripts/license-headers.sh --add)" >&2
  exit 1
fi
exit 0
