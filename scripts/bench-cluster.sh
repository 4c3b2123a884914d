#!/usr/bin/env bash
# Part of `make bench`: several `ferry serve` nodes on one PostgreSQL job store (issue 9), against the single
# SQLite node in the same run.
#  1. Durable submissions: 1, 2 and 3 nodes on one PostgreSQL (its default durable settings: fsync on,
#     synchronous_commit on), workers.concurrency 0 (jobs are stored, none runs). 64 wrk connections in all,
#     split across the nodes (one wrk per node, in parallel, their requests/s summed), every body unique.
#     Reference: the single SQLite node (store.kind sqlite) under the same load. Each N gets a fresh database.
#  2. Job throughput: the same batch of jobs (BENCH_CLUSTER_JOBS, default 60, round-robin over the nodes) on
#     1, 2, 3 PostgreSQL nodes and on the SQLite node, default workers.concurrency (= cores): time from the
#     first POST until every job is Success, and the CPU seconds each node, its ffmpeg children and
#     PostgreSQL spent. Two kinds: diagnose (a short measuring pass: the per-job cost of the store and the
#     engine shows) and enhance (seconds of ffmpeg per job: the media work dominates). The input, a 30 s
#     48 kHz stereo WAV, is served by nginx on loopback.
# Prints Markdown for BENCHMARKS.md.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${BENCH_DURATION:-10}
CONNECTIONS=${BENCH_CONNECTIONS:-64}
JOBS=${BENCH_CLUSTER_JOBS:-60}
KINDS=${BENCH_CLUSTER_KINDS:-diagnose enhance}
MEDIA_SECONDS=30
# Bound on one batch: far above the slowest expected (enhance on one node, a busy machine: about a minute).
BATCH_TIMEOUT_S=${BENCH_CLUSTER_TIMEOUT_S:-900}

work=$(mktemp -d)
# PostgreSQL refuses to run as root: its cluster lives in a directory of its own that the postgres user owns.
pgdir=$(mktemp -d)
node_pids=()
node_ports=()
wrk_pids=()
batch_pid=""
pg_pid=""
pgbin=""

stop_nodes() {
  local pid
  for pid in "${node_pids[@]}"; do stop_pid "$pid"; done
  node_pids=()
  node_ports=()
}

cleanup() {
  local pid
  for pid in "${wrk_pids[@]}" $batch_pid; do kill "$pid" 2>/dev/null || true; done
  stop_nodes
  [ -f "$work/nginx.pid" ] && stop_pid "$(cat "$work/nginx.pid")"
  stop_postgres
  rm -rf "$work" "$pgdir"
}
trap cleanup EXIT
. scripts/bench-lib.sh

# Helpers in Python: CPU seconds from /proc, wrk output summaries, the job batch.
bench() { python3 scripts/bench/cluster.py "$@"; }

