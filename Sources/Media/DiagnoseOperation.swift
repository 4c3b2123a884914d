import Foundation
import JSON
import Jobs
import Locations
import Problems

/// `POST /media/diagnose`: a quick health check of the input (no output): quality and noise scores, clipping,
/// loudness, silence at the ends and silent channels, from the same single measuring pass as analyze.
///
/// The scores are Ferry's own (documented in openapi.yaml), 0-10 per second of audible audio: the noise score
/// maps the second's loudness above the input's noise floor from 5 dB (0) to 40 dB (10); the quality score
/// is the noise score less 4 in a second with clipping.
public struct DiagnoseOperation: JobOperation {
  public let path = "/media/diagnose"
  let work: DiagnoseWork

  public init(transfers: JobTransfers, tools: MediaTools) {
    work = DiagnoseWork(analyze: AnalyzeWork(transfers: transfers, tools: tools))
  }

  public func validate(_ request: JSONValue) throws(InvalidRequest) -> DiagnoseSpec {
    DiagnoseSpec(
      input: try LocationParser(extraFields: ["region"]).parse(request.object?["input"], field: "input"))
  }

  public func run(_ spec: DiagnoseSpec, context: JobContext) throws -> String {
    try work.run(spec, context: context)
  }
}

struct DiagnoseWork {
  let analyze: AnalyzeWork

  func run(_ spec: DiagnoseSpec, context: JobContext) throws -> String {
    let input = spec.input
    let inputFile = context.workDirectory + "/input"
    try analyze.transfers.fetch(input, field: "input", to: inputFile, context: context, share: 0...30)
    let info = try MediaSteps.probe(inputFile, tools: analyze.tools, context: context)
    guard let duration = info.duration ?? info.audioDuration, duration >= 0.5 else {
      throw JobFailure(.unsupportedMedia, "input: under half a second of media to diagnose")
    }
    let settings = AnalyzeSettings()
    // What the input holds (decoded and classified) is found alongside the loudness pieces, not after them.
    let tools = analyze.tools
    let ((m, channelLevels), content) = try MediaPieces.alongside(
      { () throws(JobFailure) in
        try ContentAnalysis.run(
          inputFile, from: 0, to: duration, tools: tools, context: context, share: 0...0, reports: false)
      }, discard: { $0.discard() }
    ) { () throws(JobFailure) in
      let m = try analyze.measure(
        inputFile, from: 0, to: duration, rate: info.sampleRate ?? 48000, settings: settings, bandwidth: false,
        context: context)
      return (m, try Self.channelLevels(inputFile, tools: analyze.tools, context: context))
    }
    defer { content.discard() }
    return Self.report(
      m, info: info, duration: duration, channelLevels: channelLevels, version: analyze.tools.version,
      content: content
    ).description
  }

  /// Each channel's RMS level (dBFS) over the whole input.
  static func channelLevels(_ path: String, tools: MediaTools, context: JobContext) throws(JobFailure) -> [Double] {
    let exit = try MediaSteps.ffmpeg(
      ["-hide_banner", "-nostdin", "-nostats", "-loglevel", "info"] + MediaTools.safeInput + [
        "-i", path, "-map", "0:a:0", "-af", "astats=measure_overall=none:measure_perchannel=RMS_level", "-f", "null",
        "-",
      ], tools: tools, duration: nil, context: context, share: 90...95, reports: false)
    return exit.stderr.split(separator: "\n").compactMap { line -> Double? in
      guard let range = line.range(of: "RMS level dB: ") else { return nil }
      let text = line[range.upperBound...].trimmingCharacters(in: .whitespaces)
      return text == "-inf" ? -.infinity : Double(text)
    }
  }

  /// The noise score of a second `snr` dB above the noise floor: 5 dB → 0, 40 dB → 10.
  static func noiseScore(snr: Double) -> Double { min(10, max(0, (snr - 5) / 3.5)) }

  /// The names of an input's channels as ffmpeg's layouts spell them (`FL`, `FR`, `FC`, `LFE` ...), for
  /// `silent_channels`; `channel <n>` where the layout is unknown.
  static func channelNames(layout: String?, count: Int) -> [String] {
    let layouts: [String: [String]] = [
      "mono": ["FC"], "stereo": ["FL", "FR"], "2.1": ["FL", "FR", "LFE"], "3.0": ["FL", "FR", "FC"],
      "quad": ["FL", "FR", "BL", "BR"], "4.0": ["FL", "FR", "FC", "BC"], "5.0": ["FL", "FR", "FC", "BL", "BR"],
      "5.0(side)": ["FL", "FR", "FC", "SL", "SR"], "5.1": ["FL", "FR", "FC", "LFE", "BL", "BR"],
      "5.1(side)": ["FL", "FR", "FC", "LFE", "SL", "SR"], "6.1": ["FL", "FR", "FC", "LFE", "BC", "SL", "SR"],
      "7.1": ["FL", "FR", "FC", "LFE", "BL", "BR", "SL", "SR"],
    ]
    // Without a layout (a WAV may carry none), ffmpeg's default for the count.
    let defaults = [1: "mono", 2: "stereo", 6: "5.1", 8: "7.1"]
    if let known = (layout ?? defaults[count]).flatMap({ layouts[$0] }), known.count == count { return known }
    return (0..<count).map { "channel \($0 + 1)" }
  }

