#!/usr/bin/env bash
# Schemathesis (pinned in requirements-test.txt) against a running Ferry at $FERRY with the app $KEY / $SECRET:
# every operation in openapi.yaml, a bounded number of cases each, failing on any 5xx and on any answer the
# spec does not describe (status code, content type, headers, body schema). The test suite runs it against a
# real `ferry serve` in a network namespace with only loopback: generated jobs name arbitrary URLs, so by hand
# run it against a Ferry that cannot reach outside. $SEED replaces the fixed seed (scripts/schemathesis.toml).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
FERRY=${FERRY:-http://127.0.0.1:8080}
work=${WORK:-$(mktemp -d)}
TOKEN=$(curl -sf -m 30 -u "$KEY:$SECRET" -d grant_type=client_credentials "$FERRY/v1/auth/token" \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
# The spec's example dlb:// keys hold a short tone, so downloads (whole and ranged) and jobs that succeed are
# checked too, not only refusals.
ffmpeg -loglevel error -y -f lavfi -i "sine=f=440:d=2" "$work/tone.wav"
for key in in/talk.wav out/loud.wav; do
  UPLOAD=$(curl -sf -m 30 -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
    -d "{\"url\": \"dlb://$key\"}" "$FERRY/media/input" | python3 -c 'import json,sys; print(json.load(sys.stdin)["url"])')
  curl -sf -m 30 -T "$work/tone.wav" "$UPLOAD" > /dev/null
done
# scripts/schemathesis.toml reads the credentials from the environment; the output shows them filtered.
export KEY SECRET TOKEN
# Schemathesis keeps caches in its working directory: not in the checkout.
cd "$work"
exec "${SCHEMATHESIS:-schemathesis}" --config-file "$root/scripts/schemathesis.toml" --no-color run \
  "$root/openapi.yaml" --url "$FERRY" ${SEED:+--seed "$SEED"}