# --- PostgreSQL: a throw-away cluster on loopback with the server's default settings (durable). ---------------
start_postgres
psql_() { # database sql -> unaligned rows (no NOTICEs)
  PGOPTIONS="-c client_min_messages=warning" psql -X -q -h 127.0.0.1 -p "$pg_port" -U postgres -d "$1" -At -c "$2"
}
pg_settings=$(psql_ postgres "SELECT string_agg(name || '=' || setting, ', ' ORDER BY name) FROM pg_settings
  WHERE name IN ('fsync', 'synchronous_commit', 'full_page_writes', 'wal_sync_method', 'commit_delay', 'max_connections')")
pg_version=$(psql_ postgres "SHOW server_version" | cut -d' ' -f1)

# --- Ferry nodes ------------------------------------------------------------------------------------------
# Every node shares the app list and the master key (a token from one node works on all of them).
secrets_key=$(head -c 32 /dev/urandom | base64)
apps='[{"key":"bench","secret":"bench-secret"}]'

start_node() { # name VAR=value... -> appends to node_pids and node_ports; data in $work/<name>
  local name=$1 pid
  shift
  mkdir -p "$work/$name"
  env FERRY_SERVER_PORT=0 FERRY_DATA_DIR="$work/$name" FERRY_AUTH_APPS="$apps" FERRY_SECRETS_KEY="$secrets_key" \
    FERRY_AUTH_RATE_LIMIT_PER_S=1000000 FERRY_AUTH_RATE_LIMIT_BURST=1000000 "$@" \
    ./.build/release/ferry serve 2> "$work/$name.log" &
  pid=$!
  node_pids+=("$pid")
  node_ports+=("$(listening_port "$pid" "$work/$name.log")") || exit 1
}

start_cluster() { # store(sqlite|DATABASE) nodes VAR=value... -> nodes started, data dirs fresh
  local store=$1 count=$2 i
  shift 2
  rm -rf "$work"/node-*
  if [ "$store" = sqlite ]; then
    start_node node-0 FERRY_STORE_KIND=sqlite "$@"
    return
  fi
  for i in $(seq 0 $((count - 1))); do
    start_node "node-$i" FERRY_STORE_KIND=postgres FERRY_STORE_URL="postgresql://postgres@127.0.0.1:$pg_port/$store" "$@"
  done
}

fresh_database() { # name -> created (dropped first if a previous run left it)
  psql_ postgres "DROP DATABASE IF EXISTS $1" > /dev/null
  psql_ postgres "CREATE DATABASE $1" > /dev/null
}

stored_rows() { # store(sqlite|DATABASE) -> rows in jobs
  if [ "$1" = sqlite ]; then
    python3 -c "import sqlite3; print(sqlite3.connect('$work/node-0/ferry.db').execute('select count(*) from jobs').fetchone()[0])"
  else
    psql_ "$1" "SELECT count(*) FROM jobs"
  fi
}

token_from() { # port -> an access token
  curl -s -u bench:bench-secret -d grant_type=client_credentials "http://127.0.0.1:$1/v1/auth/token" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])'
}

ratio() { python3 -c "print(f'{$1 / $2:.2f}x')"; }
cpu_cells() { # JSON from cluster.py delta -> "nodes' CPU s | PostgreSQL's | machine busy" (Markdown cells)
  python3 scripts/bench/cluster-cpu-cells.py "$1"
}

# --- 1. Durable submissions ---------------------------------------------------------------------------------
# Every body unique: scripts/bench-submit.lua (it says why that takes care).

