#!/usr/bin/env bash
# `make bench`: wrk -t2 -c64 on GET /health against Ferry (release build, default logging: one access line
# per request) and against nginx (`return 200` with the same body, default access log), alternating rounds
# in one run so both see the same machine. Prints a Markdown table for BENCHMARKS.md.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${BENCH_DURATION:-10}
ROUNDS=${BENCH_ROUNDS:-3}
CONNECTIONS=${BENCH_CONNECTIONS:-64}
work=$(mktemp -d)
ferry_pid=""
cleanup() {
  [ -n "$ferry_pid" ] && kill "$ferry_pid" 2>/dev/null && wait "$ferry_pid" 2>/dev/null || true
  [ -f "$work/nginx.pid" ] && kill "$(cat "$work/nginx.pid")" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

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

FERRY_SERVER_PORT=0 FERRY_DATA_DIR="$work/data" ./.build/release/ferry serve 2> "$work/ferry.log" &
ferry_pid=$!
ferry_port=""
for _ in $(seq 1 100); do
  ferry_port=$(grep -o '"msg":"listening".*"port":[0-9]*' "$work/ferry.log" | grep -o '"port":[0-9]*' | cut -d: -f2 || true)
  [ -n "$ferry_port" ] && break
  sleep 0.1
done
[ -n "$ferry_port" ] || { echo "ferry did not start" >&2; cat "$work/ferry.log" >&2; exit 1; }

run() { # name port -> prints requests/s and p99 latency
  wrk -t2 -c"$CONNECTIONS" -d"${DURATION}s" --latency "http://127.0.0.1:$2/health" > "$work/$1.out"
  local rps p99 errors
  rps=$(awk '/^Requests\/sec:/ {print $2}' "$work/$1.out")
  p99=$(awk '$1 == "99%" {print $2}' "$work/$1.out")
  errors=$(grep -E "Non-2xx|Socket errors" "$work/$1.out" | tr '\n' ' ' || true)
  echo "$rps $p99 ${errors:-none}"
}

# Warm both up (page cache, JIT-free but lazy allocations), then alternate.
wrk -t2 -c"$CONNECTIONS" -d2s "http://127.0.0.1:$nginx_port/health" > /dev/null
wrk -t2 -c"$CONNECTIONS" -d2s "http://127.0.0.1:$ferry_port/health" > /dev/null

echo "| round | nginx req/s | nginx p99 | Ferry req/s | Ferry p99 | Ferry / nginx |"
echo "|---|---|---|---|---|---|"
sum_ratio=0
for round in $(seq 1 "$ROUNDS"); do
  read -r n_rps n_p99 n_err < <(run nginx "$nginx_port")
  read -r f_rps f_p99 f_err < <(run ferry "$ferry_port")
  ratio=$(python3 -c "print(f'{$f_rps / $n_rps:.2f}')")
  sum_ratio=$(python3 -c "print($sum_ratio + $ratio)")
  echo "| $round | $n_rps | $n_p99 | $f_rps | $f_p99 | ${ratio}x |"
  [ "$n_err" = "none" ] || echo "nginx errors: $n_err" >&2
  [ "$f_err" = "none" ] || echo "ferry errors: $f_err" >&2
done
echo
echo "mean ratio: $(python3 -c "print(f'{$sum_ratio / $ROUNDS:.2f}')")x  (wrk -t2 -c$CONNECTIONS -d${DURATION}s, $(nproc) cores, $(wrk --version 2>&1 | head -1 | awk '{print $1, $2}'), $(nginx -v 2>&1 | cut -d' ' -f3))"
echo "ferry access-log lines written: $(grep -c '"msg":"request"' "$work/ferry.log")"
