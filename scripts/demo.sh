#!/usr/bin/env bash
# make demo: two nodes, each with nginx and hasidecar, in network namespaces.
# They elect a master; a client is served through the virtual IP; nginx is
# killed on the master; the VIP moves and the client is served by the other
# node (the outage it saw is printed); nginx comes back and the master
# preempts back; finally the master stops gracefully. Everything lives in
# namespaces named hsdemo<pid>* with addresses from 198.51.100.0/24 and is
# removed at the end, also on Ctrl-C or error. Runs without a terminal too.
set -euo pipefail
cd "$(dirname "$0")/.."

BIN=${BIN:-bin}
BIN=$(cd "$BIN" 2>/dev/null && pwd) || { echo "no $BIN directory: run make build" >&2; exit 1; } # absolute: plugin_dir names it
P=hsdemo$$
VIP=198.51.100.100
WORK=$(mktemp -d /tmp/hasidecar-demo.XXXXXX)
chmod 755 "$WORK"
PIDS=()

if [ -t 1 ]; then B=$'\033[1m'; N=$'\033[0m'; else B=; N=; fi
say() { printf '\n%s==> %s%s\n' "$B" "$*" "$N"; }
info() { printf '    %s\n' "$*"; }

cleanup() {
  set +e
  [ -n "${CLIENT:-}" ] && kill "$CLIENT" 2>/dev/null
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null; done
  for pid in "${PIDS[@]}"; do
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null
  done
  for ns in ${P}1 ${P}2 ${P}c ${P}sw; do
    for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null; done
    ip netns del "$ns" 2>/dev/null
  done
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ "$(id -u)" != 0 ]; then echo "make demo needs root (network namespaces)" >&2; exit 1; fi
[ -x "$BIN/hasidecar" ] || { echo "no $BIN/hasidecar: run make build" >&2; exit 1; }
command -v nginx >/dev/null || { echo "nginx is not installed (apt-get install nginx)" >&2; exit 1; }
command -v curl >/dev/null || { echo "curl is not installed (apt-get install curl)" >&2; exit 1; }

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
info "node1 198.51.100.1, node2 198.51.100.2, client 198.51.100.200; virtual IP $VIP"

start_nginx() { # node number
  local d=$WORK/nginx$1
  if [ ! -f "$d/nginx.conf" ]; then
    mkdir -p "$d/www" "$d/tmp"; chmod -R 755 "$d"
    echo "served by node$1" > "$d/www/index.html"
    cat > "$d/nginx.conf" <<EOF
daemon on;
user www-data;
worker_processes 1;
pid $d/nginx.pid;
error_log $d/error.log warn;
events { worker_connections 256; }
http {
  access_log off;
  client_body_temp_path $d/tmp; proxy_temp_path $d/tmp; fastcgi_temp_path $d/tmp;
  uwsgi_temp_path $d/tmp; scgi_temp_path $d/tmp;
  default_type text/plain;
  server {
    listen 80;
    root $d/www;
    location = /healthz { return 200 "ok\n"; }
    location / { try_files /index.html =404; }
  }
}
EOF
  fi
  ip netns exec $P$1 nginx -c "$d/nginx.conf" -e "$d/error.log"
}
kill_nginx() { # "nginx dies": SIGKILL its master and workers
  local master; master=$(cat "$WORK/nginx$1/nginx.pid")
  kill -KILL "$master" $(pgrep -P "$master") 2>/dev/null || true
  rm -f "$WORK/nginx$1/nginx.pid"
}

config() { # node number, priority
  cat > "$WORK/node$1.hcl" <<EOF
node_name  = "node$1"
plugin_dir = "$BIN"
log_format = "console"
control { socket = "$WORK/node$1.sock" }
state_dir = "$WORK/state$1"

check "nginx" {
  plugin   = "httpget"
  interval = "100ms"
  timeout  = "80ms"
  rise     = 2
  fall     = 2
  config { url = "http://127.0.0.1/healthz" }
}

vrrp_instance "VI_1" {
  interface         = "eth0"
  virtual_router_id = 51
  priority          = $2
  advert_interval   = "100ms"
  virtual_ips       = ["$VIP/24"]
  track_check "nginx" { weight = -60 }
}
EOF
}

say "Starting nginx and hasidecar on both nodes: priority 150 on node1, 100 on node2;"
info "each checks its local nginx every 100 ms (httpget); a failing check takes 60 off the priority"
for n in 1 2; do
  start_nginx $n
  config $n $([ $n = 1 ] && echo 150 || echo 100)
  ip netns exec $P$n "$BIN/hasidecar" validate --config "$WORK/node$n.hcl" | sed 's/^/    /'
