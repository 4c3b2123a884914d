#!/usr/bin/env bash
# Runs the built test suites TEST_JOBS at a time (default: one more than the cores), each suite in a process of
# its own, and prints what failed. `make test` calls it after `swift build --build-tests`.
#
# Why processes and not Swift Testing's own parallelism: one process running every suite at once put the heavy
# suites (schemathesis, Chromium, 500 clients, media) beside the timing-sensitive ones (a cancel's latency, a
# shutdown's grace) on 2 cores. Here at most TEST_JOBS suites run at once, each serially inside, and each
# process has its own peers (moto, PostgreSQL), temporary directories and ports. The suites wait on their
# peers and child processes about a quarter of their time: a third process on 2 cores fills those waits
# (2026-12-07, 118 suites: 203 s two at a time, 173 s three at a time; 297 s of CPU).
#
#   scripts/test-suites.sh                  every suite
#   scripts/test-suites.sh 'Cluster|TLS'    the suites whose name matches the extended regex
#   TEST_JOBS=1 scripts/test-suites.sh      one suite at a time
set -uo pipefail

jobs="${TEST_JOBS:-$(($(nproc) + 1))}"
pattern="${1:-.}"
bin="$(swift build --show-bin-path)/FerryPackageTests.xctest"
logs="$(mktemp -d /tmp/ferry-tests.XXXXXX)"

# The longest suites start first so that none of them is left running alone at the end (the order of a run on
# 2026-12-07 with 117 suites; a suite not listed counts as short).
heavy=(
  FerryTests.SchemathesisTests FerryTests.ClusterTests FerryTests.ClusterStitchTests FerryTests.CrashRecoveryTests FerryTests.DolbyCorpusTests
  MediaTests.MasterTests HTTPServerTests.TLSListenerTests FerryTests.AnalyzeMemoryTests MediaTests.TruncatedInputTests
  TransferTests.S3MultipartTests MediaTests.EnhanceJobTests FerryTests.ClientCommandTests MediaTests.MediaOnS3Tests
  FerryTests.AbuseTests TransferTests.S3IntegrationTests MediaTests.AnalyzeJobTests HTTPServerTests.LiveServerTests
)

mapfile -t suites < <("$bin" --testing-library swift-testing --list-tests 2>/dev/null | sed 's|/.*||' | sort -u |
  grep -E -- "$pattern")
if ((${#suites[@]} == 0)); then
  echo "no test suite matches '$pattern'" >&2
  exit 1
fi
# XCTest cases would not run below: refuse to pass over them silently.
if ! "$bin" --list-tests 2>/dev/null | grep -q '^Listing 0 tests'; then
  echo "XCTest cases found: this runner only runs Swift Testing suites" >&2
  exit 1
fi

ordered=()
for suite in "${heavy[@]}"; do
  [[ " ${suites[*]} " == *" $suite "* ]] && ordered+=("$suite")
done
for suite in "${suites[@]}"; do
  [[ " ${heavy[*]} " == *" $suite "* ]] || ordered+=("$suite")
done

run_suite() {
  local suite="$1" start status
  start=$EPOCHREALTIME
  "$bin" --testing-library swift-testing --no-parallel --filter "^${suite//./\\.}/" >"$logs/$suite.log" 2>&1
  status=$?
  printf '%-52s %s %6.1f s\n' "$suite" "$( ((status == 0)) && echo passed || echo FAILED)" \
    "$(awk "BEGIN {print $EPOCHREALTIME - $start}")"
  return $status
}
export -f run_suite
export bin logs

started=$(date +%s)
printf '%s\n' "${ordered[@]}" | xargs -P "$jobs" -I{} bash -c 'run_suite "$1"' _ {}
status=$?
elapsed=$(($(date +%s) - started))

failed=$(grep -L 'Test run with .* passed after' "$logs"/*.log)
tests=$(grep -ho 'Test run with [0-9]* tests\?' "$logs"/*.log | awk '{s += $4} END {print s + 0}')
for log in $failed; do
  echo "=== $(basename "$log" .log) ==="
  cat "$log"
done
echo "${#ordered[@]} suites, $tests tests, $jobs at a time, ${elapsed} s"
if ((status != 0)) || [[ -n "$failed" ]]; then
  echo "FAILED (logs in $logs): $(for log in $failed; do basename "$log" .log; done | tr '\n' ' ')"
  exit 1
fi
rm -rf "$logs"
