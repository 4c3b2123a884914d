import Foundation

/// One JSON log line under construction: `{"time":...,"level":...,"msg":...` then fields, then `}\n`.
public struct LogLine: ~Copyable {
  /// The line's level.
  public let level: LogLevel
  // Internal for the inlinable field writers: the HTTP loops write an access line per request.
  @usableFromInline var bytes: [UInt8]

  /// Starts a line with the current time, `level` and `msg`.
  public init(level: LogLevel, msg: String, now: Date = Date()) {
    self.level = level
    bytes = []
    bytes.reserveCapacity(256)
    bytes.append(contentsOf: #"{"time":""#.utf8)
    Timestamp.appendISO8601(now, to: &bytes)
    LogLine.appendLevelAndMessage(level, msg, to: &bytes)
  }

  /// Starts a line with the current time from `timestamps` (a busy thread's cache), `level` and `msg`,
  /// after the lines already in `batch`: `finish()` then returns the batch with this line added, so a busy
  /// thread can collect many lines in one buffer without allocating per line.
  @inlinable
  public init(level: LogLevel, msg: String, timestamps: TimestampCache, batch: consuming [UInt8] = []) {
    self.level = level
    bytes = batch
    bytes.reserveCapacity(bytes.count + 256)
    bytes.append(contentsOf: #"{"time":""#.utf8)
    timestamps.appendNow(to: &bytes)
    LogLine.appendLevelAndMessage(level, msg, to: &bytes)
  }

  @usableFromInline static func appendLevelAndMessage(_ level: LogLevel, _ msg: String, to bytes: inout [UInt8]) {
    bytes.append(contentsOf: #"","level":""#.utf8)
    bytes.append(contentsOf: level.name.utf8)
    bytes.append(contentsOf: #"","msg":"#.utf8)
    JSONText.appendString(msg, to: &bytes)
  }

  /// Adds `"key":value`.
  public mutating func field(_ key: LogKey, _ value: LogValue) {
    bytes.append(contentsOf: key.prefix)
    switch value {
    case .string(let s): JSONText.appendString(s, to: &bytes)
    case .int(let i): bytes.appendDecimal(i)
    case .double(let d): bytes.append(contentsOf: (d.isFinite ? String(d) : "null").utf8)
    case .bool(let b): bytes.append(contentsOf: (b ? "true" : "false").utf8)
    }
  }

  /// Adds a string field without building a `LogValue`.
  @inlinable public mutating func field(_ key: LogKey, _ value: String) {
    bytes.append(contentsOf: key.prefix)
    JSONText.appendString(value, to: &bytes)
  }

  /// Adds an integer field.
  @inlinable public mutating func field(_ key: LogKey, _ value: Int) {
    bytes.append(contentsOf: key.prefix)
    bytes.appendDecimal(value)
  }

  /// Adds a duration in milliseconds with three decimals (`"duration_ms":0.278`), without floating-point
  /// formatting.
  @inlinable public mutating func field(_ key: LogKey, milliseconds nanoseconds: UInt64) {
    bytes.append(contentsOf: key.prefix)
    let micros = nanoseconds / 1000
    bytes.appendDecimal(Int(micros / 1000))
    bytes.append(UInt8(ascii: "."))
    let fraction = micros % 1000
    bytes.append(UInt8(ascii: "0") + UInt8(fraction / 100))
    bytes.append(UInt8(ascii: "0") + UInt8(fraction / 10 % 10))
    bytes.append(UInt8(ascii: "0") + UInt8(fraction % 10))
  }

  /// The finished line, newline included.
  public consuming func finish() -> [UInt8] {
    bytes.append(contentsOf: "}\n".utf8)
    return bytes
  }
}

/// A field name as a line spells it, `,"name":`, escaped once: lines written on every request (the access log)
/// keep their keys in statics, so each field costs one copy.
public struct LogKey: Sendable, ExpressibleByStringLiteral {
  @usableFromInline let prefix: [UInt8]

  public init(_ name: String) {
    var prefix: [UInt8] = [UInt8(ascii: ",")]
    JSONText.appendString(name, to: &prefix)
    prefix.append(UInt8(ascii: ":"))
    self.prefix = prefix
  }

  public init(stringLiteral name: String) { self.init(name) }
}

/// Minimal JSON string escaping for log lines (RFC 8259 §7); invalid UTF-8 never reaches here, since
/// Swift strings are valid Unicode.
public enum JSONText {
  private static let hex: [UInt8] = Array("0123456789abcdef".utf8)

  /// Appends `s` as a quoted JSON string.
  @inlinable public static func appendString(_ s: String, to out: inout [UInt8]) {
    // Most strings need no escaping: copy them whole.
    let copied = s.utf8.withContiguousStorageIfAvailable { bytes -> Bool in
      for b in bytes where b < 0x20 || b == 0x22 || b == 0x5C || b == 0x7F { return false }
      out.append(UInt8(ascii: "\""))
      out.append(contentsOf: bytes)
      out.append(UInt8(ascii: "\""))
      return true
    }
    if copied != true { appendEscaped(s, to: &out) }
  }

  @usableFromInline static func appendEscaped(_ s: String, to out: inout [UInt8]) {
    out.append(UInt8(ascii: "\""))
    for byte in s.utf8 {
      switch byte {
      case UInt8(ascii: "\""): out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\"")])
      case UInt8(ascii: "\\"): out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\\")])
      case UInt8(ascii: "\n"): out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "n")])
      case UInt8(ascii: "\r"): out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "r")])
      case UInt8(ascii: "\t"): out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "t")])
      case 0..<0x20, 0x7F:
        out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0")])
        out.append(hex[Int(byte >> 4)])
        out.append(hex[Int(byte & 0xF)])
      default: out.append(byte)
      }
    }
    out.append(UInt8(ascii: "\""))
  }
}

