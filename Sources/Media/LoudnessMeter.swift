import Foundation

/// EBU R128 / ITU-R BS.1770-4 figures as ffmpeg's `ebur128` filter reports them in its summary.
public struct LoudnessSummary: Sendable, Equatable {
  /// Integrated loudness, LUFS (LKFS); -70 for silence.
  public var integrated: Double
  /// Loudness range, LU.
  public var range: Double
  /// Highest sample, dBFS (-inf for silence).
  public var samplePeak: Double
  /// Highest true (inter-sample) peak, dBTP (-inf for silence).
  public var truePeak: Double

  /// The `ebur128` filter as Ferry runs it: summary on stderr at `info`, no per-frame lines.
  public static let filter = "ebur128=peak=true+sample:framelog=verbose"

  /// Reads the filter's summary from ffmpeg's stderr; nil when there is none.
  public static func parse(_ stderr: String) -> LoudnessSummary? {
    guard let start = stderr.range(of: "Summary:", options: .backwards) else { return nil }
    var section = ""
    var values: [String: Double] = [:]
    for rawLine in stderr[start.upperBound...].split(separator: "\n") {
      let line = rawLine.trimmingCharacters(in: .whitespaces)
      if line.hasSuffix(":") {
        section = String(line.dropLast())
        continue
      }
      let parts = line.split(separator: ":", maxSplits: 1)
      guard parts.count == 2, let number = parts[1].split(separator: " ").first.flatMap({ Double($0) }) else {
        continue
      }
      values["\(section)/\(parts[0])"] = number
    }
    guard let integrated = values["Integrated loudness/I"] else { return nil }
    return LoudnessSummary(
      integrated: integrated, range: values["Loudness range/LRA"] ?? 0,
      samplePeak: values["Sample peak/Peak"] ?? -.infinity, truePeak: values["True peak/Peak"] ?? -.infinity)
  }
}

/// Measures a file's loudness with ffmpeg (decode + `ebur128`, ~400x realtime here).
public struct LoudnessMeter: Sendable {
  public let tools: MediaTools

  public init(tools: MediaTools) {
    self.tools = tools
  }

  /// The summary for the first audio stream of `path`; nil when ffmpeg could not measure it.
  public func measure(_ path: String, runner: ProcessRunner = ProcessRunner()) throws -> LoudnessSummary? {
    let exit = try runner.run(
      tools.ffmpeg,
      ["-hide_banner", "-nostdin", "-nostats", "-loglevel", "info"] + MediaTools.safeInput + [
        "-i", path, "-map", "0:a:0", "-af", LoudnessSummary.filter, "-f", "null", "-",
      ])
    guard exit.status == 0 else { return nil }
    return LoudnessSummary.parse(exit.stderr)
  }
}
