#!/usr/bin/env bash
# Part of `make bench`: split and stitch (issue 20). A BENCH_STITCH_SECONDS-long (default 600) 720p30 H.264 +
# AAC input transcoded to H.264 MP4 (Ferry's defaults: x264 veryfast crf 23, AAC 192k) by two `ferry serve`
# nodes on one PostgreSQL and one S3 bucket (moto) for temporary storage, each node pinned to one core with
# taskset (workers.concurrency 1), against the same one-pass ffmpeg command run by hand, pinned to one core.
# Measured: wall time from the POST until the job is Success (the input fetched from nginx on loopback, pieces
# moved through the bucket, the output stored there) against the by-hand encode of the local file; the output
# against the by-hand output: frame count, video duration, A/V start offset, PSNR overall and the lowest PSNR
# of the frames next to a cut (each key frame of the output with the frames before and after it: every cut and
# a few more). Pieces last BENCH_STITCH_PIECE_S (default: a twentieth of the input, at least 5 s).
# Prints Markdown for BENCHMARKS.md.
set -euo pipefail
cd "$(dirname "$0")/.."

SECONDS_=${BENCH_STITCH_SECONDS:-600}
PIECE=${BENCH_STITCH_PIECE_S:-$(python3 -c "print(max(5, $SECONDS_ // 20))")}
TIMEOUT_S=${BENCH_STITCH_TIMEOUT_S:-1800}
MOTO=${MOTO_SERVER:-.venv/bin/moto_server}

work=$(mktemp -d)
pgdir=$(mktemp -d)
node_pids=()
pids=()
pg_pid=""
pgbin=""

cleanup() {
  local pid
  for pid in "${node_pids[@]}" "${pids[@]}"; do stop_pid "$pid"; done
  [ -f "$work/nginx.pid" ] && stop_pid "$(cat "$work/nginx.pid")"
  stop_postgres
  rm -rf "$work" "$pgdir"
}
trap cleanup EXIT
. scripts/bench-lib.sh

[ -x "$MOTO" ] || { echo "moto_server not found at $MOTO (make test installs .venv)" >&2; exit 1; }
[ -x ./.build/release/ferry ] || { echo "build first: swift build -c release --product ferry" >&2; exit 1; }
cores=$(nproc)
[ "$cores" -ge 2 ] || { echo "two cores needed (two nodes, each pinned to one)" >&2; exit 1; }

# --- The input: 720p30 H.264 (a key frame every 2 s, as cameras and encoders commonly make) + AAC. ------------
mkdir -p "$work/files" "$work/tmp"
ffmpeg -hide_banner -loglevel error -nostdin -y \
  -f lavfi -i "testsrc2=size=1280x720:rate=30:duration=$SECONDS_" \
  -f lavfi -i "sine=f=440:sample_rate=48000:duration=$SECONDS_" \
  -c:v libx264 -preset ultrafast -crf 18 -g 60 -pix_fmt yuv420p -c:a aac -b:a 128k -shortest \
  -movflags +faststart "$work/files/in.mp4"
input_mb=$(python3 -c "import os; print(round(os.path.getsize('$work/files/in.mp4') / 1e6))")

# --- By hand: Ferry's one-pass command for this request, on one core. -------------------------------------
# Each of the by-hand encode and the two nodes runs in a session of its own (setsid): with the kernel's
# autogroup scheduling a session shares the CPU as one, so on a machine busy with other work the two nodes
# would otherwise get one session's share between them, the by-hand encode a whole one. (On a quiet machine it
# makes no difference.)
by_hand_start=$(date +%s.%N)
/usr/bin/time -f '%U %S' -o "$work/by-hand.cpu" setsid -w taskset -c 0 ffmpeg -hide_banner -nostdin -y -loglevel error -i "$work/files/in.mp4" \
  -map 0:v:0 -c:v libx264 -preset veryfast -pix_fmt yuv420p -crf 23 -vf 'scale=trunc(iw/2)*2:trunc(ih/2)*2' \
  -map '0:a:0?' -c:a:0 aac -b:a:0 192k -movflags +faststart -map_metadata -1 -f mp4 "$work/reference.mp4"
