import Jobs
import SQLite

extension SQLiteJobStore {
  /// Schema versions in order; a database at version n runs migrations n... (`PRAGMA user_version`).
  static let migrations: [String] = [
    // 1: jobs. The CHECKs make impossible rows impossible: an ended job has a completion time and no lease, a
    // running one has a lease and a start time, only a success has a result, only failures have an error.
    """
    CREATE TABLE jobs (
      seq INTEGER PRIMARY KEY AUTOINCREMENT,
      id TEXT NOT NULL UNIQUE,
      owner TEXT NOT NULL,
      path TEXT NOT NULL,
      request BLOB NOT NULL,
      request_digest TEXT NOT NULL,
      idempotency_key TEXT,
      status TEXT NOT NULL
        CHECK (status IN ('Pending', 'Running', 'Success', 'Failed', 'Cancelled', 'InternalError')),
      phase TEXT NOT NULL CHECK (phase IN ('queued', 'downloading', 'processing', 'uploading')),
      progress INTEGER NOT NULL CHECK (progress BETWEEN 0 AND 100),
      bytes_done INTEGER NOT NULL CHECK (bytes_done >= 0),
      bytes_total INTEGER CHECK (bytes_total >= 0),
      duration REAL NOT NULL CHECK (duration >= 0),
      submitted_ms INTEGER NOT NULL,
      started_ms INTEGER,
      completed_ms INTEGER,
      expires_ms INTEGER NOT NULL,
      deadline_ms INTEGER,
      not_before_ms INTEGER NOT NULL,
      attempt INTEGER NOT NULL CHECK (attempt >= 0),
      attempts TEXT NOT NULL CHECK (json_valid(attempts) AND json_type(attempts) = 'array'),
      lease_holder TEXT,
      lease_expires_ms INTEGER,
      cancel_requested INTEGER NOT NULL CHECK (cancel_requested IN (0, 1)),
      result TEXT CHECK (result IS NULL OR json_valid(result)),
      error TEXT CHECK (error IS NULL OR json_valid(error)),
      CHECK ((status IN ('Success', 'Failed', 'Cancelled', 'InternalError')) = (completed_ms IS NOT NULL)),
      CHECK ((status = 'Running') = (lease_holder IS NOT NULL)),
      CHECK ((lease_holder IS NULL) = (lease_expires_ms IS NULL)),
      CHECK (status NOT IN ('Running', 'Success') OR (started_ms IS NOT NULL AND attempt > 0)),
      CHECK ((status = 'Success') = (result IS NOT NULL)),
      CHECK ((status IN ('Failed', 'InternalError')) = (error IS NOT NULL)),
      CHECK (status <> 'Success' OR progress = 100),
      CHECK (cancel_requested = 0 OR status = 'Running')
    );
    -- Claiming: pending jobs by deadline (none last), then submission order.
    CREATE INDEX jobs_ready ON jobs (coalesce(deadline_ms, 9223372036854775807), seq) WHERE status = 'Pending';
    -- Listing an owner's jobs, newest first, with or without a status filter.
    CREATE INDEX jobs_owner ON jobs (owner, seq);
    CREATE INDEX jobs_owner_status ON jobs (owner, status, seq);
    -- Idempotent submission: one job per owner and Idempotency-Key; identical bodies found by digest.
    CREATE UNIQUE INDEX jobs_idempotency ON jobs (owner, idempotency_key) WHERE idempotency_key IS NOT NULL;
    CREATE INDEX jobs_digest ON jobs (owner, request_digest);
    -- Recovery and retention.
    CREATE INDEX jobs_leases ON jobs (lease_expires_ms) WHERE status = 'Running';
    CREATE INDEX jobs_expiry ON jobs (expires_ms);
    """,
    // 2: an Idempotency-Key names a job per path (the same key on /media/analyze is another job).
    """
    DROP INDEX jobs_idempotency;
    CREATE UNIQUE INDEX jobs_idempotency ON jobs (owner, path, idempotency_key) WHERE idempotency_key IS NOT NULL;
    """,
    // 3: webhooks. One registration per app; the outbox of calls owed for ended jobs, added in the write that
    // ends the job. A delivery to the registered webhook keeps the callback it had then (sealed under the
    // webhook's id); one to a job's on_complete reads it from the job's sealed request.
    """
    ALTER TABLE jobs ADD COLUMN on_complete INTEGER NOT NULL DEFAULT 0 CHECK (on_complete IN (0, 1));
    CREATE TABLE webhooks (
      owner TEXT PRIMARY KEY,
      id TEXT NOT NULL UNIQUE,
      callback BLOB NOT NULL
    );
    CREATE TABLE deliveries (
      seq INTEGER PRIMARY KEY AUTOINCREMENT,
      id TEXT NOT NULL UNIQUE,
      job_id TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
      owner TEXT NOT NULL,
      webhook_id TEXT,
      callback BLOB,
      created_ms INTEGER NOT NULL,
      next_attempt_ms INTEGER NOT NULL,
      state TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'failed')),
      attempts TEXT NOT NULL CHECK (json_valid(attempts) AND json_type(attempts) = 'array'),
      CHECK ((webhook_id IS NULL) = (callback IS NULL))
    );
    CREATE INDEX deliveries_due ON deliveries (next_attempt_ms, seq) WHERE state = 'pending';
    CREATE INDEX deliveries_job ON deliveries (job_id, seq);
    """,
    // 4: multipart uploads a run started and did not finish, to abort after a crash.
    """
    ALTER TABLE jobs ADD COLUMN open_uploads TEXT NOT NULL DEFAULT '[]'
      CHECK (json_valid(open_uploads) AND json_type(open_uploads) = 'array');
    """,
  ]

  static func migrate(_ database: SQLiteDatabase) throws {
    let version = Int(try database.scalar("PRAGMA user_version"))
    guard version <= migrations.count else {
      throw JobStoreError.database(
        "the job store is at schema version \(version), newer than this build knows (\(migrations.count))")
    }
    for (index, migration) in migrations.enumerated().dropFirst(version) {
      try database.execute("BEGIN IMMEDIATE")
      do {
        try database.execute(migration)
        try database.execute("PRAGMA user_version = \(index + 1)")
        try database.execute("COMMIT")
      } catch {
        try? database.execute("ROLLBACK")
        throw error
      }
    }
  }
}
