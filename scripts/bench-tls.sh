#!/usr/bin/env bash
# Part of `make bench`: Ferry's TLS listener against nginx with TLS, in one run, alternating rounds so both see
# the same machine (nginx in the foreground, so the kernel schedules both alike). Both servers load the same
# ECDSA P-256 certificate, speak TLS 1.2 and 1.3 with the same TLS 1.2 cipher list (Mozilla's intermediate)
# and OpenSSL's default TLS 1.3 suites, ask for kernel TLS (nginx: `ssl_conf_command Options KTLS`; Ferry by
# default), and run 2 workers / loops; the negotiated protocol and cipher of each is checked to be the same
# and printed. Measured:
#   1. GET /health over TLS with keep-alive: wrk -t2 -c64, requests/s and server CPU time per request;
#   2. new connections per second, one request each, and server CPU time per connection: wrk with
#      `Connection: close` (which resumes its TLS sessions, as browsers do), and 4 `openssl s_time -new`
#      (a full handshake every time);
#   3. a 1 GiB download over TLS with curl: nginx serving the file from disk, Ferry the same file as a
#      `dlb://` key through its pre-signed /storage/v1 URL (which /media/output also serves).
# Everything lives in /dev/shm so the disk does not decide the figures. Prints Markdown for BENCHMARKS.md.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${BENCH_DURATION:-10}
ROUNDS=${BENCH_TLS_ROUNDS:-5}
CONNECTIONS=${BENCH_CONNECTIONS:-64}
CLOSE_CONNECTIONS=${BENCH_TLS_CLOSE_CONNECTIONS:-16}
SIZE_MIB=${BENCH_TRANSFER_MIB:-1024}
work=$(mktemp -d /dev/shm/ferry-bench-tls.XXXXXX)
ferry_pid=""
cleanup() {
  [ -n "$ferry_pid" ] && kill "$ferry_pid" 2>/dev/null && wait "$ferry_pid" 2>/dev/null || true
  [ -f "$work/nginx.pid" ] && kill "$(cat "$work/nginx.pid")" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

. scripts/bench-lib.sh

# A private CA and one server certificate for 127.0.0.1, both P-256.
cd "$work"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key -out ca.pem -days 2 \
  -subj "/CN=Ferry bench CA" 2> /dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout server.key -out server.csr \
  -subj "/CN=127.0.0.1" 2> /dev/null
printf 'subjectAltName=IP:127.0.0.1\nbasicConstraints=critical,CA:FALSE\n' > server.ext
openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem -days 2 \
  -extfile server.ext 2> /dev/null
cd - > /dev/null
chmod 644 "$work/server.key"

# nginx's workers run as nobody: let them reach the file.
chmod 755 "$work"
mkdir -p "$work/files"
head -c "$((SIZE_MIB * 1048576))" /dev/urandom > "$work/files/big"

body=$(./.build/release/ferry version | awk '{print "{\"status\":\"ok\",\"version\":\"" $2 "\"}"}')
# Ferry's TLS 1.2 list (Sources/HTTPServer/TLSContext.swift), so both offer the same.
ciphers="ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:\
ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:DHE-RSA-AES128-GCM-SHA256:\
DHE-RSA-AES256-GCM-SHA384:DHE-RSA-CHACHA20-POLY1305"
nginx_port=$(free_port)
cat > "$work/nginx.conf" <<CONF
worker_processes 2;
pid $work/nginx.pid;
error_log $work/nginx-error.log;
events { worker_connections 4096; }
http {
  # Whether each connection resumed a session, and its request count: the new-connection test's lines
  # (one request per connection) say whether wrk resumed sessions.
  log_format bench '\$ssl_session_reused \$connection_requests \$request_uri';
  access_log $work/nginx-access.log bench;
  sendfile on;
  server {
    listen 127.0.0.1:$nginx_port ssl;
    ssl_certificate $work/server.pem;
    ssl_certificate_key $work/server.key;
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_ciphers $ciphers;
    ssl_ecdh_curve X25519:prime256v1:secp384r1;
    ssl_prefer_server_ciphers off;
    ssl_session_cache shared:SSL:10m;
    ssl_conf_command Options KTLS;
    location = /health { default_type application/json; return 200 '$body'; }
    location /files/ { root $work; access_log off; }
  }
}
CONF
# In the foreground (as a child of this script): a daemon would call setsid and, with the kernel's autogroup
# scheduling, run in a scheduling group of its own, apart from wrk, curl and Ferry, which then see another
# share of a busy machine than it does.
nginx -c "$work/nginx.conf" -p "$work" -g 'daemon off;' &
for _ in $(seq 1 50); do [ -s "$work/nginx.pid" ] && break; sleep 0.1; done

start_ferry FERRY_SERVER_TLS_CERT="$work/server.pem" FERRY_SERVER_TLS_KEY="$work/server.key" \
  FERRY_AUTH_APPS='[{"key": "bench", "secret": "bench-secret-bench"}]'
nginx_url="https://127.0.0.1:$nginx_port"
ferry_url="https://127.0.0.1:$ferry_port"
export CURL_CA_BUNDLE="$work/ca.pem"

# The file as a dlb:// key: uploaded through Ferry's pre-signed PUT (untimed), then its pre-signed GET URL.
json() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }
token=$(curl -sSf -u bench:bench-secret-bench -d grant_type=client_credentials "$ferry_url/v1/auth/token" |
  json '["access_token"]')
