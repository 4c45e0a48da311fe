#!/usr/bin/env bash
# make demo: two hasidecar nodes in network namespaces elect a master, a client
# reaches the virtual IP, the master drops off, the backup takes over, the
# master returns and takes the VIP back. Everything lives in namespaces named
# hsdemo* with addresses from 198.51.100.0/24 and is removed at the end, also
# on Ctrl-C or error. Runs without a terminal too.
set -euo pipefail
cd "$(dirname "$0")/.."

BIN=${BIN:-bin/hasidecar}
P=hsdemo$$
VIP=198.51.100.100
WORK=$(mktemp -d /tmp/hasidecar-demo.XXXXXX)
PIDS=()

say() { printf '\n\033[1m==> %s\033[0m\n' "$*" 2>/dev/null || printf '\n==> %s\n' "$*"; }
info() { printf '    %s\n' "$*"; }

cleanup() {
  set +e
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null; done
  for pid in "${PIDS[@]}"; do
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null
  done
  for ns in ${P}1 ${P}2 ${P}c ${P}sw; do ip netns del "$ns" 2>/dev/null; done
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ "$(id -u)" != 0 ]; then echo "make demo needs root (network namespaces)" >&2; exit 1; fi
[ -x "$BIN" ] || { echo "no $BIN: run make build" >&2; exit 1; }

say "Building a private segment: a switch namespace, two nodes and a client (198.51.100.0/24)"
ip netns add ${P}sw
ip -n ${P}sw link add br0 type bridge forward_delay 0 mcast_snooping 0
ip -n ${P}sw link set br0 up
for i in 1 2 c; do
  ns=$P$i
  ip netns add "$ns"
  ip -n ${P}sw link add p$i type veth peer name eth0 netns "$ns"
  ip -n ${P}sw link set p$i master br0 up
  a=$([ "$i" = c ] && echo 200 || echo "$i")
  ip -n "$ns" addr add 198.51.100.$a/24 dev eth0
  ip -n "$ns" link set eth0 up
  ip -n "$ns" link set lo up
done
info "node1 198.51.100.1, node2 198.51.100.2, client 198.51.100.200; VIP $VIP"

config() { # name priority
  cat > "$WORK/$1.hcl" <<EOF
node_name  = "$1"
log_format = "console"
control { socket = "$WORK/$1.sock" }
vrrp_instance "VI_1" {
  interface         = "eth0"
  virtual_router_id = 51
  priority          = $2
  version           = 3
  advert_interval   = "100ms"
  preempt           = true
  virtual_ips       = ["$VIP/24"]
}
EOF
}
config node1 150
config node2 100

say "Starting hasidecar on node1 (priority 150) and node2 (priority 100), VRRPv3, 100 ms adverts"
for n in 1 2; do
  ip netns exec $P$n "$BIN" run --config "$WORK/node$n.hcl" >"$WORK/node$n.log" 2>&1 &
  PIDS+=($!)
done

holder() {
  for n in 1 2; do
    ip -n $P$n -o addr show dev eth0 | grep -q " $VIP/" && printf 'node%s ' "$n"
  done
}
wait_holder() { # expected, timeout in tenths
  for _ in $(seq "$2"); do [ "$(holder)" = "$1 " ] && return 0; sleep 0.1; done
  echo "expected the VIP on $1 only, it is on: $(holder)" >&2; return 1
}
status() { "$BIN" status --config "$WORK/$1.hcl" | sed 's/^/    /'; }

wait_holder node1 100
say "node1 won the election and owns the VIP"
status node1
status node2


say "node1 drops off the network (its switch port goes down)"
start=$(date +%s%N)
ip -n ${P}sw link set p1 down
wait_holder node2 100
took=$(( ($(date +%s%N) - start) / 1000000 ))
info "node2 owns the VIP ${took} ms later (protocol floor: 3 × 100 ms + skew)"
status node2

say "node1 comes back: it has the higher priority and preempts"
start=$(date +%s%N)
ip -n ${P}sw link set p1 up
wait_holder node1 100
took=$(( ($(date +%s%N) - start) / 1000000 ))
info "node1 owns the VIP again ${took} ms later"
status node1

say "node1 stops gracefully (SIGTERM): it resigns with priority 0"
start=$(date +%s%N)
kill -TERM "${PIDS[0]}"
wait_holder node2 100
took=$(( ($(date +%s%N) - start) / 1000000 ))
info "node2 owns the VIP ${took} ms later (Skew_Time, not Master_Down_Interval)"

say "Done. Cleaning up the namespaces."