by_hand=$(python3 -c "import time; print(f'{time.time() - $by_hand_start:.1f}')")

# --- PostgreSQL, the S3 peer, nginx for the input. -----------------------------------------------------------
start_postgres
psql -X -q -h 127.0.0.1 -p "$pg_port" -U postgres -d postgres -c "CREATE DATABASE stitch" > /dev/null

moto_port=$(free_port)
"$MOTO" -H 127.0.0.1 -p "$moto_port" > "$work/moto.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do
  curl -s -o /dev/null "http://127.0.0.1:$moto_port/" && break
  sleep 0.1
done
curl -sf -X PUT "http://127.0.0.1:$moto_port/stitch-temp" > /dev/null

start_file_nginx
nginx_port=$port

# --- Two nodes, each pinned to one core. ---------------------------------------------------------------------
secrets_key=$(head -c 32 /dev/urandom | base64)
node_ports=()
for i in 0 1; do
  mkdir -p "$work/node-$i"
  env FERRY_SERVER_PORT=0 FERRY_DATA_DIR="$work/node-$i" FERRY_AUTH_APPS='[{"key":"bench","secret":"bench-secret"}]' \
    FERRY_SECRETS_KEY="$secrets_key" FERRY_NETWORK_ALLOW='["127.0.0.0/8"]' \
    FERRY_STORE_KIND=postgres FERRY_STORE_URL="postgresql://postgres@127.0.0.1:$pg_port/stitch" \
    FERRY_STORAGE_KIND=s3 FERRY_STORAGE_S3_BUCKET=stitch-temp FERRY_STORAGE_S3_ENDPOINT="http://127.0.0.1:$moto_port" \
    FERRY_STORAGE_S3_KEY=AKIDBENCH FERRY_STORAGE_S3_SECRET=bench-secret \
    FERRY_WORKERS_CONCURRENCY=1 FERRY_MEDIA_SPLIT_MIN_DURATION_S=1 FERRY_MEDIA_SPLIT_PIECE_DURATION_S="$PIECE" \
    setsid taskset -c "$i" ./.build/release/ferry serve 2> "$work/node-$i.log" &
  node_pids+=($!)
  node_ports+=("$(listening_port "$!" "$work/node-$i.log")") || exit 1
done
token=$(curl -s -u bench:bench-secret -d grant_type=client_credentials "http://127.0.0.1:${node_ports[0]}/v1/auth/token" |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')

# --- The job. --------------------------------------------------------------------------------------------------
start=$(date +%s.%N)
job=$(curl -sf -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
  -d "{\"inputs\": [{\"source\": \"http://127.0.0.1:$nginx_port/files/in.mp4\"}], \"outputs\": [{\"kind\": \"mp4\", \"destination\": \"dlb://out/stitched.mp4\"}]}" \
  "http://127.0.0.1:${node_ports[0]}/media/transcode" | python3 -c 'import json,sys; print(json.load(sys.stdin)["job_id"])')
# One poller process, ten looks a second at the other node: a curl and a python3 started for each look took
# half a core here, out of the two the nodes are pinned to.
status=$(python3 - "${node_ports[1]}" "$token" "$job" "$TIMEOUT_S" <<'PY'
import json, sys, time, urllib.request
port, token, job, timeout = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
request = urllib.request.Request(f"http://127.0.0.1:{port}/media/transcode?job_id={job}",
                                 headers={"Authorization": f"Bearer {token}"})
status = ""
deadline = time.monotonic() + timeout
while time.monotonic() < deadline:
    status = json.load(urllib.request.urlopen(request))["status"]
    if status not in ("Pending", "Running"):
        break
    time.sleep(0.1)
print(status)
PY
)
wall=$(python3 -c "import time; print(f'{time.time() - $start:.1f}')")
if [ "$status" != Success ]; then
  echo "the job ended $status" >&2
  curl -s -H "Authorization: Bearer $token" "http://127.0.0.1:${node_ports[1]}/media/transcode?job_id=$job" >&2
  exit 1
fi
curl -sf -L -H "Authorization: Bearer $token" -o "$work/stitched.mp4" \
  "http://127.0.0.1:${node_ports[0]}/media/output?url=dlb://out/stitched.mp4"
pieces=()
for i in 0 1; do pieces+=("$(grep -c '"msg":"job started".*/internal/transcode-piece' "$work/node-$i.log" || true)"); done
machine_load=$(cut -d' ' -f1 /proc/loadavg)
# CPU seconds: the nodes with their ffmpeg and ffprobe children (reaped, so counted in the nodes' cutime), and
# the by-hand encode. Load-independent where wall time is not: on a shared machine (autogroup scheduling) the
# two nodes together get about one core's share, as the by-hand encode does.
by_hand_cpu=$(python3 -c "print(sum(map(float, open('$work/by-hand.cpu').read().split()[:2])))")
ferry_cpu=$(python3 - "${node_pids[@]}" <<'PY'
import os, sys
hz = os.sysconf("SC_CLK_TCK")
total = 0
for pid in sys.argv[1:]:
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    total += sum(int(fields[i]) for i in (11, 12, 13, 14))
print(total / hz)
PY
)
# Where the time went (stderr): each node's runs (job, seconds) and the parent's progress lines.
for i in 0 1; do
  echo "node $i runs:" $(grep -o '"msg":"job ended".*' "$work/node-$i.log" | grep -o '"seconds":[0-9.]*' | cut -d: -f2) >&2
done
grep -h '"msg":"transcode split"' "$work"/node-*.log >&2 || true
[ -n "${BENCH_STITCH_LOGS:-}" ] && cp "$work"/node-*.log "$BENCH_STITCH_LOGS"/

python3 scripts/bench/stitch.py "$work/stitched.mp4" "$work/reference.mp4" > "$work/measure.json"
python3 - "$work/measure.json" "$wall" "$by_hand" "$SECONDS_" "$PIECE" "$input_mb" "${pieces[0]}" "${pieces[1]}" \
  "$machine_load" "$cores" "$ferry_cpu" "$by_hand_cpu" <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))