presigned() { # /media/input or /media/output -> URL
  curl -sSf -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
    -d '{"url": "dlb://bench/big"}' "$ferry_url$1" | json '["url"]'
}
curl -sSf -T "$work/files/big" "$(presigned /media/input)" -o /dev/null
ferry_file=$(presigned /media/output)
# Both serve the file byte for byte (checked once, untimed).
for url in "$nginx_url/files/big" "$ferry_file"; do
  curl -sSf -o "$work/check" "$url"
  cmp -s "$work/files/big" "$work/check" || { echo "the download from $url differs" >&2; exit 1; }
  rm -f "$work/check"
done

negotiated() { # port -> "TLSv1.3 TLS_AES_256_GCM_SHA384"
  openssl s_client -connect "127.0.0.1:$1" -CAfile "$work/ca.pem" < /dev/null 2> /dev/null |
    awk '/^New, / {p = $2; c = $NF} END {print p, c}' | tr -d ','
}
nginx_tls=$(negotiated "$nginx_port")
ferry_tls=$(negotiated "$ferry_port")
[ "$nginx_tls" = "$ferry_tls" ] || { echo "different TLS: nginx $nginx_tls, Ferry $ferry_tls" >&2; exit 1; }

cpu_ticks() { # pids... -> utime+stime in clock ticks
  local total=0
  for pid in "$@"; do
    [ -r "/proc/$pid/stat" ] || continue
    total=$((total + $(awk '{print $14 + $15}' "/proc/$pid/stat")))
  done
  echo "$total"
}

wrk_run() { # name url test pids... -> requests/s, p99, server CPU µs per request, errors
  local name=$1 url=$2 test=$3
  shift 3
  local before after
  local -a options=(-c"$CONNECTIONS")
  [ "$test" = keep-alive ] || options=(-c"$CLOSE_CONNECTIONS" -H "Connection: close")
  before=$(cpu_ticks "$@")
  wrk -t2 -d"${DURATION}s" --latency "${options[@]}" "$url/health" > "$work/$name.out"
  after=$(cpu_ticks "$@")
  local rps p99 requests errors cpu_us
  rps=$(awk '/^Requests\/sec:/ {print $2}' "$work/$name.out")
  p99=$(awk '$1 == "99%" {print $2}' "$work/$name.out")
  requests=$(awk '/requests in/ {print $1}' "$work/$name.out")
  errors=$(grep -E "Non-2xx|Socket errors" "$work/$name.out" | tr '\n' ' ' | tr -s ' ' || true)
  cpu_us=$(python3 -c "print(f'{($after - $before) * 1e6 / $(getconf CLK_TCK) / $requests:.2f}')")
  echo "$rps $p99 $cpu_us ${errors:-none}"
}

# Full handshakes: wrk resumes its sessions when it reconnects, so `openssl s_time -new` (4 processes, each
# connecting, handshaking without resumption, GET /health, closing, again) measures the worst case.
handshakes() { # port pids... -> connections/s, server CPU µs per connection
  local port=$1
  shift
  local before after i
  local -a clients=()
  before=$(cpu_ticks "$@")
  for i in 1 2 3 4; do
    openssl s_time -connect "127.0.0.1:$port" -new -time "$DURATION" -www /health?full -CAfile "$work/ca.pem" \
      > "$work/s_time.$i" 2>&1 &
    clients+=($!)
  done
  wait "${clients[@]}"
  after=$(cpu_ticks "$@")
  cat "$work"/s_time.* | python3 -c "
import re, sys
runs = [(int(n), float(t)) for n, t in re.findall(r'(\d+) connections in (\d+) real seconds', sys.stdin.read())]
count = sum(n for n, _ in runs)
rate = sum(n / t for n, t in runs)
print(f'{rate:.0f} {($after - $before) * 1e6 / $(getconf CLK_TCK) / count:.1f}')"
}

download() { # url pids... -> MiB/s, server CPU seconds
  local url=$1
  shift
  local before after seconds
  before=$(cpu_ticks "$@")
  seconds=$(curl -sSf -o /dev/null -w '%{time_total}' "$url")
  after=$(cpu_ticks "$@")
  python3 -c "print(f'{$SIZE_MIB / $seconds:.0f} {($after - $before) / $(getconf CLK_TCK):.2f}')"
}

nginx_pids=$(pgrep -P "$(cat "$work/nginx.pid")" | tr '\n' ' ')
ratio() { python3 -c "print(f'{$1 / $2:.2f}')"; }

