import AudioAnalysis
import Foundation
import JSON
import Jobs
import Locations
import Problems

/// `POST /media/analyze`: loudness (BS.1770-4 / EBU R128), peaks, clipping, silence and noise estimates of
/// the input, and where it holds speech, music and other sound (`ContentAnalysis`); the JSON result is the job's `result`, and is also written to `output` when the request names
/// one (Dolby's own analyze samples send none and read `result`).
public struct AnalyzeOperation: JobOperation {
  public let path = "/media/analyze"
  let work: AnalyzeWork

  public init(transfers: JobTransfers, tools: MediaTools) {
    work = AnalyzeWork(transfers: transfers, tools: tools)
  }

  public func validate(_ request: JSONValue) throws(InvalidRequest) -> AnalyzeSpec {
    let (input, output) = try MediaRequest.inputAndOptionalOutput(request)
    return AnalyzeSpec(
      input: input, output: output, settings: try AnalyzeSettings(request: request),
      region: try MediaRegion(request))
  }

  public func run(_ spec: AnalyzeSpec, context: JobContext) throws -> String {
    try work.run(spec, context: context)
  }
}

struct AnalyzeWork {
  let transfers: JobTransfers
  let tools: MediaTools

  /// Long inputs are measured in pieces in parallel (`MediaPieces`): their series combine exactly, see
  /// `LoudnessMath`. Later pieces start this much early so their 3 s short-term windows are full where they take over.
  static let warmUp = 3.0

  func run(_ spec: AnalyzeSpec, context: JobContext) throws -> String {
    let (input, output, settings, region) = (spec.input, spec.output, spec.settings, spec.region)

    let inputFile = context.workDirectory + "/input"
    try transfers.fetch(input, field: "input", to: inputFile, context: context, share: 0...30)
    let info = try MediaSteps.probe(inputFile, tools: tools, context: context)
    let (start, end) = try MediaRegion.analyzed(region, of: info)
    // What the region holds (decoded and classified) is found alongside the loudness pieces, not after them.
    let tools = self.tools
    let (measurement, content) = try MediaPieces.alongside(
      { () throws(JobFailure) in
        try ContentAnalysis.run(
          inputFile, from: start, to: end, tools: tools, context: context, share: 0...0, reports: false)
      }, discard: { $0.discard() }
    ) { () throws(JobFailure) in
      try measure(
        inputFile, from: start, to: end, rate: info.sampleRate ?? 48000, settings: settings, context: context)
    }
    defer { content.discard() }
    let bandwidth = measurement.spectrum.bandwidth(sampleRate: info.sampleRate ?? 48000)

    // The result file carries the warnings too (the engine adds them to the job's result, finding them there).
    let resultText = ResultWarnings.adding(
      context.warnings,
      to: report(
        measurement, bandwidth: bandwidth, info: info, settings: settings, start: start, end: end, content: content
      ).description)
    guard let output else { return resultText }
    try transfers.deliverResult(resultText, named: "analysis.json", to: output, context: context)
    return resultText
  }

  /// What the pieces measured, combined in the input's time.
  struct Measurement {
    var momentary: [Double] = []
    /// When each momentary block ends (the input's time).
    var momentaryTimes: [Double] = []
    var shortTerm: [(time: Double, value: Double)] = []
    var truePeaks: [Int: Double] = [:]
    var samplePeaks: [Int: Double] = [:]
    var silences: [(start: Double, end: Double)] = []
    /// The long-term spectrum of sampled windows of the audio, for the bandwidth.
    var spectrum = Bandwidth.Spectrum()
  }

