#!/usr/bin/env bash
# Part of `make bench`: the analytics jobs (/media/analyze/music, /media/analyze/speech, and /media/analyze and
# /media/diagnose, which carry the same speech/music blocks) on a 10-minute 48 kHz stereo WAV of speech and
# music (espeak-ng voices and a fluidsynth render, a minute looped), end to end through the API and the job
# engine (dlb:// input), against the bare ffmpeg decode to 16 kHz mono they all start from. Issue 23 asks each
# analytics job to run at 50x realtime or more. Prints Markdown for BENCHMARKS.md.
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=${BENCH_ANALYTICS_ROUNDS:-3}
SECONDS_OF_MEDIA=${BENCH_ANALYTICS_SECONDS:-600}
work=$(mktemp -d)
ferry_pid=""
cleanup() {
  [ -n "$ferry_pid" ] && kill "$ferry_pid" 2>/dev/null && wait "$ferry_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

app=bench
namespace=$(printf '%s' "$app" | sha256sum | cut -d' ' -f1)
mkdir -p "$work/data/storage/$namespace/in"
media="$work/data/storage/$namespace/in/programme.wav"

# A minute: two voices taking turns, then 20 s of a MIDI groove (written by scripts/bench/groove-midi.py).
espeak-ng -v en-us+m3 -p 35 -w "$work/a.wav" \
  "The ferry leaves the harbour at seven, and the first passengers are already waiting on the pier. We measured the tempo of each song twice."
espeak-ng -v en-gb+f3 -p 70 -w "$work/b.wav" \
  "Please check the loudness of every file before you send the final mix. A good recording starts with a quiet room and a little patience."
python3 scripts/bench/groove-midi.py "$work/groove.mid"
fluidsynth -ni -g 0.8 -r 48000 -F "$work/groove.wav" /usr/share/sounds/sf2/FluidR3_GM.sf2 "$work/groove.mid" > /dev/null 2>&1
ffmpeg -loglevel error -y -i "$work/a.wav" -i "$work/b.wav" -i "$work/groove.wav" -filter_complex \
  "[0]aresample=48000,aformat=sample_fmts=fltp:channel_layouts=mono,apad=pad_dur=0.6,asplit=2[a1][a2];[1]aresample=48000,aformat=sample_fmts=fltp:channel_layouts=mono,apad=pad_dur=0.6,asplit=2[b1][b2];[2]atrim=0:20,aresample=48000,aformat=sample_fmts=fltp:channel_layouts=mono[g];[a1][b1][a2][b2][g]concat=n=5:v=0:a=1,atrim=0:60,apad=whole_dur=60,aformat=channel_layouts=stereo" \
  "$work/minute.wav"
ffmpeg -loglevel error -y -stream_loop -1 -i "$work/minute.wav" -t "$SECONDS_OF_MEDIA" -c:a pcm_s16le "$media"

. scripts/bench-lib.sh
start_ferry FERRY_AUTH_RATE_LIMIT_PER_S=1000000 FERRY_AUTH_RATE_LIMIT_BURST=1000000 FERRY_WORKERS_CONCURRENCY=1 \
  FERRY_AUTH_APPS="[{\"key\":\"$app\",\"secret\":\"bench-secret\"}]"
port=$ferry_port
token=$(curl -s -u "$app:bench-secret" -d grant_type=client_credentials "http://127.0.0.1:$port/v1/auth/token" |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')

job() { python3 scripts/bench/media-job.py "$port" "$token" "$1" "$2"; }
bare_decode() {
  local start end
  start=$(date +%s.%N)
  ffmpeg -nostdin -y -loglevel error -i "$media" -map 0:a:0 -ac 1 -ar 16000 -c:a pcm_f32le -f f32le "$work/d.f32"
  end=$(date +%s.%N)
  python3 -c "print(f'{$end - $start:.3f}')"
}
realtime() { python3 -c "print(f'{$SECONDS_OF_MEDIA / $1:.0f}x')"; }

echo "| round | music: Ferry s | realtime | speech: Ferry s | realtime | analyze: Ferry s | realtime | diagnose: Ferry s | realtime | bare 16 kHz decode s |"
echo "|---|---|---|---|---|---|---|---|---|---|"
body='{"input": "dlb://in/programme.wav"}'
for round in $(seq 1 "$ROUNDS"); do
  fm=$(job /media/analyze/music "$body")
  fs=$(job /media/analyze/speech "$body")
  fa=$(job /media/analyze "$body")
  fd=$(job /media/diagnose "$body")
  bd=$(bare_decode)
  echo "| $round | $fm | $(realtime "$fm") | $fs | $(realtime "$fs") | $fa | $(realtime "$fa") | $fd | $(realtime "$fd") | $bd |"
done
echo
echo "$(nproc) cores; ${SECONDS_OF_MEDIA} s of 48 kHz stereo speech and music; one worker."
