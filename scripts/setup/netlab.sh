#!/usr/bin/env bash
# The NAT lab (tests/src/netlab.rs, tests/tests/nat.rs) builds network namespaces with `ip`
# (iproute2) and nftables routers. It needs root; as another user the tests skip and say why,
# so there is nothing to install.
set -euo pipefail
[ "$(id -u)" = 0 ] || exit 0
need=()
command -v ip >/dev/null 2>&1 || need+=(iproute2)
command -v nft >/dev/null 2>&1 || need+=(nftables)
[ ${#need[@]} = 0 ] && exit 0
if command -v apt-get >/dev/null 2>&1; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
else
  echo "the NAT lab needs ${need[*]}; install them with your package manager" >&2
  exit 1
fi
