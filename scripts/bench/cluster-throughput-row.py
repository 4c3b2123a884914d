# scripts/bench-cluster.sh: one row of the job-throughput table; exits when not every job succeeded.
# Arguments: the batch's JSON (cluster.py batch), job kind, store label, jobs started per node, the SQLite
# node's seconds (the reference), the number of jobs.
import json, sys
r, job, label, per_node, reference, jobs = json.loads(sys.argv[1]), *sys.argv[2:]
jobs, reference = int(jobs), float(reference)
if r["statuses"].get("Success", 0) != jobs:
    sys.exit(f"{job} on {label}: {r['statuses']} (not every job succeeded)")
nodes = r["cpu"]["nodes"]
own = " / ".join(f"{s:.1f}" for s, _ in nodes)
media = " / ".join(f"{c:.1f}" for _, c in nodes)
pg = "—" if r["cpu"]["pg"] is None else f"{r['cpu']['pg']:.1f}"
busy = f"{r['cpu']['busy']:.0f}%"
# Same batch on every store: the jobs/s ratio is the inverse ratio of the times.
print(f"| {job} | {label} | {r['elapsed']:.1f} | {jobs / r['elapsed']:.2f} | {reference / r['elapsed']:.2f}x "
      f"| {per_node} | {own} | {media} | {pg} | {busy} |")
