# scripts/bench-cluster.sh's helpers: CPU seconds from /proc, wrk output summaries, the job batch.
# Usage: cluster.py snapshot|delta|wrk|batch ARGUMENTS (see the end of this file).
import http.client, json, os, re, sys, time

TICK = os.sysconf("SC_CLK_TCK")

def stat(pid):
    # Fields after the command name (which may hold spaces): state is [0], ppid [1], utime [11], stime [12],
    # cutime [13], cstime [14] (man 5 proc, fields 3, 4, 14-17).
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()

def cpu(kind, pid):
    """Seconds of CPU: 'self' (utime+stime), 'children' (waited-for children: ffmpeg, ffprobe) or 'tree' (a
    postmaster, its live processes, and those that ended, which its cutime+cstime hold)."""
    fields = stat(pid)
    if kind == "self":
        return (int(fields[11]) + int(fields[12])) / TICK
    if kind == "children":
        return (int(fields[13]) + int(fields[14])) / TICK
    total = sum(int(x) for x in fields[11:15])
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                f = stat(entry)
            except OSError:
                continue  # ended meanwhile: its time is now in the postmaster's cutime
            if f[1] == str(pid):
                total += int(f[11]) + int(f[12])
    return total / TICK

def machine():
    """The whole machine's CPU ticks from /proc/stat: (busy, iowait, all)."""
    with open("/proc/stat") as f:
        user, nice, system, idle, iowait, irq, softirq, steal = map(int, f.readline().split()[1:9])
    return (user + nice + system + irq + softirq + steal, iowait, user + nice + system + idle + iowait + irq + softirq + steal)

def snapshot(nodes, pg):
    return {"nodes": [(cpu("self", p), cpu("children", p)) for p in nodes], "pg": cpu("tree", pg) if pg else None,
            "machine": machine()}

def delta(before, after):
    """CPU seconds spent between two snapshots; the machine's share busy and in I/O wait, in percent."""
    busy, iowait, total = (a - b for a, b in zip(after["machine"], before["machine"]))
    return {"nodes": [(a[0] - b[0], a[1] - b[1]) for b, a in zip(before["nodes"], after["nodes"])],
            "pg": None if before["pg"] is None else after["pg"] - before["pg"],
            "busy": 100 * busy / max(1, total), "iowait": 100 * iowait / max(1, total)}

def ms(text):
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()
    return float(value) * {"us": 0.001, "ms": 1, "s": 1000, "m": 60000}[unit]

def wrk_summary(paths):
    """Several wrk outputs (one per node, run in parallel): summed requests/s, requests, non-2xx, socket
    errors, and the highest p99 (percentiles of separate runs do not combine exactly)."""
    rps = requests = non2xx = socket = 0
    p99 = 0.0
    for path in paths:
        text = open(path).read()
        rps += float(re.search(r"^Requests/sec:\s+([\d.]+)", text, re.M).group(1))
        requests += int(re.search(r"^\s*(\d+) requests in", text, re.M).group(1))
        m = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
        non2xx += int(m.group(1)) if m else 0
        m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
        socket += sum(map(int, m.groups())) if m else 0
        p99 = max(p99, ms(re.search(r"^\s*99%\s+(\S+)", text, re.M).group(1)))
    return rps, requests, non2xx, socket, p99

def batch(ports, pids, pg, token, path, body_template, count, timeout):
    """POSTs `count` jobs round-robin over the nodes, polls until every one is Success; prints JSON with the
    time from the first POST, and the CPU each process spent meanwhile."""
    connections = [http.client.HTTPConnection("127.0.0.1", p, timeout=30) for p in ports]
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    def call(i, method, url, body=None):
        c = connections[i % len(connections)]
        c.request(method, url, body=body, headers=headers)
        r = c.getresponse()
        data = r.read()
        if r.status != 200:
            sys.exit(f"{method} {url} on port {c.port}: {r.status} {data[:300]!r}")
        return json.loads(data)
    run = os.urandom(4).hex()  # unique bodies: an identical body within 10 minutes answers the earlier job
    before = snapshot(pids, pg)
    start = time.monotonic()
    jobs = [call(i, "POST", path, body_template.replace("{n}", f"{run}-{i}"))["job_id"] for i in range(count)]
    submitted = time.monotonic() - start
    status = {}
    deadline = start + timeout
    while time.monotonic() < deadline:
        for i, job in enumerate(jobs):
            if status.get(job) not in ("Success", "Failed", "Cancelled", "InternalError"):
                status[job] = call(i + 1, "GET", f"{path}?job_id={job}")["status"]
        if all(s not in ("Pending", "Running") for s in status.values()):
            break
        time.sleep(0.2)
    elapsed = time.monotonic() - start
    after = snapshot(pids, pg)
    counts = {}
    for s in status.values():
        counts[s] = counts.get(s, 0) + 1
    print(json.dumps({"elapsed": elapsed, "submitted": submitted, "statuses": counts,
                      "cpu": delta(before, after)}))

if __name__ == "__main__":
    command, args = sys.argv[1], sys.argv[2:]
    if command == "snapshot":  # pg_pid node_pid... -> JSON
        print(json.dumps(snapshot([int(p) for p in args[1:]], int(args[0]) or None)))
    elif command == "delta":  # before_json after_json -> JSON
        print(json.dumps(delta(json.loads(args[0]), json.loads(args[1]))))
    elif command == "wrk":
        print(*wrk_summary(args))
    elif command == "batch":  # ports pids pg token path body count timeout
        batch([int(p) for p in args[0].split(",")], [int(p) for p in args[1].split(",")], int(args[2]) or None,
              args[3], args[4], args[5], int(args[6]), float(args[7]))
