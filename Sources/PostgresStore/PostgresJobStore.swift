import Foundation
import Jobs
import Postgres

/// The job store on PostgreSQL, shared by every node of a cluster. Each write is one transaction; claims take
/// a row with `FOR UPDATE SKIP LOCKED`, so nodes never wait on each other's claims and never take the same
/// job. Nothing is cached: another node may have changed any row since this one last read it.
///
/// libpq blocks: writes run on the store's own queue (a few at a time, each on a pooled connection), never on
/// the caller's thread; reads run on the caller's thread like the SQLite store's.
public final class PostgresJobStore: JobStore {
  let pool: PostgresPool
  /// Where writes run: threads of the store's own, a few at a time.
  private let writes: PostgresWorkQueue

  /// Connects to `url` (a libpq URL: `postgresql://user:password@host:port/database`) and migrates the schema
  /// to the current version. `connections` bounds the connections this store opens. Errors never quote the
  /// URL: it holds a password.
  public init(url: String, connections: Int = 6) throws {
    pool = PostgresPool(url: url, size: max(2, connections))
    // Leave a connection or two for reads, which run on their callers' threads.
    writes = PostgresWorkQueue(name: "ferry.jobstore.postgres", threads: max(1, pool.size - 2))
    try Self.mapped { try pool.withConnection { try Self.migrate($0) } }
  }

  deinit { writes.stop() }

  // MARK: Writes

  public func submit(_ job: Job, duplicateSince: Date) async throws -> Submission {
    try await write(
      { connection in
        try connection.transaction { connection -> Submission in
          // Two nodes may take the same re-POST at once: identical submissions queue on one lock (the unique
          // index covers keys, but not the digest's time window).
          let identity =
            job.idempotencyKey.map { "key\u{1F}\(job.owner)\u{1F}\(job.path)\u{1F}\($0)" }
            ?? "digest\u{1F}\(job.owner)\u{1F}\(job.path)\u{1F}\(job.requestDigest)"
          try connection.execute("SELECT pg_advisory_xact_lock(hashtextextended($1::text, 0))", [.text(identity)])
          if let earlier = try Self.duplicate(of: job, since: duplicateSince, in: connection) {
            return .existing(earlier)
          }
          try connection.execute(Self.insertStatement, Self.values(job))
          return .created(job)
        }
      })
  }

  public func claim(worker: String, now: Date, lease: Duration, skipping owners: Set<String>) async throws -> Job? {
    // Job.claim in one statement (the conformance suite checks the two agree): the subquery locks the first
    // ready row no other transaction holds; SKIP LOCKED passes over rows other nodes are claiming right now.
    let now = now.wholeMilliseconds
    let expires = (now + lease.seconds).wholeMilliseconds
    let skipped = JobRows.skipping(owners, from: 4) { "$\($0)::text" }
    return try await write(
      { connection in
        try connection.execute(
          """
          UPDATE jobs SET status = 'Running', attempt = attempt + 1, started_ms = coalesce(started_ms, $1::bigint),
            phase = 'queued', progress = 0, bytes_done = 0, bytes_total = NULL, lease_holder = $2::text,
            lease_expires_ms = $3::bigint
          WHERE id = (
            SELECT id FROM jobs WHERE status = 'Pending' AND not_before_ms <= $1::bigint\(skipped.clause)
            ORDER BY deadline_ms ASC NULLS LAST, seq LIMIT 1 FOR UPDATE SKIP LOCKED)
          RETURNING \(Self.columns)
          """,
          [.int(now.millisecondsSince1970), .text(worker), .int(expires.millisecondsSince1970)]
            + skipped.owners.map { .text($0) }
        ).first.map { try Self.job($0) }
      })
  }

  public func update<T: Sendable>(id: UUID, _ change: @escaping @Sendable (inout Job) throws -> T) async throws -> T {
    try await write(
      { connection in
        try connection.transaction { connection -> T in
          // Read-modify-write under the row's lock: a concurrent update on another node waits for this one.
          guard
            let row = try connection.execute(
              "SELECT \(Self.columns) FROM jobs WHERE id = $1::uuid FOR UPDATE", [.text(id.text)]
            ).first
          else { throw JobStoreError.notFound(id) }
          var job = try Self.job(row)
          let wasFinal = job.status.isFinal
          let value = try change(&job)
          try connection.execute(Self.updateStatement, Self.updateValues(job))
          if !wasFinal && job.status.isFinal { try Self.addDeliveries(owedBy: job, in: connection) }
          return value
        }
      })
  }

  public func deleteExpired(now: Date) async throws -> [UUID] {
    try await write(
      { connection in
        // Deliveries go with their jobs (ON DELETE CASCADE).
        try connection.execute(
          "DELETE FROM jobs WHERE expires_ms <= $1::bigint AND status NOT IN ('Pending', 'Running') RETURNING id",
          [.int(now.millisecondsSince1970)]
        ).rows.compactMap { UUID(text: $0.text(0)) }
      })
  }

  // MARK: Reads

  public func duplicate(of job: Job, since: Date) throws -> Job? {
    try read { connection in try Self.duplicate(of: job, since: since, in: connection) }
  }

  public func job(id: UUID) throws -> Job? {
    try read { connection in
      try connection.execute("SELECT \(Self.columns) FROM jobs WHERE id = $1::uuid", [.text(id.text)]).first
        .map { try Self.job($0) }
    }
  }