  /// Measures `path` from `start` to `end` in pieces; with `bandwidth`, also samples windows for the bandwidth.
  func measure(
    _ path: String, from start: Double, to end: Double, rate: Int, settings: AnalyzeSettings, bandwidth: Bool = true,
    context: JobContext
  ) throws(JobFailure) -> Measurement {
    let pieces = MediaPieces.split(from: start, to: end, warmUp: Self.warmUp)
    let outputs = try MediaPieces.run(pieces) { piece throws(JobFailure) -> [String] in
      // Plain names: ffmpeg runs in the work directory.
      let logs = AnalyzeCommand.Logs(
        loudness: "loudness-\(piece.index).txt", truePeaks: "true-peaks-\(piece.index).txt",
        samplePeaks: "sample-peaks-\(piece.index).txt", spectrum: bandwidth ? "spectrum-\(piece.index).raw" : nil)
      let arguments = AnalyzeCommand.arguments(
        input: path, start: piece.from == 0 ? nil : piece.from, length: piece.to - piece.from, sampleRate: rate,
        settings: settings, logs: logs)
      // Only the first piece reports progress (they run at the same pace).
      try MediaSteps.ffmpeg(
        arguments, tools: tools, duration: piece.to - piece.from, context: context,
        share: piece.index == 0 ? 30...90 : 0...0, reports: piece.index == 0, in: context.workDirectory)
      let directory = context.workDirectory + "/"
      return [logs.loudness, logs.truePeaks, logs.samplePeaks, logs.spectrum].compactMap { $0.map { directory + $0 } }
    }

    // The logs are read as they stream from their files, never whole: six hours make about 40 MB of them, and
    // 166 MB of sampled windows (BENCHMARKS.md, "Analyze memory").
    var measurement = Measurement()
    for (piece, files) in zip(pieces, outputs) {
      let offset = piece.from
      var openSilence: Double?
      MetadataLog.forEachFrame(inFile: files[0]) { frame in
        let time = offset + frame.time
        if let silenceStart = frame.values["lavfi.silence_start"] { openSilence = offset + silenceStart }
        if let silenceEnd = frame.values["lavfi.silence_end"], let begun = openSilence {
          measurement.addSilence(begun, offset + silenceEnd, within: piece.keepFrom, piece.to)
          openSilence = nil
        }
        guard piece.keeps(time) else { return }
        if let m = frame.values["lavfi.r128.M"] {
          measurement.momentary.append(m)
          measurement.momentaryTimes.append(time)
        }
        if let s = frame.values["lavfi.r128.S"] { measurement.shortTerm.append((time, s)) }
      }
      if let begun = openSilence { measurement.addSilence(begun, piece.to, within: piece.keepFrom, piece.to) }
      for (file, isTrue) in [(files[1], true), (files[2], false)] {
        MetadataLog.forEachFrame(inFile: file) { frame in
          // Judge the frame by its own start: a region or piece may begin mid-second.
          let time = offset + frame.time
          let second = Int((time + 1e-6).rounded(.down))
          guard piece.keeps(time), let peak = frame.values["lavfi.astats.Overall.Peak_level"] else { return }
          if isTrue { measurement.truePeaks[second] = peak } else { measurement.samplePeaks[second] = peak }
        }
      }
      if files.count > 3 { measurement.spectrum.add(rawFile: files[3]) }
      for file in files { try? FileManager.default.removeItem(atPath: file) }
    }
    measurement.silences = Measurement.merged(measurement.silences)
    return measurement
  }

  /// The Dolby-shaped result.
  func report(
    _ m: Measurement, bandwidth: Double?, info: MediaInfo, settings: AnalyzeSettings, start: Double, end: Double,
    content: ContentAnalysis
  ) -> JSONValue {
    func r(_ value: Double, _ places: Double = 10) -> JSONValue {
      value.isFinite ? .double((value * places).rounded() / places) : .null
    }
    let duration = end - start
    let relative = settings.meteringMode != "1770-1"
    // Dialog intelligence: the momentary blocks whose middle (200 ms before their end) lies in speech, when
    // the classifier found at least `speech_threshold` percent of speech.
    let audible = m.momentary.filter { $0 > -70 }.sorted()
    let speechBlocks = zip(m.momentary, m.momentaryTimes).filter { content.isSpeech(at: $0.1 - 0.2 - start) }.map(\.0)
    let speechPercentage = content.percentage(.speech)
    let speechGating =
      settings.dialogIntelligence && speechPercentage >= settings.speechThreshold && !speechBlocks.isEmpty
    let integrated = LoudnessMath.integrated(speechGating ? speechBlocks : m.momentary, relativeGate: relative)
    let range = LoudnessMath.range(m.shortTerm.map(\.value))
    let samplePeak = m.samplePeaks.values.max() ?? -.infinity
    let truePeak = max(m.truePeaks.values.max() ?? -.infinity, samplePeak)

    // Noise: the quietest tenth of the audible blocks.
    let quiet = Array(audible.prefix(max(1, audible.count / 10)))
    let noise = quiet.isEmpty ? -70 : LoudnessMath.loudness(LoudnessMath.meanPower(quiet))

    var series: [JSONValue] = []
    var shortTermBySecond: [Int: Double] = [:]
    for entry in m.shortTerm { shortTermBySecond[Int((entry.time + 1e-6).rounded(.down))] = entry.value }
    for second in Int(start.rounded(.down))..<Int(end.rounded(.up)) {
      let loud = shortTermBySecond[second].map { max($0, -70) } ?? -70
      series.append(
        .array([
          .int(second), r(loud), r(m.samplePeaks[second] ?? -.infinity), r(m.truePeaks[second] ?? -.infinity),
        ]))
    }

    var clipped: [(Double, Double)] = []
    for second in m.samplePeaks.keys.sorted() where m.samplePeaks[second]! >= -0.1 {
      if let last = clipped.last, last.1 == Double(second) {
        clipped[clipped.count - 1].1 = Double(second + 1)
      } else {
        clipped.append((Double(second), Double(second + 1)))
      }
    }
    let silent = m.silences.reduce(0) { $0 + ($1.end - $1.start) }

    var audio: [String: JSONValue] = [
      "loudness": .object([
        "measured": r(integrated), "range": r(range), "sample_peak": r(samplePeak), "true_peak": r(truePeak),
        "gating_mode": .string(speechGating ? "speech" : "level"),
        "metering_mode": .string(settings.meteringMode), "time_series": .array(series),
      ]),
      "clipping": .object([
        "num_sections": .int(clipped.count),
        "sections": .array(clipped.map { .object(["start": r($0.0, 1000), "end": r($0.1, 1000)]) }),
      ]),
      "noise": .object(["level_average": r(noise), "snr_average": r(integrated - noise)]),
      "silence": .object([
        "percentage": r(min(100, silent / duration * 100)), "num_sections": .int(m.silences.count),
        "sections": .array(
          m.silences.enumerated().map { index, section in
            .object([
              "section_id": .string("si_\(index + 1)"), "start": r(section.start, 1000), "end": r(section.end, 1000),
              "duration": r(section.end - section.start, 1000),
            ])
          }),
      ]),
      // Hz; null for silence.
      "bandwidth": bandwidth.map { .int(Int($0.rounded())) } ?? .null,
    ]
    audio.merge(content.blocks()) { $1 }
    if settings.loudnessMax != nil || settings.loudnessMin != nil || settings.truePeakMax != nil {
      var problems: [String] = []
      if let max = settings.loudnessMax, integrated > max {
        problems.append("loudness \(r(integrated)) LKFS is above the maximum \(max)")
      }
      if let min = settings.loudnessMin, integrated < min {
        problems.append("loudness \(r(integrated)) LKFS is below the minimum \(min)")
      }
      if let max = settings.truePeakMax, truePeak > max {
        problems.append("true peak \(r(truePeak)) dBTP is above the maximum \(max)")
      }
      audio["validation"] = .object([
        "loudness": .object([
          "pass": .bool(problems.isEmpty),
          "detail": .string(problems.isEmpty ? "within the limits" : problems.joined(separator: "; ")),
        ])
      ])
    }
    return .object([
      "media_info": Self.mediaInfo(info),
      "processed_region": .object(["start": r(start, 1000), "end": r(end, 1000), "audio": .object(audio)]),
      "version": .string(tools.version),
    ])
  }