/// UTC timestamps with milliseconds (`2021-08-10T05:16:31.494Z`), the format of logs and the Dolby API.
public enum Timestamp {
  /// Appends `date` as ISO-8601 UTC with milliseconds.
  public static func appendISO8601(_ date: Date, to out: inout [UInt8]) {
    let ms = Int((date.timeIntervalSince1970 * 1000).rounded(.down))
    let seconds = ms / 1000
    let millis = ms - seconds * 1000
    var t = time_t(seconds)
    var parts = tm()
    gmtime_r(&t, &parts)
    appendDigits(Int(parts.tm_year) + 1900, 4, &out)
    out.append(UInt8(ascii: "-"))
    appendDigits(Int(parts.tm_mon) + 1, 2, &out)
    out.append(UInt8(ascii: "-"))
    appendDigits(Int(parts.tm_mday), 2, &out)
    out.append(UInt8(ascii: "T"))
    appendDigits(Int(parts.tm_hour), 2, &out)
    out.append(UInt8(ascii: ":"))
    appendDigits(Int(parts.tm_min), 2, &out)
    out.append(UInt8(ascii: ":"))
    appendDigits(Int(parts.tm_sec), 2, &out)
    out.append(UInt8(ascii: "."))
    appendDigits(millis, 3, &out)
    out.append(UInt8(ascii: "Z"))
  }

  static func appendDigits(_ value: Int, _ width: Int, _ out: inout [UInt8]) {
    var divisor = 1
    for _ in 1..<width { divisor *= 10 }
    var v = value
    while divisor > 0 {
      out.append(UInt8(ascii: "0") + UInt8((v / divisor) % 10))
      v %= divisor
      divisor /= 10
    }
  }
}

/// Formats the current time for log lines, reusing the date-and-seconds part within a second.
/// Not thread-safe: one per thread (each HTTP event loop has its own).
public final class TimestampCache: @unchecked Sendable {
  private var second = -1
  private var prefix: [UInt8] = []

  public init() {}

  /// Appends the current UTC time as ISO-8601 with milliseconds.
  public func appendNow(to out: inout [UInt8]) {
    var now = timespec()
    clock_gettime(CLOCK_REALTIME, &now)
    if now.tv_sec != second {
      second = now.tv_sec
      prefix.removeAll(keepingCapacity: true)
      Timestamp.appendISO8601(Date(timeIntervalSince1970: TimeInterval(now.tv_sec)), to: &prefix)
      prefix.removeLast(5)  // ".000Z"
    }
    out.append(contentsOf: prefix)
    out.append(UInt8(ascii: "."))
    Timestamp.appendDigits(now.tv_nsec / 1_000_000, 3, &out)
    out.append(UInt8(ascii: "Z"))
  }
}
