import CSQLite

/// A failed SQLite call: the result code and SQLite's message (never bound values).
public struct SQLiteError: Error, Sendable, Equatable, CustomStringConvertible {
  public var code: Int32
  public var message: String

  public var description: String { "sqlite error \(code): \(message)" }

  /// True for a CHECK, UNIQUE, NOT NULL or foreign-key violation.
  public var isConstraint: Bool { code & 0xFF == SQLITE_CONSTRAINT }
}

/// One SQLite connection. Not thread-safe: one thread uses it at a time (the owner serialises).
public final class SQLiteDatabase {
  let handle: OpaquePointer
  private var statements: [String: SQLiteStatement] = [:]

  /// Opens (creating) the database at `path`; `":memory:"` for a private in-memory one.
  public init(path: String, readOnly: Bool = false) throws(SQLiteError) {
    var db: OpaquePointer?
    let flags =
      (readOnly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE) | SQLITE_OPEN_NOMUTEX
    let rc = sqlite3_open_v2(path, &db, flags, nil)
    guard rc == SQLITE_OK, let db else {
      let message = db.map { String(cString: sqlite3_errmsg($0)) } ?? "cannot open"
      sqlite3_close_v2(db)
      throw SQLiteError(code: rc, message: message)
    }
    handle = db
    sqlite3_extended_result_codes(db, 1)
    // Another connection's write lock is waited for, not failed on, for this long.
    sqlite3_busy_timeout(db, 5000)
  }

  deinit {
    statements.removeAll()
    sqlite3_close_v2(handle)
  }

  /// Runs SQL text that takes no parameters (one or several statements).
  public func execute(_ sql: String) throws(SQLiteError) {
    var errorMessage: UnsafeMutablePointer<CChar>?
    let rc = sqlite3_exec(handle, sql, nil, nil, &errorMessage)
    if rc != SQLITE_OK {
      let message = errorMessage.map { String(cString: $0) } ?? lastMessage
      sqlite3_free(errorMessage)
      throw SQLiteError(code: rc, message: message)
    }
  }

  /// A prepared statement for `sql`, cached on this connection and reset for reuse.
  public func statement(_ sql: String) throws(SQLiteError) -> SQLiteStatement {
    if let cached = statements[sql] {
      cached.reset()
      return cached
    }
    var raw: OpaquePointer?
    let rc = sqlite3_prepare_v3(handle, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &raw, nil)
    guard rc == SQLITE_OK, let raw else { throw SQLiteError(code: rc, message: lastMessage) }
    let statement = SQLiteStatement(raw, database: self)
    statements[sql] = statement
    return statement
  }

  /// Resets every cached statement. A statement left on a row keeps its read transaction (and its snapshot)
  /// open, so later reads on this connection would not see newer commits: call this when a unit of work ends.
  public func resetStatements() {
    for statement in statements.values { statement.reset() }
  }

  /// The integer result of a one-row query such as `PRAGMA user_version`.
  public func scalar(_ sql: String) throws(SQLiteError) -> Int64 {
    let statement = try statement(sql)
    // Reset at once: a statement left on its row keeps a transaction open (and blocks schema changes).
    defer { statement.reset() }
    guard try statement.step() else { return 0 }
    return statement.int64(0)
  }

  /// True while a transaction is open (SQLite may roll one back by itself after a disk or memory error).
  public var isInTransaction: Bool { sqlite3_get_autocommit(handle) == 0 }

  /// Rows changed by the last statement.
  public var changes: Int { Int(sqlite3_changes(handle)) }

  var lastMessage: String { String(cString: sqlite3_errmsg(handle)) }
}

/// A prepared statement: bind by 1-based index, step, read columns by 0-based index.
public final class SQLiteStatement {
  private let handle: OpaquePointer
  private unowned let database: SQLiteDatabase

  init(_ handle: OpaquePointer, database: SQLiteDatabase) {
    self.handle = handle
    self.database = database
  }

  deinit { sqlite3_finalize(handle) }

  func reset() {
    sqlite3_reset(handle)
    sqlite3_clear_bindings(handle)
  }

  /// Binds `values` to parameters 1...n.
  @discardableResult
  public func bind(_ values: SQLiteValue...) throws(SQLiteError) -> SQLiteStatement {
    try bind(values)
  }

  /// Binds `values` to parameters 1...n.
  @discardableResult
  public func bind(_ values: [SQLiteValue]) throws(SQLiteError) -> SQLiteStatement {
    for (offset, value) in values.enumerated() {
      let index = Int32(offset + 1)
      let rc: Int32
      switch value {
      case .null: rc = sqlite3_bind_null(handle, index)
      case .int(let i): rc = sqlite3_bind_int64(handle, index, i)
      case .double(let d): rc = sqlite3_bind_double(handle, index, d)
      case .text(let s): rc = sqlite3_bind_text(handle, index, s, -1, ferry_sqlite_transient())
      case .blob(let b):
        rc = b.withUnsafeBytes {
          sqlite3_bind_blob(handle, index, $0.baseAddress, Int32($0.count), ferry_sqlite_transient())
        }
      }
      guard rc == SQLITE_OK else { throw SQLiteError(code: rc, message: database.lastMessage) }
    }
    return self
  }

  /// Advances to the next row: true when a row is ready, false when done.
  public func step() throws(SQLiteError) -> Bool {
    let rc = sqlite3_step(handle)
    switch rc {
    case SQLITE_ROW: return true
    case SQLITE_DONE: return false
    default:
      let error = SQLiteError(code: sqlite3_extended_errcode(database.handle), message: database.lastMessage)
      sqlite3_reset(handle)
      throw error
    }
  }

  /// Runs the statement to completion.
  public func run() throws(SQLiteError) {
    while try step() {}
  }

  public func isNull(_ column: Int32) -> Bool { sqlite3_column_type(handle, column) == SQLITE_NULL }
  public func int64(_ column: Int32) -> Int64 { sqlite3_column_int64(handle, column) }
  public func int(_ column: Int32) -> Int { Int(sqlite3_column_int64(handle, column)) }
  public func double(_ column: Int32) -> Double { sqlite3_column_double(handle, column) }

  public func text(_ column: Int32) -> String {
    guard let text = sqlite3_column_text(handle, column) else { return "" }
    return String(cString: text)
  }

  public func blob(_ column: Int32) -> [UInt8] {
    let count = Int(sqlite3_column_bytes(handle, column))
    guard count > 0, let base = sqlite3_column_blob(handle, column) else { return [] }
    return Array(UnsafeRawBufferPointer(start: base, count: count))
  }

  /// The column's value, or nil when it is NULL.
  public func optionalInt64(_ column: Int32) -> Int64? { isNull(column) ? nil : int64(column) }
  public func optionalText(_ column: Int32) -> String? { isNull(column) ? nil : text(column) }
}

/// A value to bind.
public enum SQLiteValue: Sendable {
  case null
  case int(Int64)
  case double(Double)
  case text(String)
  case blob([UInt8])

  /// `.text`, or `.null` for nil.
  public static func optionalText(_ s: String?) -> SQLiteValue { s.map { .text($0) } ?? .null }
  /// `.int`, or `.null` for nil.
  public static func optionalInt(_ i: Int64?) -> SQLiteValue { i.map { .int($0) } ?? .null }
}