# Warm both up.
wrk -t2 -c"$CONNECTIONS" -d2s "$nginx_url/health" > /dev/null
wrk -t2 -c"$CONNECTIONS" -d2s "$ferry_url/health" > /dev/null

echo "Both: $ferry_tls, ECDSA P-256 certificate; $(nproc) cores, $(nginx -v 2>&1 | cut -d' ' -f3) (worker_processes 2), $(openssl version | cut -d' ' -f1-2)"
echo
echo "| round | test | nginx | nginx p99 | nginx CPU µs | Ferry | Ferry p99 | Ferry CPU µs | Ferry / nginx |"
echo "|---|---|---|---|---|---|---|---|---|"
keep=()
fresh=()
files=()
keep_cpu=()
fresh_cpu=()
files_cpu=()
full=()
full_cpu=()
for round in $(seq 1 "$ROUNDS"); do
  # The order flips every round, so neither server always runs on a machine the other just warmed.
  if [ $((round % 2)) -eq 1 ]; then order="nginx ferry"; else order="ferry nginx"; fi
  for test in keep-alive new-connection; do
    for server in $order; do
      if [ "$server" = nginx ]; then
        # shellcheck disable=SC2086
        read -r n_rps n_p99 n_cpu n_err < <(wrk_run "nginx-$test" "$nginx_url" "$test" $nginx_pids)
      else
        read -r f_rps f_p99 f_cpu f_err < <(wrk_run "ferry-$test" "$ferry_url" "$test" "$ferry_pid")
      fi
    done
    r=$(ratio "$f_rps" "$n_rps")
    if [ "$test" = keep-alive ]; then
      keep+=("$r")
      keep_cpu+=("$(ratio "$n_cpu" "$f_cpu")")
    else
      fresh+=("$r")
      fresh_cpu+=("$(ratio "$n_cpu" "$f_cpu")")
    fi
    echo "| $round | $test req/s | $n_rps | $n_p99 | $n_cpu | $f_rps | $f_p99 | $f_cpu | ${r}x |"
    [ "$n_err" = "none" ] || echo "nginx errors ($test): $n_err" >&2
    [ "$f_err" = "none" ] || echo "ferry errors ($test): $f_err" >&2
  done
  for server in $order; do
    if [ "$server" = nginx ]; then
      # shellcheck disable=SC2086
      read -r n_rate n_cpu < <(handshakes "$nginx_port" $nginx_pids)
    else
      read -r f_rate f_cpu < <(handshakes "$ferry_port" "$ferry_pid")
    fi
  done
  r=$(ratio "$f_rate" "$n_rate")
  full+=("$r")
  full_cpu+=("$(ratio "$n_cpu" "$f_cpu")")
  echo "| $round | full handshakes/s (s_time -new) | $n_rate | | $n_cpu | $f_rate | | $f_cpu | ${r}x |"
  for server in $order; do
    if [ "$server" = nginx ]; then
      # shellcheck disable=SC2086
      read -r n_mib n_cpu < <(download "$nginx_url/files/big" $nginx_pids)
    else
      read -r f_mib f_cpu < <(download "$ferry_file" "$ferry_pid")
    fi
  done
  r=$(ratio "$f_mib" "$n_mib")
  files+=("$r")
  files_cpu+=("$(ratio "$n_cpu" "$f_cpu")")
  echo "| $round | ${SIZE_MIB} MiB download MiB/s (server CPU s) | $n_mib | | $n_cpu | $f_mib | | $f_cpu | ${r}x |"
done
echo
median() { python3 -c "import statistics, sys; r = [float(x) for x in sys.argv[1].split()]; \
print(f'median {statistics.median(r):.2f}x, range {min(r):.2f}-{max(r):.2f}')" "$1"; }
echo "Ferry / nginx, throughput; CPU efficiency (nginx's server CPU time per request or download / Ferry's):"
echo "- GET /health over TLS, keep-alive (wrk -t2 -c$CONNECTIONS -d${DURATION}s): $(median "${keep[*]}"); $(median "${keep_cpu[*]}")"
echo "- new connections, one request each (wrk -t2 -c$CLOSE_CONNECTIONS -d${DURATION}s -H 'Connection: close'): $(median "${fresh[*]}"); $(median "${fresh_cpu[*]}")"
echo "- new connections with full handshakes, no resumption (4 x openssl s_time -new -www /health): $(median "${full[*]}"); $(median "${full_cpu[*]}")"
echo "- ${SIZE_MIB} MiB download over TLS (curl): $(median "${files[*]}"); $(median "${files_cpu[*]}")"
awk '$2 == 1 && $3 == "/health" {n++; if ($1 == "r") r++}
  END {printf "nginx: %d of %d one-request connections from wrk resumed a TLS session\n", r, n}' \
  "$work/nginx-access.log"
grep -h '"msg":"tls file bodies"' "$work/ferry.log" | sed 's/^/Ferry: /' || true
grep -h 'ktls\|KTLS' "$work/nginx-error.log" | sed 's/^/nginx: /' | head -3 || true
