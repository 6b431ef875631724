#!/usr/bin/env bash
# Installs CuraEngine 4.13 (Debian package cura-engine) and unpacks Cura's printer definitions
# (fdmprinter.def.json, from the `cura` package, downloaded but not installed) into
# ~/.cache/amsp/cura. Idempotent. Prints the definitions directory.
set -euo pipefail
dest=${CURA_DEFS:-$HOME/.cache/amsp/cura}
if ! command -v CuraEngine >/dev/null; then
  { apt-get update -qq && apt-get install -y -qq cura-engine; } >/dev/null
fi
if [ ! -f "$dest/definitions/fdmprinter.def.json" ]; then
  tmp=$(mktemp -d)
  (cd "$tmp" && apt-get download cura >/dev/null 2>&1 && dpkg-deb -x cura_*.deb x)
  mkdir -p "$dest"
  cp -r "$tmp/x/usr/share/cura/resources/definitions" "$tmp/x/usr/share/cura/resources/extruders" "$dest/"
  rm -rf "$tmp"
fi
echo "$dest"
