#!/usr/bin/env bash
# Installs, or reuses, the cached virtualenv holding schemathesis (PyPI), the property-based
# HTTP tester that the OpenAPI contract test (tests/tests/api_schemathesis.rs) runs against a
# live amspd from its `/v1/openapi.json`. The last line printed is `bin=PATH` of the program.
#
# Idempotent: a venv whose install finished (marker file) and whose schemathesis is 4.x is
# reused in well under a second; a half-made venv (an interrupted install) is removed and made
# again. Concurrent runs wait on a lock file. Needs network access to PyPI on first run only,
# and python3 with venv support. An install that cannot be done is reported on stderr and
# prints no `bin=` line, but exits 0: the contract test then says `skipped: <reason>`, and
# scripts/test.sh goes on with every other test.
#
#   SCHEMATHESIS_VENV   virtualenv to create/reuse (default: ${XDG_CACHE_HOME:-~/.cache}/amsp/schemathesis-venv)
#   SCHEMATHESIS_SPEC   pip requirement            (default: schemathesis>=4,<5)
#   PYTHON              interpreter for the venv   (default: python3)
set -euo pipefail

venv="${SCHEMATHESIS_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/amsp/schemathesis-venv}"
spec="${SCHEMATHESIS_SPEC:-schemathesis>=4,<5}"
py="${PYTHON:-python3}"
marker="$venv/.amsp-installed"
# The major version the test's command line is written against.
want_series="4."

installed_version() {
  "$venv/bin/python" -c 'import importlib.metadata as m; print(m.version("schemathesis"))' 2>/dev/null
}

is_ready() {
  [ -f "$marker" ] && [ -x "$venv/bin/schemathesis" ] || return 1
  case "$(installed_version)" in
    "$want_series"*) return 0 ;;
    *) return 1 ;;
  esac
}

# Reports why schemathesis cannot be had, and stops without failing the caller.
unavailable() {
  echo "schemathesis setup: $*" >&2
  exit 0
}

mkdir -p "$(dirname "$venv")" || unavailable "cannot create $(dirname "$venv")"
exec 9>"$venv.lock" || unavailable "cannot open the lock file $venv.lock"
flock 9

if is_ready; then
  echo "schemathesis: reusing $venv (schemathesis $(installed_version))"
  # The last line names the program, for the test that runs it.
  echo "bin=$venv/bin/schemathesis"
  exit 0
fi

# Debian splits venv support (ensurepip) into python3-venv; install it when we can.
if ! command -v "$py" >/dev/null || ! "$py" -c 'import ensurepip, venv' 2>/dev/null; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null; then
    echo "schemathesis: installing python3 and python3-venv with apt-get"
    apt-get update -qq || unavailable "apt-get update failed"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3 python3-venv >/dev/null ||
      unavailable "apt-get could not install python3 python3-venv"
  else
    unavailable "need $py with venv/ensurepip; install python3 python3-venv (Debian) and retry"
  fi
fi

echo "schemathesis: installing '$spec' into $venv (first run: about 30 s)"
rm -rf "$venv"
"$py" -m venv "$venv" || unavailable "$py could not create a venv in $venv"
if ! "$venv/bin/pip" install --quiet --disable-pip-version-check "$spec"; then
  rm -rf "$venv"
  unavailable "pip could not install '$spec' (network to PyPI?)"
fi
version="$(installed_version)"
case "$version" in
  "$want_series"*) ;;
  *)
    unavailable "installed schemathesis '$version', expected ${want_series}x"
    ;;
esac
touch "$marker"
echo "schemathesis: installed schemathesis $version in $venv"
echo "bin=$venv/bin/schemathesis"
