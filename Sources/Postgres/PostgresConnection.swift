import CLibPQ
import Crypto
import Foundation

/// A failed libpq call or statement: the server's primary message and SQLSTATE, never bound values and never
/// the connection URL (it may hold a password).
public struct PostgresError: Error, Sendable, Equatable, CustomStringConvertible {
  /// The five-character SQLSTATE (`23505` unique violation, `23514` check violation), when the server sent one.
  public var sqlState: String?
  public var message: String

  public init(sqlState: String? = nil, message: String) {
    self.sqlState = sqlState
    self.message = message
  }

  public var description: String { "postgres\(sqlState.map { " \($0)" } ?? ""): \(message)" }

  /// A CHECK, UNIQUE, NOT NULL or foreign-key violation (SQLSTATE class 23).
  public var isConstraint: Bool { sqlState?.hasPrefix("23") == true }

  /// The connection was lost during the call (whether the server ran the statement is unknown).
  public var connectionLost = false
}

/// A statement parameter, sent as text (bytes in binary format): values are never spliced into SQL.
public enum PostgresValue: Sendable, Equatable {
  case text(String)
  case bytes([UInt8])
  case null

  public static func int(_ value: Int64) -> PostgresValue { .text(String(value)) }
  public static func int(_ value: Int) -> PostgresValue { .text(String(value)) }
  public static func optionalInt(_ value: Int64?) -> PostgresValue { value.map { .int($0) } ?? .null }
  public static func optionalText(_ value: String?) -> PostgresValue { value.map { .text($0) } ?? .null }
  public static func bool(_ value: Bool) -> PostgresValue { .text(value ? "true" : "false") }
  public static func double(_ value: Double) -> PostgresValue { .text(String(value)) }
}

/// The rows a statement returned, copied out of libpq's result (text format).
public struct PostgresRows: Sendable {
  public var rows: [PostgresRow]
  /// Rows the statement changed (`UPDATE`, `DELETE`, `INSERT`), from the command tag.
  public var affected: Int

  public var first: PostgresRow? { rows.first }
}

/// One row: each column's text, or nil for SQL NULL.
public struct PostgresRow: Sendable {
  public var values: [String?]

  public func optionalText(_ column: Int) -> String? { values[column] }
  public func text(_ column: Int) -> String { values[column] ?? "" }
  public func optionalInt64(_ column: Int) -> Int64? { values[column].flatMap { Int64($0) } }
  public func int64(_ column: Int) -> Int64 { optionalInt64(column) ?? 0 }
  public func int(_ column: Int) -> Int { Int(int64(column)) }
  public func double(_ column: Int) -> Double { values[column].flatMap { Double($0) } ?? 0 }
  public func bool(_ column: Int) -> Bool { values[column] == "t" }

  /// A `bytea` column (text format: `\x` and hex digits).
  public func optionalBytes(_ column: Int) -> [UInt8]? {
    guard let text = values[column] else { return nil }
    var utf8 = Array(text.utf8)
    guard utf8.count >= 2, utf8[0] == UInt8(ascii: "\\"), utf8[1] == UInt8(ascii: "x") else { return nil }
    utf8.removeFirst(2)
    var bytes: [UInt8] = []
    bytes.reserveCapacity(utf8.count / 2)
    var index = 0
    while index + 1 < utf8.count {
      guard let high = Hex.value(ofDigit: utf8[index]), let low = Hex.value(ofDigit: utf8[index + 1]) else {
        return nil
      }
      bytes.append(high << 4 | low)
      index += 2
    }
    return bytes
  }

  public func bytes(_ column: Int) -> [UInt8] { optionalBytes(column) ?? [] }
}

/// One libpq connection. Not thread-safe: one thread uses it at a time (`PostgresPool` hands it out).
public final class PostgresConnection: @unchecked Sendable {
  private let handle: OpaquePointer
  /// Strings that must never leave in a message: the URL and its password.
  private let secrets: [String]

