/// Severity of a log line, ordered from most to least verbose.
public enum LogLevel: Int, Comparable, Sendable, CaseIterable {
  case debug = 0
  case info = 1
  case warning = 2
  case error = 3

  /// The spelling used in configuration and in the `level` field of every line.
  public var name: String {
    switch self {
    case .debug: "debug"
    case .info: "info"
    case .warning: "warning"
    case .error: "error"
    }
  }

  /// Parses a configuration spelling (`debug`, `info`, `warning`, `error`).
  public init?(name: String) {
    guard let level = LogLevel.allCases.first(where: { $0.name == name }) else { return nil }
    self = level
  }

  public static func < (lhs: LogLevel, rhs: LogLevel) -> Bool { lhs.rawValue < rhs.rawValue }
}
