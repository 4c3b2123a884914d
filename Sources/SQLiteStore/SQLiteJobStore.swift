import Foundation
import Jobs
import SQLite
import Synchronization

/// The job store on SQLite: WAL, `synchronous=FULL`, one writer thread with group commit (a submission is on
/// disk before it is answered, and concurrent submissions share an fsync), readers on their own connections.
public final class SQLiteJobStore: JobStore {
  let writer: SQLiteWriter
  private let path: String
  private let readers = Mutex<[ReadConnection]>([])
  /// Jobs as last read or committed, for `job(id:)` (this process is the store's only writer).
  private let cache = JobCache()

  /// Opens or creates the store at `path`, migrating its schema to the current version.
  public init(path: String) throws {
    // Readers open their own connections: a private in-memory database would be a different one for each.
    guard path != ":memory:", !path.isEmpty else {
      throw JobStoreError.database("the SQLite job store needs a file (readers use their own connections)")
    }
    self.path = path
    let database = try SQLiteDatabase(path: path)
    try database.execute("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON")
    try Self.migrate(database)
    writer = SQLiteWriter(database: database, name: "ferry.jobstore.writer")
  }

  deinit { writer.stop() }

  /// Write transactions committed since the store opened.
  public var commits: Int { writer.commits }

  // MARK: Writes

  public func submit(_ job: Job, duplicateSince: Date) async throws -> Submission {
    try await writer.write(
      { database -> Submission in
        if let earlier = try Self.duplicate(of: job, since: duplicateSince, in: database) { return .existing(earlier) }
        try Self.insert(job, into: database)
        return .created(job)
      },
      committed: { [cache] outcome in
        if case .success(.created(let job)) = outcome { cache.wrote([job]) }
      })
  }

  static func duplicate(of job: Job, since: Date, in database: SQLiteDatabase) throws -> Job? {
    if let key = job.idempotencyKey {
      return try fetchOne(
        database, "WHERE owner = ?1 AND path = ?2 AND idempotency_key = ?3", .text(job.owner), .text(job.path),
        .text(key))
    }
    return try fetchOne(
      database,
      "WHERE owner = ?1 AND request_digest = ?2 AND path = ?3 AND submitted_ms >= ?4 AND \(JobRows.notFailed) "
        + "ORDER BY seq DESC LIMIT 1",
      .text(job.owner), .text(job.requestDigest), .text(job.path), .int(since.millisecondsSince1970))
  }

  public func claim(worker: String, now: Date, lease: Duration, skipping owners: Set<String>) async throws -> Job? {
    let skipped = JobRows.skipping(owners, from: 2) { "?\($0)" }
    return try await writer.write(
      { database -> Job? in
        // The partial index jobs_ready holds exactly the pending jobs in this order.
        guard
          var job = try Self.fetchOne(
            database,
            "WHERE status = 'Pending' AND not_before_ms <= ?1\(skipped.clause) ORDER BY \(Self.deadlineOrder), seq LIMIT 1",
            [.int(now.millisecondsSince1970)] + skipped.owners.map { .text($0) })
        else { return nil }
        try job.claim(worker: worker, now: now, lease: lease)
        try Self.save(job, in: database)
        return job
      },
      committed: { [cache] outcome in
        if case .success(let job?) = outcome { cache.wrote([job]) }
      })
  }

  public func update<T: Sendable>(id: UUID, _ change: @escaping @Sendable (inout Job) throws -> T) async throws -> T {
    let stored = Mutex<Job?>(nil)
    return try await writer.write(
      { database -> T in
        guard var job = try Self.fetchOne(database, "WHERE id = ?1", .text(id.text)) else {
          throw JobStoreError.notFound(id)
        }
        let wasFinal = job.status.isFinal
        let value = try change(&job)
        try Self.save(job, in: database)
        if !wasFinal && job.status.isFinal { try Self.addDeliveries(owedBy: job, in: database) }
        stored.withLock { [job] in $0 = job }
        return value
      },
      committed: { [cache] outcome in
        switch outcome {
        case .success: stored.withLock { $0 }.map { cache.wrote([$0]) }
        // Rolled back, or a commit that failed: the cached job stands unless the store's state is in doubt.
        case .failure: cache.forget([id])
        }
      })
  }

  public func deleteExpired(now: Date) async throws -> [UUID] {
    try await writer.write(
      { database -> [UUID] in
        let statement = try database.statement(
          "DELETE FROM jobs WHERE expires_ms <= ?1 AND status NOT IN ('Pending', 'Running') RETURNING id")
        try statement.bind(.int(now.millisecondsSince1970))
        var ids: [UUID] = []
        while try statement.step() { UUID(text: statement.text(0)).map { ids.append($0) } }
        return ids
      },
      committed: { [cache] outcome in
        if case .success(let ids) = outcome { cache.forget(ids) }
      })
  }

  // MARK: Reads

  public func duplicate(of job: Job, since: Date) throws -> Job? {
    try read { database in try Self.duplicate(of: job, since: since, in: database) }
  }

  public func job(id: UUID) throws -> Job? {
    if let cached = cache.job(id) { return cached }
    let generation = cache.generation
    let job = try read { database in try Self.fetchOne(database, "WHERE id = ?1", .text(id.text)) }
    if let job { cache.fill(job, readAt: generation) }
    return job
  }

