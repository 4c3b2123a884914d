# Shared by the benchmark scripts (sourced, not run).

# A TCP port on 127.0.0.1 that was free a moment ago.
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# Starts the release `ferry serve` on a free port with data in $work/data and the environment given as
# VAR=value arguments; sets ferry_pid and ferry_port (read from the `listening` log line in $work/ferry.log).
start_ferry() {
  env FERRY_SERVER_PORT=0 FERRY_DATA_DIR="$work/data" "$@" ./.build/release/ferry serve 2> "$work/ferry.log" &
  ferry_pid=$!
  ferry_port=$(listening_port "$ferry_pid" "$work/ferry.log") || exit 1
}

# Prints the port a `ferry serve` (pid $1) logs in its `listening` line in the log $2, waiting up to 10 s;
# fails (with the log on stderr) when it ends or does not say in time.
listening_port() {
  local pid=$1 log=$2 port=""
  for _ in $(seq 1 100); do
    port=$(grep -o '"msg":"listening".*"port":[0-9]*' "$log" | grep -o '"port":[0-9]*' | cut -d: -f2 || true)
    [ -n "$port" ] && break
    kill -0 "$pid" 2> /dev/null || break
    sleep 0.1
  done
  [ -n "$port" ] || { echo "ferry ($log) did not start" >&2; cat "$log" >&2; return 1; }
  echo "$port"
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

# Ends process `pid`: SIGTERM, up to 10 s for it to end, then SIGKILL.
stop_pid() {
  local pid=$1
  kill "$pid" 2>/dev/null || return 0
  for _ in $(seq 1 100); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -9 "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

# PostgreSQL refuses to run as root: a bench's throw-away cluster lives in $pgdir (a directory of its own),
# which the postgres user owns. Runs a command as that user when this script is root.
as_postgres() {
  if [ "$(id -u)" -eq 0 ]; then (cd "$pgdir" && runuser -u postgres -- "$@"); else (cd "$pgdir" && "$@"); fi
}

# Makes a cluster in $pgdir (the server's default settings, durable) and starts it on a free loopback port;
# sets pgbin, pg_port and pg_pid. stop_postgres ends it.
start_postgres() {
  pgbin=$(ls -d /usr/lib/postgresql/*/bin 2> /dev/null | sort -V | tail -1)
  [ -x "$pgbin/pg_ctl" ] || { echo "PostgreSQL server binaries not found (apt-get install postgresql)" >&2; exit 1; }
  [ "$(id -u)" -ne 0 ] || chown postgres: "$pgdir"
  as_postgres "$pgbin/initdb" -D "$pgdir/data" -U postgres -A trust -E UTF8 --locale=C > "$pgdir/initdb.log" 2>&1 ||
    { cat "$pgdir/initdb.log" >&2; exit 1; }
  pg_port=""
  local port
  for _ in 1 2 3; do
    port=$(free_port)
    if as_postgres "$pgbin/pg_ctl" -D "$pgdir/data" -l "$pgdir/server.log" -w -t 60 \
      -o "-p $port -k $pgdir -c listen_addresses=127.0.0.1" start > /dev/null 2>&1; then
      pg_port=$port
      break
    fi
  done
  [ -n "$pg_port" ] || { echo "PostgreSQL did not start" >&2; cat "$pgdir/server.log" >&2; exit 1; }
  pg_pid=$(head -1 "$pgdir/data/postmaster.pid")
}

# Stops the cluster start_postgres started; pg_ctl waits for the postmaster, and if it did not end (or pg_ctl
# failed), it is ended by its PID.
stop_postgres() {
  [ -n "${pg_pid:-}" ] || return 0
  as_postgres "$pgbin/pg_ctl" -D "$pgdir/data" -m immediate -w -t 30 stop > /dev/null 2>&1 || true
  kill -0 "$pg_pid" 2>/dev/null && kill -9 "$pg_pid" 2>/dev/null || true
}
