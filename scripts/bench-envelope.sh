#!/usr/bin/env bash
# User-space instructions per status envelope (BENCHMARKS.md, "The status envelope's writer"): Ferry's byte
# writer against a JSONValue tree and a Codable value through JSONEncoder, each rendered from the same
# JobStatusView. Instructions, not time: callgrind's count repeats exactly even with the other core busy.
# Each figure is the difference between 2,000 and 1,000 renders, so start-up cancels out.
# Needs valgrind; builds EnvelopeBench (release) into .build-bench.
set -euo pipefail
cd "$(dirname "$0")/.."
FERRY_BENCH=1 ${SWIFT:-swift} build -c release --scratch-path .build-bench --product EnvelopeBench >&2
bench=.build-bench/release/EnvelopeBench

instructions() { # writer job count -> instructions collected
  valgrind --tool=callgrind --callgrind-out-file=/dev/null "$bench" "$@" 2>&1 |
    sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
}

echo "| job | bytes | byte writer | JSONValue tree | Codable + JSONEncoder |"
echo "|---|---|---|---|---|"
for job in pending running success failed; do
  row="| $job | $("$bench" bytes "$job" 1)"
  for writer in bytes jsonvalue codable; do
    row+=" | $(( ($(instructions "$writer" "$job" 2000) - $(instructions "$writer" "$job" 1000)) / 1000 ))"
  done
  echo "$row |"
done
