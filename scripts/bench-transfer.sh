#!/usr/bin/env bash
# Part of `make bench`: download and upload a 1 GiB file over loopback with Ferry's transfer client and with
# the curl CLI, alternating rounds in one run. nginx serves the GET (sendfile) and takes the PUT (DAV, into
# tmpfs). Everything lives in /dev/shm so the disk does not decide the figures. Prints Markdown.
set -euo pipefail
cd "$(dirname "$0")/.."

SIZE_MIB=${BENCH_TRANSFER_MIB:-1024}
ROUNDS=${BENCH_TRANSFER_ROUNDS:-3}
bench_bin=${TRANSFER_BENCH:-.build-bench/release/TransferBench}
work=$(mktemp -d /dev/shm/ferry-bench.XXXXXX)
cleanup() {
  [ -f "$work/nginx.pid" ] && kill "$(cat "$work/nginx.pid")" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

mkdir -p "$work/files" "$work/sink" "$work/tmp"
head -c "$((SIZE_MIB * 1048576))" /dev/urandom > "$work/files/big"
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
    location /sink/ { root $work; dav_methods PUT; create_full_put_path on; }
  }
}
CONF
# nginx's workers run as nobody: let them write the sink.
chmod 777 "$work" "$work/sink" "$work/tmp"
nginx -c "$work/nginx.conf" -p "$work"

# Runs a command and prints "<seconds> <peak RSS KiB> <CPU seconds>" of it.
measure() {
  python3 - "$@" <<'PY'
import resource, subprocess, sys, time
start = time.monotonic()
subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL)
elapsed = time.monotonic() - start
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
print(f"{elapsed:.3f} {usage.ru_maxrss} {usage.ru_utime + usage.ru_stime:.3f}")
PY
}

url="http://127.0.0.1:$port"
echo "| round | direction | curl MiB/s | Ferry MiB/s | Ferry / curl | curl CPU s | Ferry CPU s | Ferry peak RSS |"
echo "|---|---|---|---|---|---|---|---|"
ratios_down=()
ratios_up=()
cpu_down=()
cpu_up=()
max_rss=0
for round in $(seq 1 "$ROUNDS"); do
  for direction in download upload; do
    rm -f "$work/down-curl" "$work/down-ferry" "$work/sink/"*
    if [ "$direction" = download ]; then
      read -r c_s _ c_cpu < <(measure curl -sSf -o "$work/down-curl" "$url/files/big")
      read -r f_s _ f_rss f_cpu < <("$bench_bin" download "$url/files/big" "$work/down-ferry")
      cmp -s "$work/files/big" "$work/down-ferry" || { echo "Ferry's download differs" >&2; exit 1; }
    else
      read -r c_s _ c_cpu < <(measure curl -sSf -T "$work/files/big" "$url/sink/curl")
      read -r f_s _ f_rss f_cpu < <("$bench_bin" upload "$work/files/big" "$url/sink/ferry")
      cmp -s "$work/files/big" "$work/sink/ferry" || { echo "Ferry's upload differs" >&2; exit 1; }
    fi
    c_rate=$(python3 -c "print(f'{$SIZE_MIB / $c_s:.0f}')")
    f_rate=$(python3 -c "print(f'{$SIZE_MIB / $f_s:.0f}')")
    ratio=$(python3 -c "print(f'{$c_s / $f_s:.2f}')")
    cpu_ratio=$(python3 -c "print(f'{$c_cpu / $f_cpu:.2f}')")
    if [ "$direction" = download ]; then
      ratios_down+=("$ratio")
      cpu_down+=("$cpu_ratio")
    else
      ratios_up+=("$ratio")
      cpu_up+=("$cpu_ratio")
    fi
    [ "$f_rss" -gt "$max_rss" ] && max_rss=$f_rss
    echo "| $round | $direction | $c_rate | $f_rate | ${ratio}x | $c_cpu | $f_cpu | $((f_rss / 1024)) MiB |"
  done
done
echo
python3 - "${ratios_down[*]}" "${ratios_up[*]}" "$max_rss" "${cpu_down[*]}" "${cpu_up[*]}" <<PY
import statistics, sys
down = [float(x) for x in sys.argv[1].split()]
up = [float(x) for x in sys.argv[2].split()]
cdown = [float(x) for x in sys.argv[4].split()]
cup = [float(x) for x in sys.argv[5].split()]
print(f"- Ferry / curl throughput: download median {statistics.median(down):.2f}x, upload median {statistics.median(up):.2f}x")
print(f"- CPU efficiency (curl's CPU time / Ferry's): download median {statistics.median(cdown):.2f}x, upload median {statistics.median(cup):.2f}x")
print(f"- Ferry's peak RSS: {int(sys.argv[3]) // 1024} MiB")
PY
echo "${SIZE_MIB} MiB over 127.0.0.1, nginx $(nginx -v 2>&1 | cut -d/ -f2) (sendfile GET, DAV PUT into tmpfs), $(curl --version | head -1 | cut -d' ' -f1-2), $(nproc) cores"