wall, by_hand, seconds, piece, mb, p0, p1, load, cores, ferry_cpu, by_hand_cpu = sys.argv[2:]
wall, by_hand, ferry_cpu, by_hand_cpu = float(wall), float(by_hand), float(ferry_cpu), float(by_hand_cpu)
frame = 1 / 30
print(f"Split and stitch, `BENCH_STITCH_SECONDS={seconds} scripts/bench-stitch.sh` ({cores} cores, load {load} at the end):")
print()
print("| input | pieces (node 0 / node 1) | Ferry, 2 nodes x 1 core | by hand, 1 core | ratio | CPU s, Ferry / by hand | frames (by hand) | video duration diff | A/V offset diff | PSNR overall | lowest PSNR next to a cut |")
print("|---|---|---|---|---|---|---|---|---|---|---|")
print(f"| {seconds} s 720p30 H.264 + AAC, {mb} MB | {p0} / {p1} of {piece} s | {wall:.1f} s | {by_hand:.1f} s | "
      f"{wall / by_hand:.2f}x | {ferry_cpu:.1f} / {by_hand_cpu:.1f} ({ferry_cpu / by_hand_cpu:.2f}x) | "
      f"{m['frames']} ({m['reference_frames']}) | "
      f"{abs(m['video_duration'] - m['reference_video_duration']) * 1000:.1f} ms | "
      f"{abs(m['av_offset'] - m['reference_av_offset']) * 1000:.1f} ms | {m['psnr']:.2f} dB | "
      f"{m['psnr_worst_near_cut']:.2f} dB ({m['frames_near_cuts']} frames) |")
ok = (m['frames'] == m['reference_frames']
      and abs(m['video_duration'] - m['reference_video_duration']) <= frame
      and abs(m['av_offset'] - m['reference_av_offset']) <= frame)
print()
print(f"Targets: wall <= 0.6x ({'met' if wall / by_hand <= 0.6 else 'not met'}); same frames, duration and A/V offset "
      f"within a frame ({'met' if ok else 'not met'}); PSNR >= 40 dB overall ({'met' if m['psnr'] >= 40 else 'not met'}) "
      f"and >= 35 dB next to every cut ({'met' if m['psnr_worst_near_cut'] >= 35 else 'not met'}).")
PY
