#!/usr/bin/env bash
# `make bench`: wrk -t2 -c64 on GET /health against Ferry (release build, default logging: one access line
# per request) and against nginx (`return 200` with the same body, default access log), alternating rounds
# in one run so both see the same machine. Besides requests/s it reports each server's CPU time per request
# (from /proc), which is steadier than throughput on a shared machine. Prints Markdown for BENCHMARKS.md.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${BENCH_DURATION:-10}
ROUNDS=${BENCH_ROUNDS:-5}
CONNECTIONS=${BENCH_CONNECTIONS:-64}
work=$(mktemp -d)
ferry_pid=""
cleanup() {
  [ -n "$ferry_pid" ] && kill "$ferry_pid" 2>/dev/null && wait "$ferry_pid" 2>/dev/null || true
  [ -f "$work/nginx.pid" ] && kill "$(cat "$work/nginx.pid")" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

. scripts/bench-lib.sh

body=$(./.build/release/ferry version | awk '{print "{\"status\":\"ok\",\"version\":\"" $2 "\"}"}')
nginx_port=$(free_port)
cat > "$work/nginx.conf" <<CONF
worker_processes auto;
pid $work/nginx.pid;
error_log $work/nginx-error.log;
events { worker_connections 4096; }
http {
  access_log $work/nginx-access.log;
  server {
    listen 127.0.0.1:$nginx_port;
    location = /health { default_type application/json; return 200 '$body'; }
  }
}
CONF
nginx -c "$work/nginx.conf" -p "$work"

start_ferry

cpu_ticks() { # pids... -> utime+stime in clock ticks
  local total=0
  for pid in "$@"; do
    [ -r "/proc/$pid/stat" ] || continue
    total=$((total + $(awk '{print $14 + $15}' "/proc/$pid/stat")))
  done
  echo "$total"
}

run() { # name port pids... -> requests/s, p99, server CPU microseconds per request, errors
  local name=$1 port=$2
  shift 2
  local before after
  before=$(cpu_ticks "$@")
  wrk -t2 -c"$CONNECTIONS" -d"${DURATION}s" --latency "http://127.0.0.1:$port/health" > "$work/$name.out"
  after=$(cpu_ticks "$@")
  local rps p99 requests errors
  rps=$(awk '/^Requests\/sec:/ {print $2}' "$work/$name.out")
  p99=$(awk '$1 == "99%" {print $2}' "$work/$name.out")
  requests=$(awk '/requests in/ {print $1}' "$work/$name.out")
  errors=$(grep -E "Non-2xx|Socket errors" "$work/$name.out" | tr '\n' ' ' || true)
  local cpu_us
  cpu_us=$(python3 -c "print(f'{($after - $before) * 1e6 / $(getconf CLK_TCK) / $requests:.2f}')")
  echo "$rps $p99 $cpu_us ${errors:-none}"
}

nginx_pids=$(pgrep -P "$(cat "$work/nginx.pid")" | tr '\n' ' ')

# Warm both up, then alternate rounds so both see the same machine.
wrk -t2 -c"$CONNECTIONS" -d2s "http://127.0.0.1:$nginx_port/health" > /dev/null
wrk -t2 -c"$CONNECTIONS" -d2s "http://127.0.0.1:$ferry_port/health" > /dev/null

echo "| round | nginx req/s | nginx p99 | nginx CPU µs/req | Ferry req/s | Ferry p99 | Ferry CPU µs/req | Ferry / nginx req/s |"
echo "|---|---|---|---|---|---|---|---|"
ratios=()
cpu_ratios=()
for round in $(seq 1 "$ROUNDS"); do
  # shellcheck disable=SC2086
  read -r n_rps n_p99 n_cpu n_err < <(run nginx "$nginx_port" $nginx_pids)
  read -r f_rps f_p99 f_cpu f_err < <(run ferry "$ferry_port" "$ferry_pid")
  ratio=$(python3 -c "print(f'{$f_rps / $n_rps:.2f}')")
  ratios+=("$ratio")
  cpu_ratios+=("$(python3 -c "print(f'{$n_cpu / $f_cpu:.2f}')")")
  echo "| $round | $n_rps | $n_p99 | $n_cpu | $f_rps | $f_p99 | $f_cpu | ${ratio}x |"
  [ "$n_err" = "none" ] || echo "nginx errors: $n_err" >&2
  [ "$f_err" = "none" ] || echo "ferry errors: $f_err" >&2
done
echo
python3 scripts/bench/health-summary.py "${ratios[*]}" "${cpu_ratios[*]}"
echo "wrk -t2 -c$CONNECTIONS -d${DURATION}s GET /health, $ROUNDS alternating rounds, $(nproc) cores, $(nginx -v 2>&1 | cut -d' ' -f3), nginx worker_processes auto, both with access logs"
echo "ferry access-log lines written: $(grep -c '"msg":"request"' "$work/ferry.log")"