  public func list(_ query: JobQuery) throws -> JobPage {
    let (conditions, bound): (String, [PostgresValue]) = JobRows.listing(query) { index, text in
      text ? "$\(index)::text" : "$\(index)::bigint"
    }
    var values = bound
    values.append(.int(max(0, query.limit) + 1))
    let sql = """
      SELECT seq, \(Self.columns) FROM jobs WHERE \(conditions)
      ORDER BY seq DESC LIMIT $\(values.count)::bigint
      """
    return try read { connection in
      let rows = try connection.execute(sql, values).rows.map { ($0.int64(0), try Self.job($0, offset: 1)) }
      let page = rows.prefix(query.limit)
      return JobPage(jobs: page.map(\.1), nextCursor: rows.count > query.limit ? page.last?.0 : nil)
    }
  }

  public func expiredLeases(now: Date) throws -> [UUID] {
    try read { connection in
      try connection.execute(
        "SELECT id FROM jobs WHERE status = 'Running' AND lease_expires_ms <= $1::bigint",
        [.int(now == .distantFuture ? Int64.max : now.millisecondsSince1970)]
      ).rows.compactMap { UUID(text: $0.text(0)) }
    }
  }

  public func counts() throws -> [JobStatus: Int] {
    try read { connection in
      var counts: [JobStatus: Int] = [:]
      for row in try connection.execute("SELECT status, count(*) FROM jobs GROUP BY status").rows {
        if let status = JobStatus(rawValue: row.text(0)) { counts[status] = row.int(1) }
      }
      return counts
    }
  }

  public func queueAhead(of deadline: Date?, atMost limit: Int) throws -> Int {
    // Both counts walk partial indexes (jobs_leases, jobs_ready) and stop at the limit; jobs without a
    // deadline are behind every job with one.
    let pending =
      deadline == nil ? "status = 'Pending'" : "status = 'Pending' AND deadline_ms <= $2::bigint"
    let sql = """
      SELECT (SELECT count(*) FROM (SELECT 1 FROM jobs WHERE status = 'Running' LIMIT $1::bigint) AS running)
        + (SELECT count(*) FROM (SELECT 1 FROM jobs WHERE \(pending) LIMIT $1::bigint) AS pending)
      """
    let limit = max(0, limit)
    var values: [PostgresValue] = [.int(limit)]
    if let deadline { values.append(.int(deadline.millisecondsSince1970)) }
    return try read { connection in min(limit, try connection.execute(sql, values).first?.int(0) ?? 0) }
  }

  // MARK: Connections

  /// Runs `body` on a pooled connection on the calling thread.
  func read<T>(_ body: (PostgresConnection) throws -> T) throws -> T {
    try Self.mapped { try pool.withConnection(retry: true, body) }
  }

  /// Runs `body` on the store's queue with a pooled connection and returns its value.
  func write<T: Sendable>(_ body: @escaping @Sendable (PostgresConnection) throws -> T) async throws -> T {
    let pool = pool
    return try await withCheckedThrowingContinuation { continuation in
      writes.async { continuation.resume(with: Result { try Self.mapped { try pool.withConnection(body) } }) }
    }
  }

  /// Errors as the `JobStore` protocol has them: the database's as `JobStoreError.database` (its message,
  /// which holds no job data and no URL); the job's own (`JobStateError`, `notFound`) as they are.
  static func mapped<T>(_ body: () throws -> T) throws -> T {
    do {
      return try body()
    } catch let error as PostgresError {
      throw JobStoreError.database(error.description)
    }
  }
}

// MARK: Rows

extension PostgresJobStore {
  static let columns = JobRows.columns

  static let insertStatement =
    "INSERT INTO jobs (\(columns)) VALUES (\((1...JobRows.columnCount).map { "$\($0)" }.joined(separator: ", ")))"

  // Every column but the identity and the request, which never change: $1 is the id, then the rest in order.
  static let updateStatement: String = {
    let assignments = columns.split(separator: ",").map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
      .dropFirst(6).enumerated().map { "\($0.element) = $\($0.offset + 2)" }.joined(separator: ", ")
    return "UPDATE jobs SET \(assignments) WHERE id = $1"
  }()

  static func duplicate(of job: Job, since: Date, in connection: PostgresConnection) throws -> Job? {
    let rows: PostgresRows
    if let key = job.idempotencyKey {
      rows = try connection.execute(
        "SELECT \(columns) FROM jobs WHERE owner = $1::text AND path = $2::text AND idempotency_key = $3::text",
        [.text(job.owner), .text(job.path), .text(key)])
    } else {
      rows = try connection.execute(
        """
        SELECT \(columns) FROM jobs
        WHERE owner = $1::text AND request_digest = $2::text AND path = $3::text AND submitted_ms >= $4::bigint
          AND \(JobRows.notFailed)
        ORDER BY seq DESC LIMIT 1
        """,
        [.text(job.owner), .text(job.requestDigest), .text(job.path), .int(since.millisecondsSince1970)])
    }
    return try rows.first.map { try self.job($0) }
  }

  static func job(_ row: PostgresRow, offset: Int = 0) throws -> Job {
    try JobRows.job(row, offset: offset)
  }

  static func values(_ job: Job) throws -> [PostgresValue] {
    try JobRows.values(job)
  }

  /// The parameters of `updateStatement`: the id, then every column after the request.
  static func updateValues(_ job: Job) throws -> [PostgresValue] {
    let all = try values(job)
    return [all[0]] + all.dropFirst(6)
  }
}

extension PostgresRow: JobRowReader {}

// libpq's values already spell every kind the shared row coding binds.
extension PostgresValue: JobRowValue {}
