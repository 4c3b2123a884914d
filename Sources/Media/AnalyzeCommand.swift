/// The ffmpeg pass of an analyze, for one piece of the input: momentary and short-term loudness with
/// silence detection, true peaks per second (4x oversampled, as BS.1770-4 Annex 2 describes) and sample
/// peaks per second, each branch writing its per-frame values to a metadata log.
public enum AnalyzeCommand {
  /// The files one piece writes its logs to.
  public struct Logs: Sendable, Equatable {
    public var loudness: String
    public var truePeaks: String
    public var samplePeaks: String
    /// Raw mono float samples of sampled windows, for the bandwidth (`Bandwidth`); nil: no bandwidth branch
    /// (diagnose does not report one).
    public var spectrum: String?
  }

  /// Arguments for the piece from `start` lasting `length` seconds (the whole input when nil).
  public static func arguments(
    input: String, start: Double?, length: Double?, sampleRate: Int, settings: AnalyzeSettings, logs: Logs
  ) -> [String] {
    var arguments = ["-hide_banner", "-nostdin", "-y", "-nostats", "-loglevel", "info", "-progress", "pipe:1"]
    if let start { arguments += ["-ss", number(start)] }
    if let length { arguments += ["-t", number(length)] }
    arguments += MediaTools.safeInput + ["-i", input]
    let over = sampleRate * 4
    var graph = [
      logs.spectrum == nil ? "[0:a:0]asplit=3[m][t][p]" : "[0:a:0]asplit=4[m][t][p][b]",
      // silencedetect's findings go into the same log (lavfi.silence_start / _end) as the loudness values.
      "[m]ebur128=metadata=1:framelog=verbose,"
        + "silencedetect=n=\(number(settings.silenceThreshold))dB:d=\(number(settings.silenceDuration)),"
        + "ametadata=mode=print:file=\(quoted(logs.loudness)),anullsink",
      // 4x oversampling with 12 taps per phase: BS.1770-4 Annex 2's 48-tap interpolator, and a third cheaper
      // than swresample's default 32 (make bench: the true-peak branch was a third of analyze's CPU).
      "[t]aformat=sample_fmts=fltp,aresample=\(over):filter_size=12,asetnsamples=n=\(over),"
        + "astats=metadata=1:reset=1:measure_perchannel=none:measure_overall=Peak_level,"
        + "ametadata=mode=print:file=\(quoted(logs.truePeaks)),anullsink",
      "[p]asetnsamples=n=\(sampleRate),"
        + "astats=metadata=1:reset=1:measure_perchannel=none:measure_overall=Peak_level,"
        + "ametadata=mode=print:file=\(quoted(logs.samplePeaks)),anullsink",
    ]
    guard let spectrum = logs.spectrum else {
      return arguments + ["-filter_complex", graph.joined(separator: ";"), "-f", "null", "-"]
    }
    graph.append("[b]\(Bandwidth.selection)[bw]")
    // The sampled windows are the one output (raw floats); the other branches end in sinks.
    return arguments + [
      "-filter_complex", graph.joined(separator: ";"), "-map", "[bw]", "-c:a", "pcm_f32le", "-f", "f32le",
      quoted(spectrum),
    ]
  }

  /// A log file name as a filter argument. Only plain names are used (ffmpeg runs in the work directory),
  /// so no data-dir path with `:`, `\\` or quotes ever meets the filter-graph parser.
  static func quoted(_ name: String) -> String {
    precondition(name.allSatisfy { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "." }, "log names are plain")
    return name
  }

  static func number(_ value: Double) -> String { EnhanceCommand.number(value) }
}
