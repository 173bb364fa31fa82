#!/usr/bin/env bash
# The docker-compose topology as plain processes on this machine (no Docker needed):
# redis-server, device workers of one Duplex device (xPU + Logic-PIM), a scheduler, a gateway
# and Prometheus (Debian's package); with LLMEMU_LOCAL_EDGE=1 also a 4-node edge cluster
# (4 workers, its own scheduler and gateway).
#
#   scripts/up-local.sh up            start everything, wait until each answers
#   scripts/up-local.sh down          stop everything
#   scripts/up-local.sh start NAME    start one service (e.g. after `kill NAME`)
#   scripts/up-local.sh stop NAME     SIGTERM one service;  kill NAME: SIGKILL
#   scripts/up-local.sh ports         print NAME=PORT lines
#
# Settings (environment): LLMEMU_RUN_DIR (pids, logs, data; default out/local),
# LLMEMU_BASE_PORT (default 18000; services take BASE+0..BASE+12), LLMEMU_SPEED (default 1),
# LLMEMU_SCRAPE_INTERVAL (default 5s), PYTHON (default .venv/bin/python),
# LLMEMU_DUPLEX_SCENARIO / LLMEMU_EDGE_SCENARIO, LLMEMU_SET (a `key=value` scenario override
# for both replicas), LLMEMU_DUPLEX_SET / LLMEMU_EDGE_SET (one for that replica's services
# only, e.g. LLMEMU_EDGE_SET=policy.memory_window=4, which the Duplex replica would refuse).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
RUN="${LLMEMU_RUN_DIR:-$ROOT/out/local}"
BASE="${LLMEMU_BASE_PORT:-18000}"
PY="${PYTHON:-$ROOT/.venv/bin/python}"
SPEED="${LLMEMU_SPEED:-1}"
DUPLEX="${LLMEMU_DUPLEX_SCENARIO:-$ROOT/examples/serve-duplex-llama3-8b.yaml}"
EDGE="${LLMEMU_EDGE_SCENARIO:-$ROOT/examples/serve-edge4-llama2-7b.yaml}"
overrides() {  # LLMEMU_SET and the replica's own override, if set: a JSON list, shell-quoted
  printf %q "$("$PY" -c 'import json, sys; print(json.dumps([a for a in sys.argv[1:] if a]))' "${LLMEMU_SET:-}" "$1")"
}
mkdir -p "$RUN"

declare -A PORT=(
  [redis]=$BASE [gateway]=$((BASE + 1)) [scheduler]=$((BASE + 2))
  [worker-xpu]=$((BASE + 3)) [worker-pim]=$((BASE + 4)) [prometheus]=$((BASE + 5))
  [gateway-edge]=$((BASE + 6)) [scheduler-edge]=$((BASE + 7))
  [edge-node-0]=$((BASE + 8)) [edge-node-1]=$((BASE + 9))
  [edge-node-2]=$((BASE + 10)) [edge-node-3]=$((BASE + 11))
)
CORE=(redis worker-xpu worker-pim scheduler gateway prometheus)
EDGE_SET=(edge-node-0 edge-node-1 edge-node-2 edge-node-3 scheduler-edge gateway-edge)
REDIS_URL="redis://127.0.0.1:${PORT[redis]}/0"

services() {
  printf '%s\n' "${CORE[@]}"
  if [ "${LLMEMU_LOCAL_EDGE:-0}" = 1 ]; then printf '%s\n' "${EDGE_SET[@]}"; fi
}

prometheus_config() {
  local targets_gw="'127.0.0.1:${PORT[gateway]}'" targets_s="'127.0.0.1:${PORT[scheduler]}'"
  local targets_w="'127.0.0.1:${PORT[worker-xpu]}', '127.0.0.1:${PORT[worker-pim]}'"
  if [ "${LLMEMU_LOCAL_EDGE:-0}" = 1 ]; then
    targets_gw+=", '127.0.0.1:${PORT[gateway-edge]}'"
    targets_s+=", '127.0.0.1:${PORT[scheduler-edge]}'"
    for n in 0 1 2 3; do targets_w+=", '127.0.0.1:${PORT[edge-node-$n]}'"; done
  fi
  # The jobs of dashboards/prometheus.yml, with this machine's addresses.
  cat >"$RUN/prometheus.yml" <<EOF
global: {scrape_interval: ${LLMEMU_SCRAPE_INTERVAL:-5s}, evaluation_interval: ${LLMEMU_SCRAPE_INTERVAL:-5s}}
rule_files: ['$ROOT/dashboards/rules.yml']
scrape_configs:
  - {job_name: gateway, static_configs: [{targets: [$targets_gw]}]}
  - {job_name: scheduler, static_configs: [{targets: [$targets_s]}]}
  - {job_name: device-workers, static_configs: [{targets: [$targets_w]}]}
EOF
}