done
for n in 1 2; do
  ip netns exec $P$n "$BIN/hasidecar" run --config "$WORK/node$n.hcl" >"$WORK/node$n.log" 2>&1 &
  PIDS+=($!)
  [ $n = 1 ] && sleep 1 # node1 first, so the first election is not a race
done

holder() {
  for n in 1 2; do
    ip -n $P$n -o addr show dev eth0 | grep -q " $VIP/" && printf 'node%s ' "$n"
  done
  return 0
}
wait_holder() { # expected, timeout in tenths of a second
  for _ in $(seq "$2"); do [ "$(holder)" = "$1 " ] && return 0; sleep 0.1; done
  echo "expected the VIP on $1 only; it is on: $(holder)" >&2; return 1
}
status() { "$BIN/hasidecar" status --config "$WORK/$1.hcl" | sed 's/^/    /'; }

wait_holder node1 100
say "node1 won the election and owns the virtual IP"
status node1

# The client fetches http://VIP/ every 10 ms and logs "ms-timestamp body",
# or "ms-timestamp -" for a request that failed (no answer within 200 ms).
ip netns exec ${P}c bash -c "while :; do
    if b=\$(curl -s -m 0.2 http://$VIP/ 2>/dev/null); then echo \"\$(date +%s%3N) \$b\"; else echo \"\$(date +%s%3N) -\"; fi
    sleep 0.01
  done" > "$WORK/client.log" 2>/dev/null &
CLIENT=$!
sleep 2

gap() { # longest gap in ms between successful answers since line $1 of the client log
  tail -n +"$1" "$WORK/client.log" | awk '$2 == "-" {next} n++ && $1-prev>max {max=$1-prev} {prev=$1} END {print max+0}'
}
failed() { # failed requests since line $1 of the client log
  tail -n +"$1" "$WORK/client.log" | awk '$2 == "-" {n++} END {print n+0}'
}
# On a busy machine the client's own loop (a curl process every 10 ms) is
# slow too: its longest gap with nothing happening is the floor every gap
# below is read against.
BASELINE=$(gap 1)
answer() { # the last page the client got
  awk '$2 != "-" {b = $0} END {sub(/^[0-9]+ /, "", b); print b}' "$WORK/client.log"
}
outcome() { # what the client saw since line $1
  echo "$(answer); longest gap between answers $(gap "$1") ms (with nothing happening: $BASELINE ms), failed requests $(failed "$1")"
}
info "client (a request every 10 ms): $(answer); longest gap between answers with nothing happening: $BASELINE ms"

say "nginx dies on node1 (SIGKILL to its master and workers)"
from=$(wc -l < "$WORK/client.log")
start=$(date +%s%3N)
kill_nginx 1
wait_holder node2 100
sleep 1
# As the client saw it: from the kill to its first page from node2.
took=$(tail -n +"$from" "$WORK/client.log" | awk -v t0="$start" '$2 != "-" && /node2/ {print $1 - t0; exit}')
info "the client got its first page from node2 ${took:-?} ms after nginx died on node1"
info "client: $(outcome "$from")"
status node1

say "nginx comes back on node1: its check passes twice (rise 2), priority returns to 150, it preempts"
from=$(wc -l < "$WORK/client.log")
start_nginx 1
wait_holder node1 100
sleep 1
info "client: $(outcome "$from")"
status node1

say "Planned maintenance on node1: it hands the VIP to node2 without a restart or a failed request"
from=$(wc -l < "$WORK/client.log")
"$BIN/hasidecar" maintenance on --socket "$WORK/node1.sock" --reason "demo: kernel update" | sed 's/^/    /'
wait_holder node2 100
sleep 1
info "client: $(outcome "$from")"
status node1
from=$(wc -l < "$WORK/client.log")
"$BIN/hasidecar" maintenance off --socket "$WORK/node1.sock" | sed 's/^/    /'
wait_holder node1 100
sleep 1
info "maintenance off: node1 is back; client: $(outcome "$from")"

say "node1 stops gracefully (SIGTERM): it resigns with priority 0 and node2 takes over at once"
from=$(wc -l < "$WORK/client.log")
kill -TERM "${PIDS[0]}"
wait_holder node2 100
sleep 1
info "client: $(outcome "$from")"

say "Done. Removing the namespaces and everything started in them."