  /// Connects to `url` (a libpq URL or `key=value` string). Errors name neither the URL nor its password.
  public init(url: String) throws(PostgresError) {
    secrets = try Self.secrets(of: url)
    // Statements are prepared once per connection (`execute`), and planned for their values each time: a
    // generic plan for the store's lookups was measured to be slower than parsing them afresh. The URL's own
    // `options` come after these and win.
    let keywords = ["fallback_application_name", "options", "dbname"]
    let values = ["ferry", "-c plan_cache_mode=force_custom_plan", url]
    let connection = Self.withCStrings(keywords) { keywords in
      Self.withCStrings(values) { values in PQconnectdbParams(keywords, values, 1) }
    }
    guard let connection else { throw PostgresError(message: "out of memory connecting to the job store") }
    // Checked before `handle` is set: a class whose init throws after that runs its deinit too.
    guard PQstatus(connection) == CONNECTION_OK else {
      let message = Self.redact(Self.message(of: connection), secrets)
      PQfinish(connection)
      throw PostgresError(message: message)
    }
    handle = connection
    closing = UnsafeMutablePointer<Bool>.allocate(capacity: 1)
    closing.initialize(to: false)
    // Instead of libpq's default (NOTICEs on stderr): a FATAL that arrives while the connection is idle (the
    // server shutting down, pg_terminate_backend) marks it closing, so it is reopened before its next use.
    PQsetNoticeReceiver(
      connection,
      { closing, result in
        guard let closing, let result, let severity = PQresultErrorField(result, ferry_pq_diag_severity()) else {
          return
        }
        let text = String(cString: severity)
        if text == "FATAL" || text == "PANIC" { closing.assumingMemoryBound(to: Bool.self).pointee = true }
      }, closing)
  }

  deinit {
    PQfinish(handle)
    closing.deinitialize(count: 1)
    closing.deallocate()
  }

  /// Set by the notice receiver when the server said it is closing this connection.
  private let closing: UnsafeMutablePointer<Bool>

  /// False once the connection to the server is lost.
  public var isHealthy: Bool { PQstatus(handle) == CONNECTION_OK }

  /// Reads what the server sent while the connection sat idle (the socket is non-blocking: this never waits),
  /// so a connection the server closed (a restart, `pg_terminate_backend`) shows as lost before it is used.
  public var isAlive: Bool { PQconsumeInput(handle) != 0 && isHealthy && !closing.pointee }

  /// True outside a transaction (a failed ROLLBACK can leave one open).
  public var isIdle: Bool { PQtransactionStatus(handle) == PQTRANS_IDLE }

  /// Reconnects with the same parameters (after the server restarted or the network dropped).
  public func reset() throws(PostgresError) {
    PQreset(handle)
    prepared = [:]
    closing.pointee = false
    guard PQstatus(handle) == CONNECTION_OK else { throw PostgresError(message: lastMessage) }
  }

  /// Runs one statement with `parameters` bound to `$1`, `$2`, ...
  @discardableResult
  public func execute(_ sql: String, _ parameters: [PostgresValue] = []) throws(PostgresError) -> PostgresRows {
    var buffers: [[CChar]?] = []
    var lengths: [Int32] = []
    var formats: [Int32] = []
    for parameter in parameters {
      switch parameter {
      case .text(let text):
        buffers.append(Array(text.utf8CString))
        lengths.append(0)
        formats.append(0)
      case .bytes(let bytes):
        // Binary format: libpq sends the bytes as they are, with their length.
        buffers.append(bytes.map { CChar(bitPattern: $0) })
        lengths.append(Int32(bytes.count))
        formats.append(1)
      case .null:
        buffers.append(nil)
        lengths.append(0)
        formats.append(0)
      }
    }
    if parameters.isEmpty { return try consume(PQexecParams(handle, sql, 0, nil, nil, nil, nil, 0)) }
    guard let name = try preparedName(sql, parameters: parameters.count) else {
      let result = Self.withPointers(buffers) { pointers in
        PQexecParams(handle, sql, Int32(parameters.count), nil, pointers, lengths, formats, 0)
      }
      return try consume(result)
    }
    let result = Self.withPointers(buffers) { pointers in
      PQexecPrepared(handle, name, Int32(parameters.count), pointers, lengths, formats, 0)
    }
    return try consume(result)
  }

  /// Statements with parameters prepared on this connection, by their SQL text: each is parsed and planned
  /// once per session instead of on every call (that was most of the server's CPU per submission). A
  /// session's prepared statements end with it: `reset()` forgets them.
  private var prepared: [String: String] = [:]
  /// The store's statements are a fixed set (a few dozen); past this, statements run unprepared.
  private static let maxPrepared = 128

  /// The name `sql` is prepared under on this connection, preparing it now if needed; nil when the cache is
  /// full.
  private func preparedName(_ sql: String, parameters: Int) throws(PostgresError) -> String? {
    if let name = prepared[sql] { return name }
    guard prepared.count < Self.maxPrepared else { return nil }
    let name = "ferry_\(prepared.count + 1)"
    _ = try consume(PQprepare(handle, name, sql, Int32(parameters), nil))
    prepared[sql] = name
    return name
  }

  /// Runs SQL text without parameters, one or several statements (schema migrations).
  public func executeScript(_ sql: String) throws(PostgresError) {
    _ = try consume(PQexec(handle, sql))
  }

