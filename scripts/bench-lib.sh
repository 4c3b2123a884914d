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

# Starts nginx serving $work/files/ on a free port (sendfile on; temporary files in $work/tmp); sets port.
start_file_nginx() {
  port=$(free_port)
  cat > "$work/nginx.conf" <<CONF
worker_processes auto;
pid $work/nginx.pid;
error_log $work/nginx-error.log;
events { worker_connections 1024; }
http {
  access_log off;
  sendfile on;
  client_body_temp_path $work/tmp;
  server {
    listen 127.0.0.1:$port;
    location /files/ { root $work; }
  }
}
CONF
  chmod 755 "$work" "$work/files"
  nginx -c "$work/nginx.conf" -p "$work"
}

# Starts a command with stdout to $log and waits for its first line's `127.0.0.1:PORT`; adds its PID to pids
# and sets listening_port (the bench sinks and the throttling proxy print that line).
start_listener() { # log command...
  local log=$1
  shift
  "$@" > "$log" &
  pids+=($!)
  listening_port=""
  for _ in $(seq 1 100); do
    listening_port=$(head -1 "$log" | grep -o '127\.0\.0\.1:[0-9]*' | cut -d: -f2 || true)
    [ -n "$listening_port" ] && break
    sleep 0.05
  done
  [ -n "$listening_port" ] || { echo "$* did not start" >&2; exit 1; }
}
