import Foundation

/// A row the SQL stores read a job or a delivery from, its columns in the order of `JobRows.columns` (or
/// `deliveryColumns`) from 0. Each store wraps its own row type (an SQLite statement, a libpq row).
public protocol JobRowReader {
  func text(_ column: Int) -> String
  func optionalText(_ column: Int) -> String?
  func int64(_ column: Int) -> Int64
  func optionalInt64(_ column: Int) -> Int64?
  func double(_ column: Int) -> Double
  func bytes(_ column: Int) -> [UInt8]
  /// A boolean column (an integer 0 or 1 in SQLite, a `boolean` in PostgreSQL).
  func bool(_ column: Int) -> Bool
}

/// A value a store binds, in the store's own type (`SQLiteValue`, `PostgresValue`): the shared row coding
/// makes its values with these.
public protocol JobRowValue {
  static var null: Self { get }
  static func int(_ value: Int64) -> Self
  static func double(_ value: Double) -> Self
  static func text(_ value: String) -> Self
  static func bytes(_ value: [UInt8]) -> Self
  /// A boolean (an integer 0 or 1 in SQLite, a `boolean` in PostgreSQL).
  static func bool(_ value: Bool) -> Self
}

extension JobRowValue {
  static func optionalText(_ text: String?) -> Self { text.map { .text($0) } ?? .null }
  static func optionalInt(_ int: Int64?) -> Self { int.map { .int($0) } ?? .null }
}

extension JobRows {
  /// The values of `job`'s row, in the order of `columns`.
  public static func values<Value: JobRowValue>(_ job: Job) throws -> [Value] {
    func ms(_ date: Date?) -> Value { .optionalInt(date?.millisecondsSince1970) }
    let attempts = String(decoding: try encoder.encode(job.attempts), as: UTF8.self)
    let error = try job.error.map { String(decoding: try encoder.encode($0), as: UTF8.self) }
    let uploads = job.openUploads.isEmpty ? "[]" : String(decoding: try encoder.encode(job.openUploads), as: UTF8.self)
    return [
      .text(job.id.text), .text(job.owner), .text(job.path), .bytes(job.sealedRequest),
      .text(job.requestDigest), .optionalText(job.idempotencyKey), .text(job.status.rawValue),
      .text(job.phase.rawValue), .int(Int64(job.progress)), .int(job.bytesDone), .optionalInt(job.bytesTotal),
      .double(job.duration), ms(job.submittedAt), ms(job.startedAt), ms(job.completedAt), ms(job.expiresAt),
      ms(job.deadline), ms(job.notBefore), .int(Int64(job.attempt)), .text(attempts), .optionalText(job.lease?.holder),
      ms(job.lease?.expiresAt), .bool(job.cancelRequested), .optionalText(job.result), .optionalText(error),
      .bool(job.hasOnComplete), .text(uploads),
    ]
  }

  /// The job in `row`, whose `columns` start at `offset`.
  public static func job(_ row: some JobRowReader, offset: Int = 0) throws -> Job {
    func c(_ i: Int) -> Int { offset + i }
    func date(_ i: Int) -> Date? { row.optionalInt64(c(i)).map { Date(millisecondsSince1970: $0) } }
    guard let id = UUID(text: row.text(c(0))), let status = JobStatus(rawValue: row.text(c(6))),
      let phase = JobPhase(rawValue: row.text(c(7))), let submitted = date(12), let expires = date(15),
      let notBefore = date(17)
    else { throw JobStoreError.database("unreadable job row") }
    var job = Job(
      id: id, owner: row.text(c(1)), path: row.text(c(2)), sealedRequest: row.bytes(c(3)),
      requestDigest: row.text(c(4)), idempotencyKey: row.optionalText(c(5)), submittedAt: submitted,
      retention: .zero, deadline: date(16))
    job.status = status
    job.phase = phase
    job.progress = Int(row.int64(c(8)))
    job.bytesDone = row.int64(c(9))
    job.bytesTotal = row.optionalInt64(c(10))
    job.duration = row.double(c(11))
    job.startedAt = date(13)
    job.completedAt = date(14)
    job.expiresAt = expires
    job.notBefore = notBefore
    job.attempt = Int(row.int64(c(18)))
    let attempts = row.text(c(19))
    // Most jobs never failed an attempt: skip the decoder for the empty log.
    job.attempts = attempts == "[]" ? [] : try decoder.decode([JobAttempt].self, from: Data(attempts.utf8))
    if let holder = row.optionalText(c(20)), let leaseExpires = date(21) {
      job.lease = JobLease(holder: holder, expiresAt: leaseExpires)
    }
    job.cancelRequested = row.bool(c(22))
    job.result = row.optionalText(c(23))
    job.error = try row.optionalText(c(24)).map { try decoder.decode(JobError.self, from: Data($0.utf8)) }
    job.hasOnComplete = row.bool(c(25))
    let uploads = row.text(c(26))
    job.openUploads = uploads == "[]" ? [] : try decoder.decode([OpenUpload].self, from: Data(uploads.utf8))
    return job
  }