run_wrks() { # seconds label token -> one wrk per node in parallel, outputs in $work/wrk-<label>-<i>.out
  local seconds=$1 label=$2 token=$3 count=${#node_ports[@]} i connections threads
  wrk_pids=()
  for i in $(seq 0 $((count - 1))); do
    # 64 connections in all: the first nodes take the remainder (22/21/21 for three).
    connections=$((CONNECTIONS / count + (i < CONNECTIONS % count ? 1 : 0)))
    # Two wrk threads for a single node (as bench-jobs.sh), one per wrk when there are several.
    threads=$((count == 1 ? 2 : 1))
    wrk -t"$threads" -c"$connections" -d"${seconds}s" --latency -s scripts/bench-submit.lua \
      "http://127.0.0.1:${node_ports[$i]}" -- "$label-$i-$RANDOM$RANDOM" "$token" > "$work/wrk-$label-$i.out" &
    wrk_pids+=("$!")
  done
  for i in "${wrk_pids[@]}"; do wait "$i"; done
  wrk_pids=()
}

submission_rows=()
submissions() { # store(sqlite|postgres) nodes -> a table row in submission_rows
  local kind=$1 count=$2 store=sqlite pg=0 token before after cpu_before cpu_after rps requests non2xx socket p99
  local wal_before wal_after
  if [ "$kind" = postgres ]; then
    store=submit_$count
    pg=$pg_pid
    fresh_database "$store"
  fi
  start_cluster "$store" "$count" FERRY_WORKERS_CONCURRENCY=0
  token=$(token_from "${node_ports[0]}")
  if [ "$kind" = postgres ]; then
    # A checkpoint first, so no N inherits the previous one's dirty pages; WAL fsyncs counted from here.
    psql_ postgres "CHECKPOINT" > /dev/null
    wal_before=$(psql_ postgres "SELECT wal_sync FROM pg_stat_wal")
  else
    sync
  fi
  run_wrks 2 "warm-$kind-$count" "$token"
  before=$(stored_rows "$store")
  cpu_before=$(bench snapshot "$pg" "${node_pids[@]}")
  run_wrks "$DURATION" "$kind-$count" "$token"
  cpu_after=$(bench snapshot "$pg" "${node_pids[@]}")
  sleep 1 # answers still in flight when wrk stopped
  after=$(stored_rows "$store")
  read -r rps requests non2xx socket p99 < <(bench wrk "$work/wrk-$kind-$count-"*.out)
  local wal=""
  if [ "$kind" = postgres ]; then
    # Backends report their WAL statistics when they end: stop the nodes first. Warm-up included on both sides.
    stop_nodes
    sleep 0.5
    wal_after=$(psql_ postgres "SELECT wal_sync FROM pg_stat_wal")
    local all_rows
    all_rows=$(stored_rows "$store")
    wal=$(python3 -c "print(f'{$all_rows / max(1, $wal_after - $wal_before):.1f}')")
    psql_ postgres "DROP DATABASE $store" > /dev/null
  else
    stop_nodes
    wal="—"
  fi
  local cpu
  cpu=$(cpu_cells "$(bench delta "$cpu_before" "$cpu_after")")
  local label="SQLite, 1 node"
  if [ "$kind" = postgres ]; then label="PostgreSQL, $count node$([ "$count" -gt 1 ] && echo s || true)"; fi
  if [ "$kind" = sqlite ]; then sqlite_rps=$rps; fi
  echo "submissions: $label $rps req/s, $((requests - non2xx)) 2xx, $((after - before)) stored" >&2
  submission_rows+=("| $label | $(printf '%.0f' "$rps") | $(ratio "$rps" "$sqlite_rps") | $(printf '%.1f' "$p99") ms | $non2xx non-2xx, $socket socket | $((requests - non2xx)) | $((after - before)) | $cpu | $wal |")
}

submissions sqlite 1
for n in 1 2 3; do submissions postgres "$n"; done

# --- 2. Job throughput ----------------------------------------------------------------------------------------
mkdir -p "$work/www"
chmod 755 "$work" "$work/www" # nginx's workers run as nobody
ffmpeg -loglevel error -y -f lavfi -i "sine=f=220:d=$MEDIA_SECONDS:sample_rate=48000" \
  -f lavfi -i "anoisesrc=d=$MEDIA_SECONDS:a=0.03:r=48000:c=pink" \
  -filter_complex "[0][1]amix=inputs=2,volume='0.3+0.2*sin(t/7)':eval=frame,aformat=channel_layouts=stereo" \
  "$work/www/talk.wav"
chmod 644 "$work/www/talk.wav"
nginx_port=$(free_port)
cat > "$work/nginx.conf" <<CONF
worker_processes 1;
pid $work/nginx.pid;
error_log $work/nginx-error.log;
events { worker_connections 1024; }
http {
  access_log off;
  server { listen 127.0.0.1:$nginx_port; root $work/www; }
}
CONF
nginx -e "$work/nginx-error.log" -c "$work/nginx.conf" -p "$work"
curl -sf -o /dev/null "http://127.0.0.1:$nginx_port/talk.wav" || { echo "nginx does not serve the input" >&2; exit 1; }

throughput_rows=()
reference_elapsed=""
throughput() { # job(diagnose|enhance) store(sqlite|postgres) nodes -> a row appended to throughput_rows
  local job=$1 kind=$2 count=$3 store=sqlite body result pg=0
  if [ "$kind" = postgres ]; then
    store=jobs_${job}_$count
    pg=$pg_pid
    fresh_database "$store"
  fi
  start_cluster "$store" "$count" FERRY_NETWORK_ALLOW="[\"127.0.0.1:$nginx_port\"]"
  # The query string makes every body unique ({n}); nginx serves the same file for each.
  local input="http://127.0.0.1:$nginx_port/talk.wav?job={n}"
  body="{\"input\": \"$input\"}"
  if [ "$job" = enhance ]; then
    # The result goes to the node's own temporary storage: the bench reads no result back.
    body="{\"input\": \"$input\", \"output\": \"dlb://out/{n}.mp3\", \"content\": {\"type\": \"podcast\"}}"
  fi
  if [ "$kind" = postgres ]; then psql_ postgres "CHECKPOINT" > /dev/null; fi
  # In the background and waited for, so a SIGTERM to this script runs the cleanup at once.
  bench batch "$(IFS=,; echo "${node_ports[*]}")" "$(IFS=,; echo "${node_pids[*]}")" "$pg" \
    "$(token_from "${node_ports[0]}")" "/media/$job" "$body" "$JOBS" "$BATCH_TIMEOUT_S" > "$work/batch.json" &
  batch_pid=$!
  wait "$batch_pid"
  batch_pid=""
  result=$(cat "$work/batch.json")
  # Which node started how many (each start of a job logs "job started", retries included).
  local per_node="" i
  for i in $(seq 0 $((count - 1))); do
    per_node+="${per_node:+ / }$(grep -c '"msg":"job started"' "$work/node-$i.log" || true)"
  done
  stop_nodes
  if [ "$kind" = postgres ]; then psql_ postgres "DROP DATABASE $store" > /dev/null; fi
  local label="SQLite, 1 node"
  if [ "$kind" = postgres ]; then label="PostgreSQL, $count node$([ "$count" -gt 1 ] && echo s || true)"; fi
  echo "throughput: $job, $label: $result" >&2
  local elapsed row
  elapsed=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["elapsed"])' "$result")
  if [ "$kind" = sqlite ]; then reference_elapsed=$elapsed; fi
  row=$(python3 scripts/bench/cluster-throughput-row.py "$result" "$job" "$label" "$per_node" "$reference_elapsed" "$JOBS")
  throughput_rows+=("$row")
}