  static func report(
    _ m: AnalyzeWork.Measurement, info: MediaInfo, duration: Double, channelLevels: [Double], version: String,
    content: ContentAnalysis
  ) -> JSONValue {
    func r(_ value: Double) -> JSONValue { value.isFinite ? .double((value * 10).rounded() / 10) : .null }
    let audible = m.momentary.filter { $0 > -70 }.sorted()
    let quiet = Array(audible.prefix(max(1, audible.count / 10)))
    let floor = quiet.isEmpty ? -70 : LoudnessMath.loudness(LoudnessMath.meanPower(quiet))
    var loudness: [Int: Double] = [:]
    for entry in m.shortTerm { loudness[Int((entry.time + 1e-6).rounded(.down))] = entry.value }
    let seconds = Array(0..<Int(duration.rounded(.up)))
    var noise: [Int: Double] = [:]
    var quality: [Int: Double] = [:]
    for second in seconds {
      guard let level = loudness[second], level > -70 else { continue }
      let score = noiseScore(snr: level - floor)
      noise[second] = score
      let clipped = (m.samplePeaks[second] ?? -.infinity) >= -0.1
      quality[second] = max(0, score - (clipped ? 4 : 0))
    }
    func mean(_ values: some Collection<Double>) -> Double {
      values.isEmpty ? 0 : values.reduce(0, +) / Double(values.count)
    }
    /// A score as Dolby's diagnose reports one: the average over the audible seconds, the share of them in
    /// each of ten bins (`[0, 1)` ... `[9, 10]`) as `duration` seconds and `percentage`, and the worst 5 s.
    func scored(_ scores: [Int: Double]) -> JSONValue {
      let distribution: [JSONValue] = (0..<10).map { bin in
        let count = scores.values.filter { min(9, Int($0.rounded(.down))) == bin }.count
        return .object([
          "lower_bound": .int(bin), "upper_bound": .int(bin + 1), "duration": .int(count),
          "percentage": r(scores.isEmpty ? 0 : Double(count) / Double(scores.count) * 100),
        ])
      }
      var worst: (start: Int, score: Double)?
      for start in seconds {
        let window = (start..<(start + 5)).compactMap { scores[$0] }
        guard window.count == 5 else { continue }
        let score = mean(window)
        if worst == nil || score < worst!.score { worst = (start, score) }
      }
      return .object([
        "average": r(mean(scores.values)), "distribution": .array(distribution),
        "worst_segment": worst.map {
          .object(["start": .int($0.start), "end": .int($0.start + 5), "score": r($0.score)])
        }
          ?? .null,
      ])
    }
    var clippedSections: [(Int, Int)] = []
    for second in m.samplePeaks.keys.sorted() where m.samplePeaks[second]! >= -0.1 {
      if let last = clippedSections.last, last.1 == second {
        clippedSections[clippedSections.count - 1].1 = second + 1
      } else {
        clippedSections.append((second, second + 1))
      }
    }
    let silentTotal = m.silences.reduce(0) { $0 + ($1.end - $1.start) }
    let atBeginning = m.silences.first.map { $0.start <= 0.05 ? $0.end : 0 } ?? 0
    let atEnd = m.silences.last.map { $0.end >= duration - 0.05 ? duration - $0.start : 0 } ?? 0
    let names = Self.channelNames(layout: info.channelLayout, count: channelLevels.count)
    let silentChannels = channelLevels.enumerated().filter { $0.element < -60 }.map {
      JSONValue.string(names[$0.offset])
    }
    let samplePeak = m.samplePeaks.values.max() ?? -.infinity
    var audio: [String: JSONValue] = [
      "quality_score": scored(quality),
      "noise_score": scored(noise),
      "clipping": .object([
        "events": .int(clippedSections.count),
        "sections": .array(clippedSections.map { .object(["start": .int($0.0), "end": .int($0.1)]) }),
      ]),
      "loudness": .object([
        "measured": r(LoudnessMath.integrated(m.momentary)), "range": r(LoudnessMath.range(m.shortTerm.map(\.value))),
        "sample_peak": r(samplePeak), "true_peak": r(max(m.truePeaks.values.max() ?? -.infinity, samplePeak)),
        // BS.1770's level gate: Ferry has no speech classifier to gate on (as analyze's `gating_mode`).
        "gating_mode": .string("level"),
      ]),
      "silence": .object([
        "percentage": r(min(100, silentTotal / duration * 100)), "at_beginning": r(atBeginning), "at_end": r(atEnd),
        "num_sections": .int(m.silences.count), "silent_channels": .array(silentChannels),
      ]),
    ]
    audio.merge(content.blocks()) { $1 }
    return .object(["media_info": AnalyzeWork.mediaInfo(info), "audio": .object(audio), "version": .string(version)])
  }
}
