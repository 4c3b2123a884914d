#!/usr/bin/env bash
# Part of `make bench`: the job engine's front door.
#  1. Durable submissions: wrk -t2 -c64 POSTs small /media/enhance jobs (each body unique, so none is a
#     duplicate) to Ferry with workers.concurrency 0 (jobs are stored, none runs). Reference, same run: a
#     bare loop of single-row INSERT + COMMIT on SQLite with the same WAL + synchronous=FULL settings, the
#     cost each submission would pay without group commit.
#  2. Status lookups: GET /media/enhance?job_id= of one job with the jobs step 1 stored, then with 100,000
#     jobs in the store, against nginx's `return 200` in the same run.
# Prints Markdown for BENCHMARKS.md.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${BENCH_DURATION:-10}
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

start_jobs_ferry() {
  start_ferry FERRY_AUTH_RATE_LIMIT_PER_S=1000000 FERRY_AUTH_RATE_LIMIT_BURST=1000000 FERRY_WORKERS_CONCURRENCY=0 \
    FERRY_AUTH_APPS='[{"key":"bench","secret":"bench-secret"}]'
}
stop_ferry() { kill "$ferry_pid"; wait "$ferry_pid" 2>/dev/null || true; ferry_pid=""; : > "$work/ferry.log"; }

start_jobs_ferry
token=$(curl -s -u bench:bench-secret -d grant_type=client_credentials "http://127.0.0.1:$ferry_port/v1/auth/token" |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')

# Every body unique (scripts/bench-submit.lua says why that takes care).
wrk -t2 -c"$CONNECTIONS" -d2s -s scripts/bench-submit.lua "http://127.0.0.1:$ferry_port" -- "warm-$RANDOM$RANDOM" "$token" \
  > /dev/null
before=$(python3 -c "import sqlite3; print(sqlite3.connect('$work/data/ferry.db').execute('select count(*) from jobs').fetchone()[0])")
wrk -t2 -c"$CONNECTIONS" -d"${DURATION}s" --latency -s scripts/bench-submit.lua "http://127.0.0.1:$ferry_port" \
  -- "run-$RANDOM$RANDOM" "$token" > "$work/submit.out"
submit_rps=$(awk '/^Requests\/sec:/ {print $2}' "$work/submit.out")
submit_p99=$(awk '$1 == "99%" {print $2}' "$work/submit.out")
submit_errors=$(grep -E "Non-2xx|Socket errors" "$work/submit.out" | tr '\n' ' ' || true)
stored=$(python3 -c "import sqlite3; print(sqlite3.connect('$work/data/ferry.db').execute('select count(*) from jobs').fetchone()[0] - $before)")

# The reference: one INSERT + COMMIT at a time, same journal and sync settings, same file system.
sqlite_rps=$(python3 scripts/bench/sqlite-commit-loop.py "$work/ref.db" "$DURATION")

# Status lookups: one job's GET with the store as it is, then with 100,000 jobs.
job_id=$(curl -s -H "Authorization: Bearer $token" -H "Content-Type: application/json" \
  -d '{"input": "dlb://in/status.wav", "output": "dlb://out/status.wav"}' "http://127.0.0.1:$ferry_port/media/enhance" |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["job_id"])')
nginx_port=$(free_port)
cat > "$work/nginx.conf" <<CONF
worker_processes auto;
pid $work/nginx.pid;
error_log $work/nginx-error.log;
events { worker_connections 4096; }
http {
  access_log $work/nginx-access.log;
  server { listen 127.0.0.1:$nginx_port; location / { default_type application/json; return 200 '{"status":"Pending"}'; } }
}
CONF
nginx -c "$work/nginx.conf" -p "$work"
status_rps() { # port path -> requests/s
  wrk -t2 -c"$CONNECTIONS" -d"${DURATION}s" -H "Authorization: Bearer $token" "http://127.0.0.1:$1$2" |
    awk '/^Requests\/sec:/ {print $2}'
}
jobs_before=$(python3 -c "import sqlite3; print(sqlite3.connect('$work/data/ferry.db').execute('select count(*) from jobs').fetchone()[0])")
# Ferry and nginx take turns (BENCH_ROUNDS each, default 3) and each side's median counts: on 2 cores a single
# window of either swings by 15% from one run to the next.
ROUNDS=${BENCH_ROUNDS:-3}
median() { python3 -c "import statistics, sys; print(statistics.median(float(x) for x in sys.argv[1:]))" "$@"; }
status_pair() { # path -> "ferry_median nginx_median", alternating who goes first
  local ferry=() nginx=()
  for round in $(seq "$ROUNDS"); do
    if [ $((round % 2)) = 1 ]; then
      ferry+=("$(status_rps "$ferry_port" "$1")"); nginx+=("$(status_rps "$nginx_port" "$1")")
    else
      nginx+=("$(status_rps "$nginx_port" "$1")"); ferry+=("$(status_rps "$ferry_port" "$1")")
    fi
  done
  echo "rounds: ferry ${ferry[*]} / nginx ${nginx[*]}" >&2
  echo "$(median "${ferry[@]}") $(median "${nginx[@]}")"
}
read -r small_rps nginx_small < <(status_pair "/media/enhance?job_id=$job_id")

# Fill the store to 100,000 jobs directly (stored as Ferry stores pending jobs; they are never opened).
stop_ferry
python3 scripts/bench/fill-jobs.py "$work/data/ferry.db"
start_jobs_ferry
jobs_after=$(python3 -c "import sqlite3; print(sqlite3.connect('$work/data/ferry.db').execute('select count(*) from jobs').fetchone()[0])")
read -r large_rps nginx_large < <(status_pair "/media/enhance?job_id=$job_id")

cores=$(nproc)
echo "Machine: $cores cores. wrk -t2 -c$CONNECTIONS -d${DURATION}s; status lookups: medians of $ROUNDS alternating rounds each."
echo
echo "| measurement | Ferry | reference | ratio |"
echo "|---|---|---|---|"
echo "| durable submissions/s (POST /media/enhance, workers idle) | $submit_rps (p99 $submit_p99; $stored stored${submit_errors:+; $submit_errors}) | $sqlite_rps (SQLite INSERT+COMMIT loop) | $(python3 -c "print(f'{$submit_rps / $sqlite_rps:.1f}x')") |"
echo "| GET job status, $jobs_before jobs in the store | $small_rps | $nginx_small (nginx return 200) | $(python3 -c "print(f'{$small_rps / $nginx_small:.2f}x')") |"
echo "| GET job status, $jobs_after jobs in the store | $large_rps | $nginx_large (nginx return 200) | $(python3 -c "print(f'{$large_rps / $nginx_large:.2f}x')") |"
echo
echo "Status lookups with $jobs_after jobs vs $jobs_before: $(python3 -c "print(f'{$large_rps / $small_rps:.2f}x')")"
