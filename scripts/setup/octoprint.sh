#!/usr/bin/env bash
# Installs, or reuses, the cached virtualenv holding a real OctoPrint (PyPI `octoprint` 1.11.x)
# that the OctoPrint driver test (node/tests/printer_octoprint.rs) starts on 127.0.0.1.
#
# Idempotent: a venv whose install finished (marker file) and whose OctoPrint is 1.11.x is reused
# in well under a second; a half-made venv (an interrupted install) is removed and made again.
# Concurrent runs wait on a lock file. Needs network access to PyPI on first run only, and
# python3 with venv support plus a C compiler (one dependency builds C code).
#
#   OCTOPRINT_VENV   virtualenv to create/reuse (default: ${XDG_CACHE_HOME:-~/.cache}/amsp/octoprint-venv)
#   OCTOPRINT_SPEC   pip requirement            (default: octoprint>=1.11,<1.12)
#   PYTHON           interpreter for the venv   (default: python3)
set -euo pipefail

venv="${OCTOPRINT_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/amsp/octoprint-venv}"
spec="${OCTOPRINT_SPEC:-octoprint>=1.11,<1.12}"
py="${PYTHON:-python3}"
marker="$venv/.amsp-installed"
# The version line the driver is written against; OctoPrint's REST API is stable within it.
want_series="1.11."

installed_version() {
  "$venv/bin/python" -c 'import importlib.metadata as m; print(m.version("octoprint"))' 2>/dev/null
}

is_ready() {
  [ -f "$marker" ] && [ -x "$venv/bin/octoprint" ] || return 1
  case "$(installed_version)" in
    "$want_series"*) return 0 ;;
    *) return 1 ;;
  esac
}

mkdir -p "$(dirname "$venv")"
exec 9>"$venv.lock"
flock 9

if is_ready; then
  echo "octoprint: reusing $venv (octoprint $(installed_version))"
  exit 0
fi

# Debian splits venv support (ensurepip) into python3-venv, and one of OctoPrint's
# dependencies builds C code; install what is missing when we can.
if ! command -v "$py" >/dev/null || ! "$py" -c 'import ensurepip, venv' 2>/dev/null ||
  ! command -v cc >/dev/null; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null; then
    echo "octoprint: installing python3, python3-venv, python3-dev and a C compiler with apt-get"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3 python3-venv python3-dev build-essential >/dev/null
  else
    echo "octoprint setup: need $py with venv/ensurepip and a C compiler;" \
      "install python3 python3-venv python3-dev build-essential (Debian) and retry" >&2
    exit 1
  fi
fi

echo "octoprint: installing '$spec' into $venv (first run: about 30 s, about 200 MB)"
rm -rf "$venv"
"$py" -m venv "$venv"
if ! "$venv/bin/pip" install --quiet --disable-pip-version-check "$spec"; then
  rm -rf "$venv"
  echo "octoprint setup: pip could not install '$spec' (network to PyPI? C compiler?)" >&2
  exit 1
fi
version="$(installed_version)"
case "$version" in
  "$want_series"*) ;;
  *)
    echo "octoprint setup: installed octoprint '$version', expected ${want_series}x" >&2
    exit 1
    ;;
esac
touch "$marker"
echo "octoprint: installed octoprint $version in $venv"