command_of() {
  local name=$1 port=${PORT[$1]}
  case $name in
    redis) echo "redis-server --port $port --bind 127.0.0.1 --save '' --appendonly no --dir $RUN" ;;
    prometheus) prometheus_config
      echo "prometheus --config.file=$RUN/prometheus.yml --storage.tsdb.path=$RUN/prometheus-data --web.listen-address=127.0.0.1:$port" ;;
    worker-xpu) echo "env LLMEMU_WORKER_PROCESSOR=h100 $(common WORKER "$DUPLEX" "$port") $PY $ROOT/device-workers/main.py" ;;
    worker-pim) echo "env LLMEMU_WORKER_PROCESSOR=logic-pim $(common WORKER "$DUPLEX" "$port") $PY $ROOT/device-workers/main.py" ;;
    edge-node-*) echo "env LLMEMU_WORKER_PROCESSOR=cpu LLMEMU_WORKER_NODE=${name#edge-node-} $(common WORKER "$EDGE" "$port") $PY $ROOT/device-workers/main.py" ;;
    scheduler) echo "env LLMEMU_SCHEDULER_REPLICA=duplex-0 LLMEMU_SCHEDULER_REDIS_URL=$REDIS_URL LLMEMU_SCHEDULER_WORKERS='[\"h100=http://127.0.0.1:${PORT[worker-xpu]}\", \"logic-pim=http://127.0.0.1:${PORT[worker-pim]}\"]' $(common SCHEDULER "$DUPLEX" "$port") $PY $ROOT/scheduler/main.py" ;;
    scheduler-edge) local ws=""; for n in 0 1 2 3; do ws+="\"cpu=http://127.0.0.1:${PORT[edge-node-$n]}\","; done
      echo "env LLMEMU_SCHEDULER_REPLICA=edge-0 LLMEMU_SCHEDULER_REDIS_URL=$REDIS_URL LLMEMU_SCHEDULER_WORKERS='[${ws%,}]' $(common SCHEDULER "$EDGE" "$port") $PY $ROOT/scheduler/main.py" ;;
    gateway) echo "env LLMEMU_GATEWAY_GATEWAY_ID=gw-duplex LLMEMU_GATEWAY_REDIS_URL=$REDIS_URL $(common GATEWAY "$DUPLEX" "$port") $PY $ROOT/gateway/main.py" ;;
    gateway-edge) echo "env LLMEMU_GATEWAY_GATEWAY_ID=gw-edge LLMEMU_GATEWAY_REDIS_URL=$REDIS_URL $(common GATEWAY "$EDGE" "$port") $PY $ROOT/gateway/main.py" ;;
    *) echo "unknown service $name; one of: ${!PORT[*]}" >&2; return 2 ;;
  esac
}

common() {  # PREFIX SCENARIO PORT -> the settings every llmemu service takes
  local own=${LLMEMU_DUPLEX_SET:-}
  [ "$2" = "$EDGE" ] && own=${LLMEMU_EDGE_SET:-}
  echo "LLMEMU_$1_SCENARIO=$2 LLMEMU_$1_PORT=$3 LLMEMU_$1_SPEED=$SPEED LLMEMU_$1_OVERRIDES=$(overrides "$own")"
}

start() {  # appends to the service's log: a crashed run's traceback survives its restart
  local name=$1 cmd
  cmd=$(command_of "$name")
  echo "--- $(date -u +%Y-%m-%dT%H:%M:%SZ) start $name" >>"$RUN/$name.log"
  (cd "$ROOT" && exec bash -c "exec $cmd" >>"$RUN/$name.log" 2>&1) &
  echo $! >"$RUN/$name.pid"
}

signal() {  # SIGNAL NAME
  local pidfile="$RUN/$2.pid"
  if [ -f "$pidfile" ]; then
    kill "-$1" "$(cat "$pidfile")" 2>/dev/null || true
    if [ "$1" != STOP ] && [ "$1" != CONT ]; then rm -f "$pidfile"; fi
  fi
}

wait_ready() {  # NAME: until its port answers (20 s at most)
  local port=${PORT[$1]} path=/health
  [ "$1" = prometheus ] && path=/-/ready
  for _ in $(seq 200); do
    if [ "$1" = redis ]; then
      redis-cli -p "$port" ping >/dev/null 2>&1 && return 0
    elif curl -sf "http://127.0.0.1:$port$path" >/dev/null 2>&1; then
      return 0
    fi
    sleep 0.1
  done
  echo "$1 did not become ready; see $RUN/$1.log" >&2
  return 1
}

case "${1:-}" in
  up) for s in $(services); do start "$s"; done
      for s in $(services); do wait_ready "$s"; done ;;
  down) for s in $(services | tac); do signal TERM "$s"; done ;;
  start) start "$2"; wait_ready "$2" ;;
  stop) signal TERM "$2" ;;
  kill) signal KILL "$2" ;;
  ports) for s in "${!PORT[@]}"; do echo "$s=${PORT[$s]}"; done ;;
  *) sed -n '2,18p' "$0"; exit 2 ;;
esac
