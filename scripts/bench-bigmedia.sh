#!/usr/bin/env bash
# Part of `make bench` (issue 20, "Big media, fast"): a 1 GiB input download and a 1 GiB `s3://` output upload
# through scripts/bench/throttle-proxy.py, which caps every connection at BENCH_BIG_RATE bytes a second (40 MB/s,
# about what one connection to real object storage carries), in front of nginx (the GET, sendfile) and of
# Bench/s3-sink.py (S3's upload calls; moto itself takes only 45-60 MB/s here, see that file). Ferry's transfer
# client (TransferBench: ranged parts for the download, S3 multipart for the upload, each part on its own
# connection) against the curl CLI's single connection (a GET; a PUT signed by curl's own --aws-sigv4),
# alternating which goes first round by round. Every byte is checked by SHA-256: the downloads on disk, the
# uploads as the sink hashed them (scripts/bench/s3-sink-check.py). Everything lives in /dev/shm so the disk
# does not decide the figures. Prints Markdown for BENCHMARKS.md.
set -euo pipefail
cd "$(dirname "$0")/.."

SIZE_MIB=${BENCH_BIG_MIB:-1024}
ROUNDS=${BENCH_BIG_ROUNDS:-3}
RATE=${BENCH_BIG_RATE:-40000000}
# transfer.download_connections and transfer.parallel_parts for the run.
CONNECTIONS=${BENCH_BIG_CONNECTIONS:-8}
bench_bin=${TRANSFER_BENCH:-.build-bench/release/TransferBench}
work=$(mktemp -d /dev/shm/ferry-bigmedia.XXXXXX)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  [ -f "$work/nginx.pid" ] && kill "$(cat "$work/nginx.pid")" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

. scripts/bench-lib.sh
mkdir -p "$work/files" "$work/tmp"
head -c "$((SIZE_MIB * 1048576))" /dev/urandom > "$work/files/big"
digest=$(sha256sum "$work/files/big" | cut -d' ' -f1)

start_file_nginx
start_listener "$work/sink.log" python3 Bench/s3-sink.py
sink_port=$listening_port
start_listener "$work/throttle-web.log" python3 scripts/bench/throttle-proxy.py --upstream "127.0.0.1:$port" --rate "$RATE"
web_port=$listening_port
start_listener "$work/throttle-s3.log" python3 scripts/bench/throttle-proxy.py --upstream "127.0.0.1:$sink_port" --rate "$RATE"
s3_port=$listening_port
# The sink checks no signature; the requests are signed all the same, as against S3.
export BENCH_S3_KEY=AKIDBENCHBIG BENCH_S3_SECRET=bench/big+secret
sigv4=(--aws-sigv4 "aws:amz:us-east-1:s3" --user "$BENCH_S3_KEY:$BENCH_S3_SECRET")

measure() { python3 scripts/bench/measure.py "$@"; }
# The object's bytes as the sink received them, checked against the file by SHA-256 (part by part).
check_stored() { # key
  python3 scripts/bench/s3-sink-check.py "$work/files/big" "$(grep " $1 " "$work/sink.log" | tail -1)" ||
    { echo "the upload of $1 differs" >&2; exit 1; }
}
check() { # what digest
  [ "$2" = "$digest" ] || { echo "$1: SHA-256 $2, not the file's $digest" >&2; exit 1; }
}

# Each transfer's own time (curl's time_total; TransferBench's clock around the transfer): neither process's
# start-up counts. The peak RSS is TransferBench's whole process.
run_curl() { # direction round -> seconds
  local out
  if [ "$1" = download ]; then
    out=$(curl -sSf -o "$work/down-curl" -w '%{time_total}' "http://127.0.0.1:$web_port/files/big")
    check "curl's download" "$(sha256sum "$work/down-curl" | cut -d' ' -f1)"
    rm -f "$work/down-curl"
  else
    out=$(curl -sSf -o /dev/null -w '%{time_total}' "${sigv4[@]}" -T "$work/files/big" \
      "http://127.0.0.1:$s3_port/bench/curl-$2")
    check_stored "bench/curl-$2"
  fi
  echo "$out"
}
run_ferry() { # direction round -> "seconds peak-RSS-KiB"
  local s rss
  if [ "$1" = download ]; then
    read -r s _ rss _ < <("$bench_bin" download "http://127.0.0.1:$web_port/files/big" "$work/down-ferry" "$CONNECTIONS")
    check "Ferry's download" "$(sha256sum "$work/down-ferry" | cut -d' ' -f1)"
    rm -f "$work/down-ferry"
  else
    read -r s _ rss _ < <("$bench_bin" s3upload "$work/files/big" "http://127.0.0.1:$s3_port" bench "ferry-$2" "$CONNECTIONS")
    check_stored "bench/ferry-$2"
  fi
  echo "$s $rss"
}

echo "| round | direction | curl MB/s | Ferry MB/s | Ferry / curl | Ferry peak RSS |"
echo "|---|---|---|---|---|---|"
results=()
max_rss=0
bytes=$((SIZE_MIB * 1048576))
for round in $(seq 1 "$ROUNDS"); do
  for direction in download upload; do
    if [ $((round % 2)) -eq 1 ]; then
      c_s=$(run_curl "$direction" "$round")
      read -r f_s f_rss < <(run_ferry "$direction" "$round")
    else
      read -r f_s f_rss < <(run_ferry "$direction" "$round")
      c_s=$(run_curl "$direction" "$round")
    fi
    results+=("$direction:$c_s:$f_s")
    [ "$f_rss" -gt "$max_rss" ] && max_rss=$f_rss
    python3 -c "print(f'| $round | $direction | {$bytes / $c_s / 1e6:.0f} | {$bytes / $f_s / 1e6:.0f} | {$c_s / $f_s:.2f}x | $((f_rss / 1024)) MiB |')"
  done
done
echo
python3 - "$max_rss" "${results[@]}" <<'PY'
import statistics, sys
rows = [r.split(":") for r in sys.argv[2:]]
for direction in ("download", "upload"):
    ratios = [float(c) / float(f) for d, c, f in rows if d == direction]
    print(f"- {direction}: Ferry / curl median {statistics.median(ratios):.2f}x (range {min(ratios):.2f}-{max(ratios):.2f})")
print(f"- Ferry's peak RSS: {int(sys.argv[1]) // 1024} MiB")
PY
most_web=$(tail -1 "$work/throttle-web.log" | awk '{print $NF}')
most_s3=$(tail -1 "$work/throttle-s3.log" | awk '{print $NF}')
echo "- ${SIZE_MIB} MiB, $ROUNDS rounds, every connection capped at $((RATE / 1000000)) MB/s each way" \
  "(scripts/bench/throttle-proxy.py; at most $most_web connections open at once before nginx, $most_s3 before the S3 sink);" \
  "Ferry with $CONNECTIONS connections (transfer.download_connections, transfer.parallel_parts) and 16 MiB parts;" \
  "nginx $(nginx -v 2>&1 | cut -d/ -f2) (sendfile GET), Bench/s3-sink.py (S3 PUT and multipart, bodies hashed and dropped)," \
  "$(curl --version | head -1 | cut -d' ' -f1-2), $(nproc) cores; bytes checked by SHA-256"