  public func list(_ query: JobQuery) throws -> JobPage {
    let (conditions, values): (String, [SQLiteValue]) = JobRows.listing(query) { index, _ in "?\(index)" }
    let sql =
      "SELECT seq, \(Self.columns) FROM jobs WHERE \(conditions) ORDER BY seq DESC LIMIT \(query.limit + 1)"
    return try read { database in
      let statement = try database.statement(sql)
      try statement.bind(values)
      var rows: [(Int64, Job)] = []
      while try statement.step() { rows.append((statement.int64(0), try Self.job(statement, offset: 1))) }
      let page = rows.prefix(query.limit)
      return JobPage(jobs: page.map(\.1), nextCursor: rows.count > query.limit ? page.last?.0 : nil)
    }
  }

  public func expiredLeases(now: Date) throws -> [UUID] {
    try read { database in
      let statement = try database.statement(
        "SELECT id FROM jobs WHERE status = 'Running' AND lease_expires_ms <= ?1")
      try statement.bind(.int(now == .distantFuture ? Int64.max : now.millisecondsSince1970))
      var ids: [UUID] = []
      while try statement.step() { UUID(text: statement.text(0)).map { ids.append($0) } }
      return ids
    }
  }

  public func counts() throws -> [JobStatus: Int] {
    try read { database in
      let statement = try database.statement("SELECT status, count(*) FROM jobs GROUP BY status")
      var counts: [JobStatus: Int] = [:]
      while try statement.step() {
        if let status = JobStatus(rawValue: statement.text(0)) { counts[status] = statement.int(1) }
      }
      return counts
    }
  }

  public func queueAhead(of deadline: Date?, atMost limit: Int) throws -> Int {
    try read { database in
      // Both counts walk partial indexes (jobs_leases, jobs_ready) and stop at the limit.
      let statement = try database.statement(
        """
        SELECT (SELECT count(*) FROM (SELECT 1 FROM jobs WHERE status = 'Running' LIMIT ?2))
          + (SELECT count(*) FROM (SELECT 1 FROM jobs WHERE status = 'Pending' AND \(Self.deadlineOrder) <= ?1 LIMIT ?2))
        """)
      try statement.bind(.int(deadline?.millisecondsSince1970 ?? Int64.max), .int(Int64(limit)))
      _ = try statement.step()
      return min(limit, statement.int(0))
    }
  }

  // MARK: Connections

  /// A reader connection, one per concurrent reader, kept for reuse.
  private final class ReadConnection: @unchecked Sendable {
    let database: SQLiteDatabase
    init(path: String) throws {
      database = try SQLiteDatabase(path: path, readOnly: true)
    }
  }

  func read<T>(_ body: (SQLiteDatabase) throws -> T) throws -> T {
    let connection = try readers.withLock { $0.popLast() } ?? ReadConnection(path: path)
    defer {
      connection.database.resetStatements()
      readers.withLock { $0.append(connection) }
    }
    return try body(connection.database)
  }
}

// MARK: Rows

extension SQLiteJobStore {
  /// Jobs without a deadline sort after every job with one.
  static let deadlineOrder = "coalesce(deadline_ms, 9223372036854775807)"

  static let columns = JobRows.columns
  static let encoder = JobRows.encoder
  static let decoder = JobRows.decoder

  static func fetchOne(_ database: SQLiteDatabase, _ clause: String, _ values: SQLiteValue...) throws -> Job? {
    try fetchOne(database, clause, values)
  }

  static func fetchOne(_ database: SQLiteDatabase, _ clause: String, _ values: [SQLiteValue]) throws -> Job? {
    let statement = try database.statement("SELECT \(columns) FROM jobs \(clause)")
    try statement.bind(values)
    guard try statement.step() else { return nil }
    return try job(statement, offset: 0)
  }

  static func job(_ row: SQLiteStatement, offset: Int32) throws -> Job {
    try JobRows.job(Row(statement: row), offset: Int(offset))
  }

  private static func values(_ job: Job) throws -> [SQLiteValue] {
    try JobRows.values(job)
  }

  static func insert(_ job: Job, into database: SQLiteDatabase) throws {
    let placeholders = (1...JobRows.columnCount).map { "?\($0)" }.joined(separator: ", ")
    try database.statement("INSERT INTO jobs (\(columns)) VALUES (\(placeholders))").bind(try values(job)).run()
  }

  // Every column but the identity and the request, which never change, bound by its position in `columns`.
  private static let updateStatement: String = {
    let assignments = columns.split(separator: ",").enumerated().dropFirst(6)
      .map { "\($0.element.trimmingCharacters(in: .whitespacesAndNewlines)) = ?\($0.offset + 1)" }
      .joined(separator: ", ")
    return "UPDATE jobs SET \(assignments) WHERE id = ?1"
  }()

  static func save(_ job: Job, in database: SQLiteDatabase) throws {
    try database.statement(updateStatement).bind(try values(job)).run()
  }
}

/// A statement's current row as the shared row coding reads it.
struct Row: JobRowReader {
  let statement: SQLiteStatement

  func text(_ column: Int) -> String { statement.text(Int32(column)) }
  func optionalText(_ column: Int) -> String? { statement.optionalText(Int32(column)) }
  func int64(_ column: Int) -> Int64 { statement.int64(Int32(column)) }
  func optionalInt64(_ column: Int) -> Int64? { statement.optionalInt64(Int32(column)) }
  func double(_ column: Int) -> Double { statement.double(Int32(column)) }
  func bytes(_ column: Int) -> [UInt8] { statement.blob(Int32(column)) }
  func bool(_ column: Int) -> Bool { statement.int64(Int32(column)) != 0 }
}

extension SQLiteValue: JobRowValue {
  public static func bytes(_ value: [UInt8]) -> SQLiteValue { .blob(value) }
  public static func bool(_ value: Bool) -> SQLiteValue { .int(value ? 1 : 0) }
}
