#!/usr/bin/env bash
# Part of `make bench` (issue 20, "Big media, fast"): an enhance (to WAV) and an MP3 transcode of a 1 GB WAV
# (90 minutes, 48 kHz stereo) served by nginx through scripts/bench/throttle-proxy.py (every connection capped at
# BENCH_BIG_RATE, 40 MB/s), written to an `s3://` output with keys through the same kind of proxy in front of
# Bench/s3-sink.py. Ferry's job (POST to Success, the release `ferry serve` with BENCH_BIG_CONNECTIONS download
# connections and parallel parts) against the same work by hand, one step after the other: curl GET, the bare
# ffmpeg commands of scripts/bench-media.sh, curl PUT (signed by curl's --aws-sigv4). Alternating which goes
# first round by round; each Ferry row says which path its job took (ffmpeg reading the input as it arrived, or
# after the download), from the job's log. Ferry runs without the neural denoiser (`media.denoiser` ""), so
# that its enhance does the by-hand commands' afftdn work (DeepFilterNet's speed is bench-quality.sh's). Ferry's peak RSS is the server's VmHWM at the end. The uploads are checked whole
# (every part's bytes arrived, the sizes add up to what the sink stored); the by-hand outputs by SHA-256.
# Prints Markdown for BENCHMARKS.md.
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=${BENCH_BIG_ROUNDS:-2}
RATE=${BENCH_BIG_RATE:-40000000}
CONNECTIONS=${BENCH_BIG_CONNECTIONS:-8}
SECONDS_OF_MEDIA=${BENCH_BIG_MEDIA_SECONDS:-5400}
# Ferry's transfer.multipart_threshold_bytes (its default, 64 MiB, unless set): a smaller run's MP3 goes up in
# parts while ffmpeg writes it only when it is at least this large.
THRESHOLD=${BENCH_BIG_MULTIPART_THRESHOLD:-67108864}
work=$(mktemp -d /dev/shm/ferry-bigjobs.XXXXXX)
pids=()
ferry_pid=""
cleanup() {
  [ -n "$ferry_pid" ] && kill "$ferry_pid" 2>/dev/null && wait "$ferry_pid" 2>/dev/null || true
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  [ -f "$work/nginx.pid" ] && kill "$(cat "$work/nginx.pid")" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

. scripts/bench-lib.sh
mkdir -p "$work/files" "$work/tmp" "$work/hand"
media="$work/files/talk.wav"
ffmpeg -loglevel error -y -f lavfi -i "sine=f=220:d=$SECONDS_OF_MEDIA:sample_rate=48000" \
  -f lavfi -i "anoisesrc=d=$SECONDS_OF_MEDIA:a=0.03:r=48000:c=pink" \
  -filter_complex "[0][1]amix=inputs=2,volume='0.3+0.2*sin(t/7)':eval=frame,aformat=channel_layouts=stereo" \
  -c:a pcm_s16le "$media"
size=$(stat -c %s "$media")

start_file_nginx

start_listener "$work/sink.log" python3 Bench/s3-sink.py
sink_port=$listening_port
start_listener "$work/throttle-web.log" python3 scripts/bench/throttle-proxy.py --upstream "127.0.0.1:$port" --rate "$RATE"
web_port=$listening_port
start_listener "$work/throttle-s3.log" python3 scripts/bench/throttle-proxy.py --upstream "127.0.0.1:$sink_port" --rate "$RATE"
s3_port=$listening_port

key=AKIDBENCHBIG
secret=bench/big+secret
app=bench
start_ferry FERRY_AUTH_RATE_LIMIT_PER_S=1000000 FERRY_AUTH_RATE_LIMIT_BURST=1000000 FERRY_WORKERS_CONCURRENCY=1 \
  FERRY_AUTH_APPS="[{\"key\":\"$app\",\"secret\":\"bench-secret\"}]" FERRY_NETWORK_ALLOW='["127.0.0.1/32"]' \
  FERRY_S3_ENDPOINT="http://127.0.0.1:$s3_port" FERRY_TRANSFER_DOWNLOAD_CONNECTIONS="$CONNECTIONS" \
  FERRY_TRANSFER_PARALLEL_PARTS="$CONNECTIONS" FERRY_TRANSFER_MULTIPART_THRESHOLD_BYTES="$THRESHOLD" \
  FERRY_MEDIA_DENOISER=""
token=$(curl -s -u "$app:bench-secret" -d grant_type=client_credentials "http://127.0.0.1:$ferry_port/v1/auth/token" |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')

input="http://127.0.0.1:$web_port/files/talk.wav"
output() { # key -> an s3:// output with keys
  echo "{\"url\": \"s3://bench/$1\", \"auth\": {\"key\": \"$key\", \"secret\": \"$secret\"}}"
}
job() { # path body -> seconds from POST to Success
  python3 scripts/bench/media-job.py "$ferry_port" "$token" "$1" "$2"
}
# What the sink stored for `bench/<key>`: its size, checked to be whole (every part listed, sizes adding up).
stored_size() { # key
  grep " bench/$1 " "$work/sink.log" | tail -1 | python3 -c '
import sys
line = sys.stdin.read().split()
if not line: sys.exit("nothing stored")
print(int(line[2]) if line[0] == "OBJECT" else sum(int(p.split(":")[0]) for p in line[2].split(",")))'
}

# By hand: the same work one step after the other. The bare ffmpeg commands are scripts/bench-media.sh's.
sigv4=(--aws-sigv4 "aws:amz:us-east-1:s3" --user "$key:$secret")
by_hand() { # enhance|transcode round -> seconds
  local start end out
  start=$(date +%s.%N)
  curl -sSf -o "$work/hand/talk.wav" "$input"
  if [ "$1" = enhance ]; then
    ffmpeg -nostdin -y -loglevel error -i "$work/hand/talk.wav" -map 0:a:0 \
      -af "highpass=f=80,afftdn=nr=12:nf=-40,ebur128=peak=true+sample:framelog=verbose" -ar 48000 -c:a pcm_f32le \
      -f wav "$work/hand/clean.wav" 2> /dev/null
    ffmpeg -nostdin -y -loglevel error -i "$work/hand/clean.wav" -map 0:a:0 \
      -af "volume=6dB,alimiter=limit=0.794:level=false" -c:a pcm_s16le -f wav "$work/hand/out.wav"
    ffmpeg -nostdin -loglevel info -i "$work/hand/out.wav" -af "ebur128=peak=true+sample:framelog=verbose" \
      -f null - 2> /dev/null
    out="$work/hand/out.wav"
  else
    ffmpeg -nostdin -y -loglevel error -i "$work/hand/talk.wav" -map 0:a:0 -c:a libmp3lame -b:a 192k -f mp3 \
      "$work/hand/t.mp3"
    out="$work/hand/t.mp3"
  fi
  curl -sSf -o /dev/null "${sigv4[@]}" -T "$out" "http://127.0.0.1:$s3_port/bench/hand-$1-$2"
  end=$(date +%s.%N)
  # Checked after the clock stopped: the input arrived whole, the sink got the output's exact bytes.
  cmp -s "$media" "$work/hand/talk.wav" || { echo "the by-hand download differs" >&2; exit 1; }
  python3 scripts/bench/s3-sink-check.py "$out" "$(grep " bench/hand-$1-$2 " "$work/sink.log" | tail -1)"
  rm -f "$work/hand/"*
  python3 -c "print(f'{$end - $start:.3f}')"
}
# Which path Ferry's last job took, from its log: "overlapped" (ffmpeg read the input as it arrived; with the
# seconds of media it had written when the download's last byte came) or "after download".
ferry_path() { # log lines before the job
  local line
  line=$(tail -n +"$(($1 + 1))" "$work/ferry.log" | grep -E '"input (downloaded while ffmpeg read it|processed after its download)"' | tail -1 || true)
  if [[ "$line" == *"while ffmpeg read it"* ]]; then
    echo -n "overlapped ($(echo "$line" | grep -o '"processed_s":"[0-9.]*"' | cut -d'"' -f4) s done at the last byte)"
  else
    echo -n "after download"
  fi
  # Not grep -q: it would stop reading early, and tail's SIGPIPE would fail the pipeline (pipefail).
  if tail -n +"$(($1 + 1))" "$work/ferry.log" | grep '"output uploaded while ffmpeg writes it"' > /dev/null; then
    echo "; output uploaded while written"
  else
    echo "; output uploaded after ffmpeg"
  fi
}
ferry_job() { # enhance|transcode round -> seconds
  local s
  if [ "$1" = enhance ]; then
    s=$(job /media/enhance "{\"input\": \"$input\", \"output\": $(output "ferry-enhance-$2.wav"), \"content\": {\"type\": \"podcast\"}}")
  else
    s=$(job /media/transcode "{\"inputs\": [{\"source\": \"$input\"}], \"outputs\": [{\"id\": \"a\", \"kind\": \"mp3\", \"destination\": $(output "ferry-transcode-$2.mp3")}]}")
  fi
  stored_size "ferry-$1-$2.$([ "$1" = enhance ] && echo wav || echo mp3)" > /dev/null
  echo "$s"
}

echo "| round | enhance to WAV: Ferry s | by hand s | Ferry / by hand | Ferry's path | transcode to MP3: Ferry s | by hand s | Ferry / by hand | Ferry's path |"
echo "|---|---|---|---|---|---|---|---|---|"
rows=()
for round in $(seq 1 "$ROUNDS"); do
  line="| $round"
  for kind in enhance transcode; do
    if [ $((round % 2)) -eq 1 ]; then
      before=$(wc -l < "$work/ferry.log"); f=$(ferry_job "$kind" "$round"); path=$(ferry_path "$before")
      h=$(by_hand "$kind" "$round")
    else
      h=$(by_hand "$kind" "$round")
      before=$(wc -l < "$work/ferry.log"); f=$(ferry_job "$kind" "$round"); path=$(ferry_path "$before")
    fi
    rows+=("$kind:$f:$h")
    line+=" | $f | $h | $(python3 -c "print(f'{$f / $h:.2f}x')") | $path"
  done
  echo "$line |"
done
echo
rss=$(grep VmHWM "/proc/$ferry_pid/status" | awk '{print $2}')
python3 - "${rows[@]}" <<'PY'
import statistics, sys
rows = [r.split(":") for r in sys.argv[1:]]
for kind in ("enhance", "transcode"):
    ratios = [float(f) / float(h) for k, f, h in rows if k == kind]
    print(f"- {kind}: Ferry's job / by hand median {statistics.median(ratios):.2f}x (range {min(ratios):.2f}-{max(ratios):.2f})")
PY
echo "- Ferry's peak RSS (ferry serve, VmHWM): $((rss / 1024)) MiB"
echo "- input $((size / 1000000)) MB ($SECONDS_OF_MEDIA s of 48 kHz stereo 16-bit WAV), every connection capped at" \
  "$((RATE / 1000000)) MB/s each way (scripts/bench/throttle-proxy.py) before nginx and Bench/s3-sink.py;" \
  "Ferry with $CONNECTIONS download connections and parallel parts, 16 MiB parts, workers.concurrency 1;" \
  "$(ffmpeg -version | head -1 | cut -d' ' -f1-3), $(curl --version | head -1 | cut -d' ' -f1-2), $(nproc) cores"
