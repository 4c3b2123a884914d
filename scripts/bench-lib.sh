# Shared by the benchmark scripts (sourced, not run).

# A TCP port on 127.0.0.1 that was free a moment ago.
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# Starts the release `ferry serve` on a free port with data in $work/data and the environment given as
# VAR=value arguments; sets ferry_pid and ferry_port (read from the `listening` log line in $work/ferry.log).
start_ferry() {
  env FERRY_SERVER_PORT=0 FERRY_DATA_DIR="$work/data" "$@" ./.build/release/ferry serve 2> "$work/ferry.log" &
  ferry_pid=$!
  ferry_port=""
  for _ in $(seq 1 100); do
    ferry_port=$(grep -o '"msg":"listening".*"port":[0-9]*' "$work/ferry.log" | grep -o '"port":[0-9]*' | cut -d: -f2 || true)
    [ -n "$ferry_port" ] && break
    sleep 0.1
  done
  [ -n "$ferry_port" ] || { echo "ferry did not start" >&2; cat "$work/ferry.log" >&2; exit 1; }
}
