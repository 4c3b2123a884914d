#!/usr/bin/env bash
# Part of `make bench`: download and upload a 1 GiB file over loopback with Ferry's transfer client and with
# the curl CLI, alternating rounds in one run (and which client goes first, round by round). nginx serves the
# GET (sendfile). The PUT goes to Bench/put-sink.py, which reads every body byte into one reused buffer and
# answers only after the last one: nginx's DAV sink, used before, spent more time (and far more variable time)
# allocating tmpfs pages for the body than the clients spent sending it. So that the data itself is still
# checked, each client first uploads the file once, untimed, to nginx's DAV location, compared with cmp.
# Everything lives in /dev/shm so the disk does not decide the figures. Prints Markdown.
set -euo pipefail
cd "$(dirname "$0")/.."

SIZE_MIB=${BENCH_TRANSFER_MIB:-1024}
ROUNDS=${BENCH_TRANSFER_ROUNDS:-7}
bench_bin=${TRANSFER_BENCH:-.build-bench/release/TransferBench}
work=$(mktemp -d /dev/shm/ferry-bench.XXXXXX)
sink_pid=""
cleanup() {
  [ -n "$sink_pid" ] && kill "$sink_pid" 2>/dev/null || true
  [ -f "$work/nginx.pid" ] && kill "$(cat "$work/nginx.pid")" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

mkdir -p "$work/files" "$work/dav" "$work/tmp"
head -c "$((SIZE_MIB * 1048576))" /dev/urandom > "$work/files/big"
size=$((SIZE_MIB * 1048576))
. scripts/bench-lib.sh
port=$(free_port)
cat > "$work/nginx.conf" <<CONF
worker_processes auto;
pid $work/nginx.pid;
error_log $work/nginx-error.log;
events { worker_connections 1024; }
http {
  access_log off;
  sendfile on;
  client_max_body_size 0;
  client_body_temp_path $work/tmp;
  server {
    listen 127.0.0.1:$port;
    location /files/ { root $work; }
    location /dav/ { root $work; dav_methods PUT; create_full_put_path on; }
  }
}
CONF
# nginx's workers run as nobody: let them write the DAV folder.
chmod 777 "$work" "$work/dav" "$work/tmp"
nginx -c "$work/nginx.conf" -p "$work"

python3 Bench/put-sink.py > "$work/sink.log" &
sink_pid=$!
sink_port=""
for _ in $(seq 1 100); do
  sink_port=$(head -1 "$work/sink.log" | grep -o '127\.0\.0\.1:[0-9]*' | cut -d: -f2 || true)
  [ -n "$sink_port" ] && break
  sleep 0.05
done
[ -n "$sink_port" ] || { echo "the PUT sink did not start" >&2; exit 1; }

# The sink must not answer before the whole body arrived: a client could stop early and look fast.
python3 scripts/bench/sink-check.py "$sink_port"

# Runs a command and prints "<wall seconds> <peak RSS KiB> <CPU seconds> <its stdout>".
measure() {
  python3 scripts/bench/measure.py "$@"
}

url="http://127.0.0.1:$port"
sink="http://127.0.0.1:$sink_port"

# The data: one untimed upload per client to nginx's DAV location, byte for byte the file.
curl -sSf -T "$work/files/big" "$url/dav/curl" -o /dev/null
"$bench_bin" upload "$work/files/big" "$url/dav/ferry" > /dev/null
for client in curl ferry; do
  cmp -s "$work/files/big" "$work/dav/$client" || { echo "$client's upload differs" >&2; exit 1; }
done
rm -f "$work/dav/"*

# Each client's own transfer time (curl's time_total; TransferBench's clock around the transfer): neither
# process's start-up is counted. CPU time is the whole process's (getrusage), start-up included. A download
# is removed as soon as it was checked, so that the next one does not fill tmpfs beside it (the second
# download of a round was otherwise up to 2.5 times slower, whichever client it was).
run_curl() { # direction -> "<seconds> <CPU seconds>"
  local out
  if [ "$1" = download ]; then
    out=$(measure curl -sSf -o "$work/down-curl" -w '%{time_total}' "$url/files/big")
    rm -f "$work/down-curl"
  else
    out=$(measure curl -sSf -o /dev/null -w '%{time_total}' -T "$work/files/big" "$sink/up/curl")
  fi
  echo "$(echo "$out" | cut -d' ' -f4) $(echo "$out" | cut -d' ' -f3)"
}
run_ferry() { # direction -> "<seconds> <CPU seconds> <peak RSS KiB>"
  local s rss cpu
  if [ "$1" = download ]; then
    read -r s _ rss cpu < <("$bench_bin" download "$url/files/big" "$work/down-ferry")
    cmp -s "$work/files/big" "$work/down-ferry" || { echo "Ferry's download differs" >&2; exit 1; }
    rm -f "$work/down-ferry"
  else
    read -r s _ rss cpu < <("$bench_bin" upload "$work/files/big" "$sink/up/ferry")
  fi
  echo "$s $cpu $rss"
}
# The sink's line for the last upload: it must have read all of the body.
check_sink() { # client
  local line
  line=$(tail -1 "$work/sink.log")
  [ "$line" = "PUT /up/$1 $size $size $(echo "$line" | cut -d' ' -f5)" ] || {
    echo "the sink did not get $1's whole body: $line" >&2
    exit 1
  }
}

echo "| round | direction | curl MiB/s | Ferry MiB/s | Ferry / curl | curl CPU s | Ferry CPU s | Ferry peak RSS |"
echo "|---|---|---|---|---|---|---|---|"
results=()
max_rss=0
for round in $(seq 1 "$ROUNDS"); do
  for direction in download upload; do
    if [ $((round % 2)) -eq 1 ]; then
      read -r c_s c_cpu < <(run_curl "$direction")
      [ "$direction" = upload ] && check_sink curl
      read -r f_s f_cpu f_rss < <(run_ferry "$direction")
      [ "$direction" = upload ] && check_sink ferry
    else
      read -r f_s f_cpu f_rss < <(run_ferry "$direction")
      [ "$direction" = upload ] && check_sink ferry
      read -r c_s c_cpu < <(run_curl "$direction")
      [ "$direction" = upload ] && check_sink curl
    fi
    results+=("$direction:$c_s:$f_s:$c_cpu:$f_cpu")
    [ "$f_rss" -gt "$max_rss" ] && max_rss=$f_rss
    python3 -c "print(f'| $round | $direction | {$SIZE_MIB / $c_s:.0f} | {$SIZE_MIB / $f_s:.0f} | {$c_s / $f_s:.2f}x | $c_cpu | $f_cpu | $((f_rss / 1024)) MiB |')"
  done
done
echo
python3 scripts/bench/transfer-summary.py "$max_rss" "${results[@]}"
echo "- ${SIZE_MIB} MiB over 127.0.0.1, $ROUNDS rounds, nginx $(nginx -v 2>&1 | cut -d/ -f2) (sendfile GET), Bench/put-sink.py" \
  "(PUT, body read and dropped), $(curl --version | head -1 | cut -d' ' -f1-2), $(nproc) cores"