  /// Runs `body` in a transaction: committed when it returns, rolled back when it throws.
  public func transaction<T>(_ body: (PostgresConnection) throws -> T) throws -> T {
    try execute("BEGIN")
    let value: T
    do {
      value = try body(self)
    } catch {
      if isHealthy { _ = try? execute("ROLLBACK") }
      throw error
    }
    try execute("COMMIT")
    return value
  }

  private func consume(_ result: OpaquePointer?) throws(PostgresError) -> PostgresRows {
    do {
      return try rows(of: result)
    } catch {
      var error = error
      error.connectionLost = !isHealthy
      throw error
    }
  }

  private func rows(of result: OpaquePointer?) throws(PostgresError) -> PostgresRows {
    guard let result else { throw PostgresError(message: lastMessage) }
    defer { PQclear(result) }
    switch PQresultStatus(result) {
    case PGRES_COMMAND_OK, PGRES_TUPLES_OK:
      break
    default:
      let state = PQresultErrorField(result, ferry_pq_diag_sqlstate()).map { String(cString: $0) }
      // The primary message only: a constraint's DETAIL would quote the row. A data exception's primary
      // message quotes the value itself (`invalid input syntax for type uuid: "..."`): name its class instead.
      if state?.hasPrefix("22") == true {
        throw PostgresError(sqlState: state, message: "a value was refused by the database (data exception)")
      }
      let primary = PQresultErrorField(result, ferry_pq_diag_message_primary()).map { String(cString: $0) }
      throw PostgresError(sqlState: state, message: redact(primary ?? lastMessage))
    }
    let rowCount = Int(PQntuples(result))
    let columnCount = Int(PQnfields(result))
    var rows: [PostgresRow] = []
    rows.reserveCapacity(rowCount)
    for row in 0..<Int32(rowCount) {
      var values: [String?] = []
      values.reserveCapacity(columnCount)
      for column in 0..<Int32(columnCount) {
        if PQgetisnull(result, row, column) != 0 {
          values.append(nil)
        } else {
          values.append(String(cString: PQgetvalue(result, row, column)))
        }
      }
      rows.append(PostgresRow(values: values))
    }
    let affected = Int(String(cString: PQcmdTuples(result))) ?? 0
    return PostgresRows(rows: rows, affected: affected)
  }

  private var lastMessage: String { Self.redact(Self.message(of: handle), secrets) }

  private static func message(of connection: OpaquePointer) -> String {
    let text = String(cString: PQerrorMessage(connection)).trimmingCharacters(in: .whitespacesAndNewlines)
    return text.isEmpty ? "the job store's connection failed" : text
  }

  private func redact(_ message: String) -> String { Self.redact(message, secrets) }

  private static func redact(_ message: String, _ secrets: [String]) -> String {
    secrets.reduce(message) { $0.replacingOccurrences(of: $1, with: "***") }
  }

  /// The URL and the password it carries, for redaction; a URL libpq cannot parse is refused without quoting
  /// it (libpq's own message would).
  private static func secrets(of url: String) throws(PostgresError) -> [String] {
    var error: UnsafeMutablePointer<CChar>?
    guard let options = PQconninfoParse(url, &error) else {
      PQfreemem(error)
      throw PostgresError(message: "the job store URL is not a valid libpq connection string or URL")
    }
    defer { PQconninfoFree(options) }
    var secrets = [url]
    var option = options
    while let keyword = option.pointee.keyword {
      if String(cString: keyword) == "password", let value = option.pointee.val {
        let password = String(cString: value)
        if !password.isEmpty { secrets.append(password) }
      }
      option += 1
    }
    return secrets
  }

  private static func withCStrings<R>(
    _ strings: [String], _ body: (UnsafePointer<UnsafePointer<CChar>?>) -> R
  ) -> R {
    let buffers = strings.map { Array($0.utf8CString) }
    return withPointers(buffers.map { $0 } + [nil]) { body($0) }
  }

  /// Pointers to each buffer (nil stays nil), valid for the call.
  private static func withPointers<R>(
    _ buffers: [[CChar]?], _ body: (UnsafePointer<UnsafePointer<CChar>?>) -> R
  ) -> R {
    // Copy each buffer into memory that lives for the whole call.
    let copies: [UnsafeMutablePointer<CChar>?] = buffers.map { buffer in
      guard let buffer else { return nil }
      let copy = UnsafeMutablePointer<CChar>.allocate(capacity: max(buffer.count, 1))
      copy.initialize(from: buffer, count: buffer.count)
      return copy
    }
    defer { for copy in copies { copy?.deallocate() } }
    let pointers = copies.map { UnsafePointer($0) }
    return pointers.withUnsafeBufferPointer { body($0.baseAddress!) }
  }
}
