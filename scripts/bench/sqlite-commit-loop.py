# scripts/bench-jobs.sh's reference: single-row INSERT + COMMIT on SQLite, WAL and synchronous=FULL, for a
# while; prints the commits per second. Arguments: database path, seconds.
import os, sqlite3, sys, time
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("PRAGMA journal_mode=WAL"); db.execute("PRAGMA synchronous=FULL")
db.execute("CREATE TABLE jobs (seq INTEGER PRIMARY KEY, id TEXT, request BLOB)")
n, start = 0, time.monotonic()
while time.monotonic() - start < float(sys.argv[2]):
    db.execute("BEGIN"); db.execute("INSERT INTO jobs (id, request) VALUES (?, ?)", (os.urandom(16).hex(), os.urandom(120))); db.execute("COMMIT")
    n += 1
print(f"{n / (time.monotonic() - start):.0f}")