for job in $KINDS; do
  # The SQLite node first: its time is the reference for the ratio.
  throughput "$job" sqlite 1
  for n in 1 2 3; do throughput "$job" postgres "$n"; done
done

# --- Report ---------------------------------------------------------------------------------------------------
cores=$(nproc)
echo "Command: \`BENCH_DURATION=$DURATION BENCH_CLUSTER_JOBS=$JOBS scripts/bench-cluster.sh\` ($(date -u +%Y-%m-%d))."
echo "Machine: $cores cores; PostgreSQL $pg_version ($pg_settings); $(wrk --version 2>&1 | head -1 | cut -d' ' -f1-2)."
echo
echo "Durable submissions: POST /media/enhance, workers.concurrency 0, $CONNECTIONS connections split across the nodes"
echo "(one wrk per node, req/s summed, p99 the highest of the wrks), ${DURATION}s after a 2 s warm-up; a fresh database per N."
echo
echo "| store | req/s | vs SQLite | p99 | errors | 2xx answers | rows stored | node CPU s (each) | PostgreSQL CPU s | machine CPU busy | rows per WAL fsync |"
echo "|---|---|---|---|---|---|---|---|---|---|---|"
printf '%s\n' "${submission_rows[@]}"
echo
echo "Job throughput: $JOBS jobs round-robin over the nodes, input a ${MEDIA_SECONDS} s 48 kHz stereo WAV from nginx on loopback,"
echo "default workers.concurrency ($cores per node); time from the first POST until every job is Success (polled every 0.2 s)."
echo
echo "| job | store | seconds | jobs/s | vs SQLite | jobs started per node | node CPU s (each) | its ffmpeg CPU s (each) | PostgreSQL CPU s | machine CPU busy |"
echo "|---|---|---|---|---|---|---|---|---|---|"
printf '%s\n' "${throughput_rows[@]}"
