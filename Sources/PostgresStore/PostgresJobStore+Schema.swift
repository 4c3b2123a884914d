import Jobs
import Postgres

extension PostgresJobStore {
  /// The advisory lock that serializes migrations: every node that starts takes it in its migration
  /// transaction, so however many start together, one migrates and the others find the work done.
  static let migrationLock: Int64 = 0x4665_7272_7953_4348  // "FerrySCH"

  /// Schema versions in order; a database at version n runs migrations n... (`ferry_schema.version`).
  /// The same tables and rules as the SQLite schema (its version 3), in PostgreSQL's types.
  static let migrations: [String] = [
    // 1: jobs, webhooks and the delivery outbox. The CHECKs make impossible rows impossible: an ended job has
    // a completion time and no lease, a running one has a lease and a start time, only a success has a
    // result, only failures have an error. Times are milliseconds since 1970, as Job holds them.
    """
    CREATE TABLE jobs (
      seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      id uuid NOT NULL UNIQUE,
      owner text NOT NULL,
      path text NOT NULL,
      request bytea NOT NULL,
      request_digest text NOT NULL,
      idempotency_key text,
      status text NOT NULL
        CHECK (status IN ('Pending', 'Running', 'Success', 'Failed', 'Cancelled', 'InternalError')),
      phase text NOT NULL CHECK (phase IN ('queued', 'downloading', 'processing', 'uploading')),
      progress integer NOT NULL CHECK (progress BETWEEN 0 AND 100),
      bytes_done bigint NOT NULL CHECK (bytes_done >= 0),
      bytes_total bigint CHECK (bytes_total >= 0),
      duration double precision NOT NULL CHECK (duration >= 0),
      submitted_ms bigint NOT NULL,
      started_ms bigint,
      completed_ms bigint,
      expires_ms bigint NOT NULL,
      deadline_ms bigint,
      not_before_ms bigint NOT NULL,
      attempt integer NOT NULL CHECK (attempt >= 0),
      attempts jsonb NOT NULL CHECK (jsonb_typeof(attempts) = 'array'),
      lease_holder text,
      lease_expires_ms bigint,
      cancel_requested boolean NOT NULL,
      -- Kept as the text the worker wrote (jsonb would reformat it); the cast refuses text that is not JSON.
      result text CHECK (result IS NULL OR result::jsonb IS NOT NULL),
      error jsonb,
      on_complete boolean NOT NULL DEFAULT false,
      CHECK ((status IN ('Success', 'Failed', 'Cancelled', 'InternalError')) = (completed_ms IS NOT NULL)),
      CHECK ((status = 'Running') = (lease_holder IS NOT NULL)),
      CHECK ((lease_holder IS NULL) = (lease_expires_ms IS NULL)),
      CHECK (status NOT IN ('Running', 'Success') OR (started_ms IS NOT NULL AND attempt > 0)),
      CHECK ((status = 'Success') = (result IS NOT NULL)),
      CHECK ((status IN ('Failed', 'InternalError')) = (error IS NOT NULL)),
      CHECK (status <> 'Success' OR progress = 100),
      CHECK (NOT cancel_requested OR status = 'Running')
    );
    -- Claiming: pending jobs by deadline (none last), then submission order.
    CREATE INDEX jobs_ready ON jobs (deadline_ms ASC NULLS LAST, seq) WHERE status = 'Pending';
    -- Listing an owner's jobs, newest first, with or without a status filter.
    CREATE INDEX jobs_owner ON jobs (owner, seq);
    CREATE INDEX jobs_owner_status ON jobs (owner, status, seq);
    -- Idempotent submission: one job per owner, path and Idempotency-Key; identical bodies found by digest.
    CREATE UNIQUE INDEX jobs_idempotency ON jobs (owner, path, idempotency_key) WHERE idempotency_key IS NOT NULL;
    CREATE INDEX jobs_digest ON jobs (owner, request_digest);
    -- Recovery and retention.
    CREATE INDEX jobs_leases ON jobs (lease_expires_ms) WHERE status = 'Running';
    CREATE INDEX jobs_expiry ON jobs (expires_ms);

    -- One registration per app. A delivery to the registered webhook keeps the callback it had then (sealed
    -- under the webhook's id); one to a job's on_complete reads it from the job's sealed request.
    CREATE TABLE webhooks (
      owner text PRIMARY KEY,
      id uuid NOT NULL UNIQUE,
      callback bytea NOT NULL
    );
    CREATE TABLE deliveries (
      seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      id uuid NOT NULL UNIQUE,
      job_id uuid NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
      owner text NOT NULL,
      webhook_id uuid,
      callback bytea,
      created_ms bigint NOT NULL,
      next_attempt_ms bigint NOT NULL,
      state text NOT NULL CHECK (state IN ('pending', 'delivered', 'failed')),
      attempts jsonb NOT NULL CHECK (jsonb_typeof(attempts) = 'array'),
      CHECK ((webhook_id IS NULL) = (callback IS NULL))
    );
    CREATE INDEX deliveries_due ON deliveries (next_attempt_ms, seq) WHERE state = 'pending';
    CREATE INDEX deliveries_job ON deliveries (job_id, seq);
    """,
    // 2: multipart uploads a run started and did not finish, to abort after a crash.
    """
    ALTER TABLE jobs ADD COLUMN open_uploads jsonb NOT NULL DEFAULT '[]'
      CHECK (jsonb_typeof(open_uploads) = 'array');
    """,
  ]

  /// Brings the schema to the current version in one transaction under `migrationLock`.
  static func migrate(_ connection: PostgresConnection) throws {
    try connection.transaction { connection in
      // Held until this transaction ends: a node that starts meanwhile waits here, then sees the new version.
      try connection.execute("SELECT pg_advisory_xact_lock($1::bigint)", [.int(migrationLock)])
      try connection.execute(
        """
        CREATE TABLE IF NOT EXISTS ferry_schema (
          one boolean PRIMARY KEY DEFAULT true CHECK (one),
          version integer NOT NULL CHECK (version >= 0)
        )
        """)
      let version = try connection.execute("SELECT version FROM ferry_schema").first?.int(0) ?? 0
      guard version <= migrations.count else {
        throw JobStoreError.database(
          "the job store is at schema version \(version), newer than this build knows (\(migrations.count))")
      }
      for migration in migrations.dropFirst(version) { try connection.executeScript(migration) }
      try connection.execute(
        """
        INSERT INTO ferry_schema (one, version) VALUES (true, $1::integer)
        ON CONFLICT (one) DO UPDATE SET version = EXCLUDED.version
        """, [.int(migrations.count)])
    }
  }
}
