#!/usr/bin/env bash
# Installs the system packages hasidecar's lab tests, benchmarks and demo use
# (nginx, keepalived, iproute2, curl, and FRRouting as the BGP router of the
# BGP tests), when they are missing, as root on Debian. `make test`, `make demo`, `make bench` and .ci/run all use it.
# Installing Debian's keepalived and nginx starts no VRRP: keepalived has no
# /etc/keepalived/keepalived.conf, and we never run either in the root namespace.
set -euo pipefail
need=()
command -v ip >/dev/null 2>&1 || need+=(iproute2)
command -v keepalived >/dev/null 2>&1 || [ -x /usr/sbin/keepalived ] || need+=(keepalived)
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || need+=(nginx)
command -v curl >/dev/null 2>&1 || need+=(curl)
[ -e /etc/ssl/certs/ca-certificates.crt ] || need+=(ca-certificates)
{ [ -x /usr/lib/frr/bgpd ] && command -v vtysh >/dev/null 2>&1; } || need+=(frr)
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "hasidecar: missing ${need[*]}; install them (Debian: apt-get install ${need[*]}) or run as root on Debian" >&2
  exit 0 # the lab tests then skip with a message; under CI=true they fail
fi
echo "installing ${need[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# Debian's nginx package would start nginx in the root namespace; the lab runs
# its own nginx inside namespaces and needs none outside: policy-rc.d forbids
# starting services during the install. One that was there already is left
# exactly as it was.
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
  chmod +x /usr/sbin/policy-rc.d
  trap 'rm -f /usr/sbin/policy-rc.d' EXIT
fi
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
# FRR's service would start zebra in the root namespace at the next boot; the
# tests run their own routers inside namespaces only.
if [[ " ${need[*]} " == *" frr "* ]] && command -v systemctl >/dev/null 2>&1; then
  systemctl disable frr.service >/dev/null 2>&1 || true
fi
