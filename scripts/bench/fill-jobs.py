# scripts/bench-jobs.sh: fills Ferry's SQLite store to 100,000 jobs, rows as Ferry stores pending jobs (never
# opened, so the request bytes are random). Argument: the ferry.db of a stopped node.
import os, sqlite3, sys, time, uuid
db = sqlite3.connect(sys.argv[1])
have = db.execute("select count(*) from jobs").fetchone()[0]
now = int(time.time() * 1000)
rows = [(str(uuid.uuid4()), "bench", "/media/enhance", os.urandom(120), os.urandom(32).hex(), "Pending", "queued",
         0, 0, 0.0, now, now + 31 * 86400000, now, 0, "[]", 0) for _ in range(max(0, 100000 - have))]
db.executemany("""INSERT INTO jobs (id, owner, path, request, request_digest, status, phase, progress, bytes_done,
  duration, submitted_ms, expires_ms, not_before_ms, attempt, attempts, cancel_requested)
  VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)""", rows)
db.commit()