  /// The values of the row `delivery` adds for `job`, in the order of `deliveryColumns` less `attempts`
  /// (a new delivery's log is `'[]'`).
  public static func values<Value: JobRowValue>(_ delivery: Delivery, of job: Job) -> [Value] {
    var webhookID = Value.null
    var callback = Value.null
    if case .webhook(let id, let sealed) = delivery.target {
      webhookID = .text(id.text)
      callback = .bytes(sealed)
    }
    return [
      .text(delivery.id.text), .text(job.id.text), .text(job.owner), webhookID, callback,
      .int(delivery.createdAt.millisecondsSince1970), .int(delivery.nextAttemptAt.millisecondsSince1970),
      .text(delivery.state.rawValue),
    ]
  }

  /// The delivery in `row` (`deliveryColumns` from 0).
  public static func delivery(_ row: some JobRowReader) throws -> Delivery {
    guard let id = UUID(text: row.text(0)), let jobID = UUID(text: row.text(1)),
      let state = Delivery.State(rawValue: row.text(7)), let created = row.optionalInt64(5),
      let next = row.optionalInt64(6)
    else { throw JobStoreError.database("unreadable delivery row") }
    var target = Delivery.Target.onComplete
    if let text = row.optionalText(3), let webhook = UUID(text: text) {
      target = .webhook(webhook, sealedCallback: row.bytes(4))
    }
    let attempts = row.text(8)
    return Delivery(
      id: id, jobID: jobID, owner: row.text(2), target: target, createdAt: Date(millisecondsSince1970: created),
      nextAttemptAt: Date(millisecondsSince1970: next), state: state,
      attempts: attempts == "[]" ? [] : try decoder.decode([DeliveryAttempt].self, from: Data(attempts.utf8)))
  }

  /// The conditions of a listing (`GET /media/jobs`) and the values they bind, in order: the first binds
  /// parameter 1, the owner. `placeholder` spells parameter n, given whether it binds text or an integer
  /// (`?3` in SQLite, `$3::bigint` in PostgreSQL).
  public static func listing<Value: JobRowValue>(_ query: JobQuery, placeholder: (Int, _ text: Bool) -> String)
    -> (conditions: String, values: [Value])
  {
    var conditions: [String] = []
    var values: [Value] = []
    func add(_ condition: String, text: String) {
      values.append(.text(text))
      conditions.append("\(condition) \(placeholder(values.count, true))")
    }
    func add(_ condition: String, int: Int64) {
      values.append(.int(int))
      conditions.append("\(condition) \(placeholder(values.count, false))")
    }
    add("owner =", text: query.owner)
    if let cursor = query.cursor { add("seq <", int: cursor) }
    if let status = query.status { add("status =", text: status.rawValue) }
    if let after = query.submittedAfter { add("submitted_ms >=", int: after.millisecondsSince1970) }
    if let before = query.submittedBefore { add("submitted_ms <=", int: before.millisecondsSince1970) }
    return (conditions.joined(separator: " AND "), values)
  }
}
