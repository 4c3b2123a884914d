#!/usr/bin/env bash
# The README's flow with curl alone: token, dlb:// upload, enhance, poll, download. Runs against a Ferry at
# $FERRY (default http://127.0.0.1:8080) with the app $KEY / $SECRET; the test suite runs it against a real
# `ferry serve`, over http:// and over https:// (a private CA in CURL_CA_BUNDLE, which curl reads). Prints the
# downloaded file's path on success.
set -euo pipefail
FERRY=${FERRY:-http://127.0.0.1:8080}
work=${WORK:-$(mktemp -d)}
json() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }

ffmpeg -loglevel error -y -f lavfi -i "sine=f=440:d=5" -af volume=-30dB "$work/quiet.wav"
TOKEN=$(curl -sf -u "$KEY:$SECRET" -d grant_type=client_credentials "$FERRY/v1/auth/token" | json '["access_token"]')
UPLOAD=$(curl -sf -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
  -d '{"url": "dlb://in/quiet.wav"}' "$FERRY/media/input" | json '["url"]')
curl -sf -T "$work/quiet.wav" "$UPLOAD" > /dev/null
JOB=$(curl -sf -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
  -d '{"input": "dlb://in/quiet.wav", "output": "dlb://out/loud.wav", "content": {"type": "podcast"}}' \
  "$FERRY/media/enhance" | json '["job_id"]')
for _ in $(seq 1 300); do
  STATUS=$(curl -sf -H "Authorization: Bearer $TOKEN" "$FERRY/media/enhance?job_id=$JOB" | json '["status"]')
  [ "$STATUS" = Pending ] || [ "$STATUS" = Running ] || break
  sleep 0.1
done
[ "$STATUS" = Success ] || { echo "job ended $STATUS" >&2; exit 1; }
curl -sf -H "Authorization: Bearer $TOKEN" -o "$work/loud.wav" "$FERRY/media/output?url=dlb://out/loud.wav"
echo "$work/loud.wav"
