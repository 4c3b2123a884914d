#!/usr/bin/env bash
# Part of `make bench`: Ferry's analyze, enhance (to WAV, the input's own format, and to MP3), an MP3
# transcode and a music master (profile a to WAV) on a 10-minute 48 kHz stereo WAV, end to end through the
# API and the job engine (dlb:// input and output, so no network), against the bare ffmpeg commands doing the
# same work, alternating in one run; and a master preview of five profiles on 30 s of the same track against
# the whole master. Prints Markdown for BENCHMARKS.md. BENCH_MEDIA_ONLY=master runs the mastering part alone.
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=${BENCH_MEDIA_ROUNDS:-3}
SECONDS_OF_MEDIA=${BENCH_MEDIA_SECONDS:-600}
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
media="$work/data/storage/$namespace/in/talk.wav"
ffmpeg -loglevel error -y -f lavfi -i "sine=f=220:d=$SECONDS_OF_MEDIA:sample_rate=48000" \
  -f lavfi -i "anoisesrc=d=$SECONDS_OF_MEDIA:a=0.03:r=48000:c=pink" \
  -filter_complex "[0][1]amix=inputs=2,volume='0.3+0.2*sin(t/7)':eval=frame,aformat=channel_layouts=stereo" "$media"

. scripts/bench-lib.sh
start_ferry FERRY_AUTH_RATE_LIMIT_PER_S=1000000 FERRY_AUTH_RATE_LIMIT_BURST=1000000 FERRY_WORKERS_CONCURRENCY=1 \
  FERRY_AUTH_APPS="[{\"key\":\"$app\",\"secret\":\"bench-secret\"}]"
