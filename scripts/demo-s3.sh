#!/usr/bin/env bash
# A local S3 for trying the README's S3 examples without AWS: moto_server (from .venv) on 127.0.0.1, with the
# bucket "media". Prints the settings Ferry and boto3 / the AWS CLI need, then serves until Ctrl-C, and stops
# moto by its PID. The same examples work against AWS once AWS_ENDPOINT_URL is unset and real keys are set.
set -euo pipefail
PORT=${DEMO_S3_PORT:-9000}
ENDPOINT="http://127.0.0.1:$PORT"
VENV=${VENV:-.venv}

"$VENV/bin/moto_server" -H 127.0.0.1 -p "$PORT" > "${TMPDIR:-/tmp}/ferry-demo-s3.log" 2>&1 &
moto=$!
# Ctrl-C reaches moto too (same process group) and may end it first: stopping is not an error either way.
trap 'kill "$moto" 2>/dev/null || true; wait "$moto" 2>/dev/null || true; echo "stopped the local S3"' EXIT
trap 'exit 0' INT TERM
for _ in $(seq 1 100); do
  curl -sf -o /dev/null "$ENDPOINT/moto-api/" && break
  kill -0 "$moto" 2>/dev/null || { cat "${TMPDIR:-/tmp}/ferry-demo-s3.log" >&2; exit 1; }
  sleep 0.1
done
curl -sf -X PUT -o /dev/null "$ENDPOINT/media"

cat <<MSG
A local S3 (moto) serves $ENDPOINT with the bucket "media" (it keeps objects in memory; Ctrl-C stops it).

Start Ferry so it may reach it and sign s3:// requests for it (in Ferry's terminal):
  FERRY_NETWORK_ALLOW='["127.0.0.1:$PORT"]' FERRY_S3_ENDPOINT=$ENDPOINT FERRY_S3_PATH_STYLE=true make run

Point boto3 and the AWS CLI at it (in the terminal you run the examples from):
  . $VENV/bin/activate
  export AWS_ENDPOINT_URL=$ENDPOINT AWS_ACCESS_KEY_ID=demo-key AWS_SECRET_ACCESS_KEY=demo-secret AWS_DEFAULT_REGION=us-east-1
MSG
wait "$moto" || true