  static func mediaInfo(_ info: MediaInfo) -> JSONValue {
    func optional<T>(_ value: T?, _ make: (T) -> JSONValue) -> JSONValue { value.map(make) ?? .null }
    var fields: [String: JSONValue] = [
      "container": .object([
        "kind": .string(String(info.formatName.split(separator: ",").first ?? "")),
        "duration": optional(info.duration) { .double($0) }, "bitrate": optional(info.bitRate) { .int($0) },
        "size": optional(info.size) { .int($0) },
      ]),
      "audio": .object([
        "codec": optional(info.audioCodec) { .string($0) }, "sample_rate": optional(info.sampleRate) { .int($0) },
        "channels": optional(info.channels) { .int($0) }, "bit_depth": optional(info.audioBitDepth) { .int($0) },
        "channel_order": optional(info.channelLayout) { .string($0) },
        "duration": optional(info.audioDuration ?? info.duration) { .double($0) },
        "bitrate": optional(info.audioBitRate) { .int($0) },
      ]),
    ]
    if info.hasVideo {
      fields["video"] = .object([
        "codec": optional(info.videoCodec) { .string($0) }, "frame_rate": optional(info.frameRate) { .double($0) },
        "height": optional(info.height) { .int($0) }, "width": optional(info.width) { .int($0) },
        "duration": optional(info.videoDuration ?? info.duration) { .double($0) },
        "bitrate": optional(info.videoBitRate) { .int($0) },
      ])
    }
    return .object(fields)
  }
}

extension AnalyzeWork.Measurement {
  /// Adds a silence clipped to the piece's own stretch `[from, to)`.
  mutating func addSilence(_ start: Double, _ end: Double, within from: Double, _ to: Double) {
    let clippedStart = max(start, from)
    let clippedEnd = min(end, to)
    if clippedEnd > clippedStart { silences.append((clippedStart, clippedEnd)) }
  }

  /// Sections that touch (across piece boundaries) become one.
  static func merged(_ sections: [(start: Double, end: Double)]) -> [(start: Double, end: Double)] {
    var out: [(start: Double, end: Double)] = []
    for section in sections.sorted(by: { $0.start < $1.start }) {
      if let last = out.last, section.start <= last.end + 0.05 {
        out[out.count - 1].end = max(last.end, section.end)
      } else {
        out.append(section)
      }
    }
    return out
  }
}
