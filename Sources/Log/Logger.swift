import Foundation

/// A structured logger: every line is one JSON object with `time`, `level`, `msg` and the logger's fields.
///
/// Values are copied cheaply; `with(_:_:)` returns a logger that adds a field (`request_id`, `job_id`) to every
/// line. Callers pass only non-secret values: redaction happens where a value is produced, not here.
public struct Logger: Sendable {
  /// The lowest level that is written.
  public let level: LogLevel
  private let sink: any LogSink
  private let fields: [(LogKey, LogValue)]

  /// A logger writing lines at `level` and above to `sink`.
  public init(level: LogLevel, sink: any LogSink) {
    self.level = level
    self.sink = sink
    self.fields = []
  }

  private init(level: LogLevel, sink: any LogSink, fields: [(LogKey, LogValue)]) {
    self.level = level
    self.sink = sink
    self.fields = fields
  }

  /// A logger that writes nothing.
  public static var discarding: Logger { Logger(level: .error, sink: DiscardingLogSink()) }

  /// A copy of this logger that adds `key` to every line.
  public func with(_ key: String, _ value: LogValue) -> Logger {
    Logger(level: level, sink: sink, fields: fields + [(LogKey(key), value)])
  }

  /// Whether a line at `level` would be written.
  public func enabled(_ level: LogLevel) -> Bool { level >= self.level }

  public func debug(_ msg: String, _ extra: KeyValuePairs<String, LogValue> = [:]) { log(.debug, msg, extra) }
  public func info(_ msg: String, _ extra: KeyValuePairs<String, LogValue> = [:]) { log(.info, msg, extra) }
  public func warning(_ msg: String, _ extra: KeyValuePairs<String, LogValue> = [:]) { log(.warning, msg, extra) }
  public func error(_ msg: String, _ extra: KeyValuePairs<String, LogValue> = [:]) { log(.error, msg, extra) }

  /// Writes one line if `level` is enabled. Warnings and errors are written before this returns.
  public func log(_ level: LogLevel, _ msg: String, _ extra: KeyValuePairs<String, LogValue> = [:]) {
    guard enabled(level) else { return }
    var line = LogLine(level: level, msg: msg)
    for (key, value) in fields { line.field(key, value) }
    for (key, value) in extra { line.field(LogKey(key), value) }
    sink.write(line.finish(), urgent: level >= .warning)
  }

  /// The bytes of `line` with this logger's fields, or nil when its level is disabled. For callers that batch
  /// many lines into one `writeBatch` (the HTTP loops' access log).
  public func render(_ line: consuming LogLine) -> [UInt8]? {
    guard enabled(line.level) else { return nil }
    for (key, value) in fields { line.field(key, value) }
    return line.finish()
  }

  /// Writes complete lines made by `render`, as one batch.
  public func writeBatch(_ lines: [UInt8]) {
    guard !lines.isEmpty else { return }
    sink.write(lines, urgent: false)
  }

  /// Writes out anything buffered (call before the process exits).
  public func flush() { sink.flush() }
}

private struct DiscardingLogSink: LogSink {
  func write(_ line: [UInt8], urgent: Bool) {}
  func flush() {}
}

/// A value of a log field.
public enum LogValue: Sendable, ExpressibleByStringLiteral, ExpressibleByIntegerLiteral {
  case string(String)
  case int(Int)
  case double(Double)
  case bool(Bool)

  public init(stringLiteral value: String) { self = .string(value) }
  public init(integerLiteral value: Int) { self = .int(value) }
}