port=$ferry_port
token=$(curl -s -u "$app:bench-secret" -d grant_type=client_credentials "http://127.0.0.1:$port/v1/auth/token" |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')

job() { # path body -> seconds from POST to Success
  python3 scripts/bench/media-job.py "$port" "$token" "$1" "$2"
}

bare() { # command... -> seconds
  local start end
  start=$(date +%s.%N)
  "$@" > /dev/null 2>&1
  end=$(date +%s.%N)
  python3 -c "print(f'{$end - $start:.3f}')"
}

# The bare commands: what Ferry's jobs run, minus Ferry (analyze in one process; enhance's two passes and its
# check of the result).
bare_analyze() {
  ffmpeg -nostdin -nostats -loglevel info -i "$media" -filter_complex \
    "[0:a:0]asplit=3[m][t][p];[m]ebur128=metadata=1:framelog=verbose,silencedetect=n=-60dB:d=1,ametadata=mode=print:file=$work/m.txt,anullsink;[t]aformat=sample_fmts=fltp,aresample=192000:filter_size=12,asetnsamples=n=192000,astats=metadata=1:reset=1:measure_perchannel=none:measure_overall=Peak_level,ametadata=mode=print:file=$work/t.txt,anullsink;[p]asetnsamples=n=48000,astats=metadata=1:reset=1:measure_perchannel=none:measure_overall=Peak_level,ametadata=mode=print:file=$work/p.txt,anullsink" \
    -f null -
}
bare_enhance() { # codec muxer file: pass 1 (clean, measure), pass 2 (gain, limiter, encode), the check
  ffmpeg -nostdin -y -loglevel info -i "$media" -map 0:a:0 \
    -af "highpass=f=80,afftdn=nr=12:nf=-40,ebur128=peak=true+sample:framelog=verbose" -ar 48000 -c:a pcm_f32le \
    -f wav "$work/clean.wav" &&
    ffmpeg -nostdin -y -loglevel error -i "$work/clean.wav" -map 0:a:0 -af "volume=6dB,alimiter=limit=0.794:level=false" \
      $1 -f "$2" "$work/$3" &&
    ffmpeg -nostdin -loglevel info -i "$work/$3" -af "ebur128=peak=true+sample:framelog=verbose" -f null -
}
bare_enhance_mp3() { bare_enhance "-c:a libmp3lame -b:a 192k" mp3 out.mp3; }
bare_enhance_wav() { bare_enhance "-c:a pcm_s16le" wav out.wav; }
# What a one-output MP3 transcode runs: decode, encode.
bare_transcode() { ffmpeg -nostdin -y -loglevel error -i "$media" -map 0:a:0 -c:a libmp3lame -b:a 192k -f mp3 "$work/t.mp3"; }

realtime() { python3 -c "print(f'{$SECONDS_OF_MEDIA / $1:.0f}x')"; }
rows=()
# Each pair runs Ferry first in odd rounds and the bare commands first in even ones: on this VM whichever
# runs right after a heavy step was seen to run slower.
pair() { # ferry-path ferry-body bare-function -> "ferry-seconds bare-seconds"
  local f b
  if [ $((round % 2)) -eq 1 ]; then f=$(job "$1" "$2"); b=$(bare "$3"); else b=$(bare "$3"); f=$(job "$1" "$2"); fi
  echo "$f $b"
}

if [ "${BENCH_MEDIA_ONLY:-}" != master ]; then
echo "| round | analyze: Ferry s | bare s | Ferry realtime | enhance to WAV: Ferry s | bare s | Ferry realtime | enhance to MP3: Ferry s | bare s | Ferry realtime | transcode to MP3: Ferry s | bare s | Ferry realtime |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|"
for round in $(seq 1 "$ROUNDS"); do
  read -r fa ba < <(pair /media/analyze '{"input": "dlb://in/talk.wav", "output": "dlb://out/analysis.json"}' bare_analyze)
  read -r fw bw < <(pair /media/enhance \
    '{"input": "dlb://in/talk.wav", "output": "dlb://out/talk.wav", "content": {"type": "podcast"}}' bare_enhance_wav)
  read -r fm bm < <(pair /media/enhance \
    '{"input": "dlb://in/talk.wav", "output": "dlb://out/talk.mp3", "content": {"type": "podcast"}}' bare_enhance_mp3)
  read -r ft bt < <(pair /media/transcode \
    '{"inputs": [{"source": "dlb://in/talk.wav"}], "outputs": [{"id": "a", "kind": "mp3", "destination": "dlb://out/t.mp3"}]}' \
    bare_transcode)
  echo "| $round | $fa | $ba | $(realtime "$fa") | $fw | $bw | $(realtime "$fw") | $fm | $bm | $(realtime "$fm") | $ft | $bt | $(realtime "$ft") |"
  rows+=("$fa $ba $fw $bw $fm $bm $ft $bt")
done
printf '%s\n' "${rows[@]}" | python3 scripts/bench/media-summary.py "$SECONDS_OF_MEDIA" "$(nproc)"
fi

# Mastering: what a one-output master to WAV runs (MasterWork), minus Ferry: the input's loudness; the profile
# in two pieces side by side (as Ferry splits a long input on two cores), measured (loudness and sample peak);
# gain and limiter to 16-bit WAV; the check of the result (Ferry streams it beside the encoder).
bare_master() {
  local level staging chain half graph tail
  level=$(ffmpeg -nostdin -nostats -loglevel info -i "$media" -map 0:a:0 -af ebur128=framelog=verbose -f null - 2>&1 |
    grep -E '^ +I:' | tail -1 | awk '{print $2}')
  staging=$(python3 -c "print(-20 - $level)")
  chain=$(python3 scripts/bench/master-chain.py a "$staging")
  half=$((SECONDS_OF_MEDIA / 2))
  tail="astats@sp=measure_perchannel=none:measure_overall=Peak_level,anullsink"
  graph() { # log trim
    echo "[0:a:0]$chain,ebur128=metadata=1,ametadata=mode=print:file=$work/$1,asplit=2[w][q];[w]$2anull[out];[q]$2$tail"
  }
  ffmpeg -nostdin -y -nostats -loglevel info -t "$half" -i "$media" -filter_complex "$(graph m0.txt "")" \
    -map "[out]" -ar 48000 -c:a pcm_f32le -f wav "$work/m0.wav" > /dev/null 2>&1 &
  ffmpeg -nostdin -y -nostats -loglevel info -ss $((half - 3)) -t $((SECONDS_OF_MEDIA - half + 3)) -i "$media" \
    -filter_complex "$(graph m1.txt "atrim=start=3,asetpts=PTS-STARTPTS,")" \
    -map "[out]" -ar 48000 -c:a pcm_f32le -f wav "$work/m1.wav" > /dev/null 2>&1 &
  wait
  ffmpeg -nostdin -y -loglevel error -i "$work/m0.wav" -i "$work/m1.wav" -filter_complex \
    "[0:a:0][1:a:0]concat=n=2:v=0:a=1,volume=6dB,alimiter=limit=0.794:level=false:attack=1:release=40[a]" \
    -map "[a]" -c:a pcm_s16le -vn -map_metadata -1 -f wav "$work/master.wav" &&
    ffmpeg -nostdin -loglevel info -i "$work/master.wav" -af "ebur128=peak=true+sample:framelog=verbose" -f null -
}
master_body='{"inputs": [{"source": "dlb://in/talk.wav"}], "outputs": [{"destination": "dlb://out/master.wav", "master": {"dynamic_eq": {"enable": true, "preset": "a", "intensity": 100}, "loudness": {"enable": true, "target_level": -14}}}]}'
preview_body=$(python3 -c '
import json
outs = [{"destination": f"dlb://out/preview-{p}.wav", "master": {"dynamic_eq": {"enable": True, "preset": p}, "loudness": {"enable": True, "target_level": -14}}} for p in "adgim"]
print(json.dumps({"inputs": [{"source": "dlb://in/talk.wav", "segment": {"start": 120, "duration": 30}}], "outputs": outs}))')

echo
echo "| round | master to WAV (profile a): Ferry s | bare s | Ferry realtime | preview of five profiles (30 s): Ferry s | preview / master time |"
echo "|---|---|---|---|---|---|"
master_rows=()
for round in $(seq 1 "$ROUNDS"); do
  read -r fmaster bmaster < <(pair /media/master "$master_body" bare_master)
  fpreview=$(job /media/master/preview "$preview_body")
  echo "| $round | $fmaster | $bmaster | $(realtime "$fmaster") | $fpreview | $(python3 -c "print(f'{$fpreview / $fmaster:.2f}')") |"
  master_rows+=("$fmaster $bmaster $fpreview")
done
printf '%s\n' "${master_rows[@]}" | python3 -c '
import statistics, sys
rows = [list(map(float, l.split())) for l in sys.stdin if l.strip()]
f, b, p = (statistics.median(r[i] for r in rows) for i in range(3))
s = float(sys.argv[1])
print()
print(f"Medians over {len(rows)} rounds, {sys.argv[1]} s of 48 kHz stereo, {sys.argv[2]} cores:")
print(f"- master to WAV: Ferry {s / f:.0f}x realtime, bare ffmpeg {s / b:.0f}x; Ferry / bare time {f / b:.2f} (overhead {100 * (f / b - 1):+.0f}%)")
print(f"- preview of five profiles on 30 s: {p:.2f} s, {p / f:.2f} of the whole master'"'"'s time")
' "$SECONDS_OF_MEDIA" "$(nproc)"
