/// Reads ffmpeg's `-progress pipe:1` lines (`out_time_us=1234567`, `progress=continue|end`).
public struct FFmpegProgress: Sendable {
  /// Microseconds of output written so far.
  public private(set) var outTimeMicroseconds: Int64 = 0
  public private(set) var ended = false

  public init() {}

  /// Feeds one line; returns true when it completed a progress block.
  public mutating func feed(_ line: Substring) -> Bool {
    guard let equals = line.firstIndex(of: "=") else { return false }
    let key = line[..<equals]
    let value = line[line.index(after: equals)...].trimmingCharacters(in: .whitespaces)
    switch key {
    case "out_time_us", "out_time_ms":  // both hold microseconds (ffmpeg's naming)
      if let micros = Int64(value), micros >= 0 { outTimeMicroseconds = micros }
    case "progress":
      if value == "end" { ended = true }
      return true
    default: break
    }
    return false
  }

  /// Fraction done of a `duration` seconds input, 0...1.
  public func fraction(of duration: Double?) -> Double {
    guard let duration, duration > 0 else { return ended ? 1 : 0 }
    return min(1, max(0, Double(outTimeMicroseconds) / 1e6 / duration))
  }
}
