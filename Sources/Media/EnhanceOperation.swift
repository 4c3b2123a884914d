import CSpawn
import Foundation
import JSON
import Jobs
import Locations
import Problems

/// `POST /media/enhance`: fetch the input, clean and level it with ffmpeg, deliver it to the output.
public struct EnhanceOperation: JobOperation {
  public let path = "/media/enhance"
  let work: EnhanceWork

  public init(transfers: JobTransfers, tools: MediaTools) {
    work = EnhanceWork(transfers: transfers, tools: tools)
  }

  public func validate(_ request: JSONValue) throws(InvalidRequest) -> EnhanceSpec {
    let (input, output) = try MediaRequest.inputAndOutput(request)
    return EnhanceSpec(input: input, output: output, settings: try EnhanceSettings(request: request))
  }

  public func run(_ spec: EnhanceSpec, context: JobContext) throws -> String {
    try work.run(spec, context: context)
  }
}

struct EnhanceWork {
  let transfers: JobTransfers
  let tools: MediaTools

  /// How close to the target a result must land, LU.
  static let tolerance = 0.4

  func run(_ spec: EnhanceSpec, context: JobContext) throws -> String {
    let (input, output, settings) = (spec.input, spec.output, spec.settings)

    let inputFile = context.workDirectory + "/input"
    try transfers.fetch(input, field: "input", to: inputFile, context: context, share: 0...30)
    let info = try MediaSteps.probe(inputFile, tools: tools, context: context)
    let format = OutputFormat.choose(outputName: JobTransfers.fileName(of: output), inputFormat: info.formatName)
    let rate = EnhanceCommand.sampleRate(info: info, format: format)

    // Pass 1: clean and measure, in pieces on all cores for long inputs.
    let (cleans, before) = try clean(
      inputFile, info: info, settings: settings, rate: rate, context: context)

    // Pass 2, checked: gain and limiter, measuring the encoded result as it is written; corrected once or
    // twice when it missed.
    let outputName = "output." + format.fileExtension
    let outputFile = context.workDirectory + "/" + outputName
    var (gain, ceiling) = EnhanceCommand.plan(measured: before, settings: settings)
    var after = before
    for round in 0..<3 {
      after = try finish(
        cleans: cleans, input: inputFile, output: outputName, gain: gain, ceiling: ceiling, info: info, format: format,
        context: context, share: round == 0 ? 60...80 : 80...84)
      let peak = settings.peakReference == .sample ? after.samplePeak : after.truePeak
      let peakOK = peak <= settings.peakLimit + 0.05
      let loudnessOK = settings.targetLevel.map { abs(after.integrated - $0) <= Self.tolerance } ?? true
      if peakOK && (loudnessOK || before.integrated <= -70) { break }
      if !peakOK { ceiling = (ceiling ?? settings.peakLimit) - (peak - settings.peakLimit) - 0.2 }
      if !loudnessOK, let target = settings.targetLevel { gain += target - after.integrated }
    }
    for clean in cleans { try? FileManager.default.removeItem(atPath: context.workDirectory + "/" + clean) }

    try transfers.deliver(
      file: outputFile, to: output, field: "output", contentType: format.contentType, context: context, share: 85...99)
    return Self.result(settings: settings, before: before, after: after, gain: gain, version: tools.version)
  }

  /// Later pieces of pass 1 start this much early: the noise reduction's estimate, the high-pass and the 3 s
  /// short-term loudness window settle before their own part begins.
  static let warmUp = 3.0

  /// Pass 1: the cleaned audio as float WAVs (plain names in the work directory, in order) and its loudness,
  /// combined exactly from the pieces' series and peaks.
  func clean(_ input: String, info: MediaInfo, settings: EnhanceSettings, rate: Int, context: JobContext)
    throws(JobFailure) -> (cleans: [String], measured: LoudnessSummary)
  {
    try clean(
      input, info: info, filters: EnhanceCommand.cleanFilters(settings), rate: rate, context: context)
  }

  /// Pass 1 with any filter chain, over the input from `from` to `to` seconds (nil: its end), its work files
  /// named `<prefix>-<piece>.wav`; progress goes to `share` (nil: none, for passes run side by side).
  func clean(
    _ input: String, info: MediaInfo, filters: [String], from: Double = 0, to: Double? = nil, rate: Int,
    prefix: String = "clean", share: ClosedRange<Int>? = 30...60, truePeak: Bool = true, context: JobContext
  ) throws(JobFailure) -> (cleans: [String], measured: LoudnessSummary) {
    // An input of unknown length is one piece (0 to 0: `single` reads it whole).
    let end = to ?? max(from, info.duration ?? info.audioDuration ?? 0)
    let pieces = MediaPieces.split(from: from, to: end, warmUp: Self.warmUp)
    let inputRate = info.sampleRate ?? 48000
    let outputs = try MediaPieces.run(pieces) { piece throws(JobFailure) -> (String, String, Double, Double) in
      let clean = "\(prefix)-\(piece.index).wav"
      let log = "\(prefix)-\(piece.index).txt"
      // The whole input in one piece is read to its end, whatever its header claims.
      let whole = pieces.count == 1 && to == nil
      let arguments = EnhanceCommand.cleanArguments(
        input: input, start: piece.from == 0 ? nil : piece.from, length: whole ? nil : piece.to - piece.from,
        warm: piece.warm, inputRate: inputRate, clean: clean, log: log, filters: filters, rate: rate,
        truePeak: truePeak)
      // Only the first piece reports progress (they run at the same pace).
      let reports = piece.index == 0 && share != nil
      let exit = try MediaSteps.ffmpeg(
        arguments, tools: tools, duration: whole ? info.duration : piece.to - piece.from, context: context,
        share: reports ? share! : 0...0, reports: reports, in: context.workDirectory)
      // Without the true peak measured, the sample peak stands in for it (the caller asked not to need it).
      guard let samplePeak = EnhanceCommand.reportedPeak(exit.stderr, filter: "sp"),
        let truePeak = truePeak ? EnhanceCommand.reportedPeak(exit.stderr, filter: "tp") : samplePeak
      else {
        throw JobFailure(.processingFailed, "the input's loudness could not be measured")
      }
      return (clean, context.workDirectory + "/" + log, samplePeak, truePeak)
    }
    // The logs stream from their files (a long input's are tens of megabytes: never held whole).
    var momentary: [Double] = []
    var shortTerm: [Double] = []
    for (piece, output) in zip(pieces, outputs) {
      MetadataLog.forEachFrame(inFile: output.1) { frame in
        guard piece.keeps(piece.from + frame.time) else { return }
        if let m = frame.values["lavfi.r128.M"] { momentary.append(m) }
        if let s = frame.values["lavfi.r128.S"] { shortTerm.append(s) }
      }
      try? FileManager.default.removeItem(atPath: output.1)
    }
    let measured = LoudnessSummary(
      integrated: LoudnessMath.integrated(momentary), range: LoudnessMath.range(shortTerm),
      samplePeak: outputs.map(\.2).max() ?? -.infinity, truePeak: outputs.map(\.3).max() ?? -.infinity)
    return (outputs.map(\.0), measured)
  }

  /// Pass 2 and the measurement of what it wrote: while ffmpeg encodes, a second ffmpeg measures the encoded
  /// audio it streams down a pipe; formats without a streamable muxer are measured afterwards.
  func finish(
    cleans: [String], input: String, output: String, gain: Double, ceiling: Double?, info: MediaInfo,
    format: OutputFormat, limiter: LimiterTiming = .enhance, duration: Double? = nil, reports: Bool = true,
    streamPCMCheck: Bool = false, context: JobContext, share: ClosedRange<Int>
  ) throws(JobFailure) -> LoudnessSummary {
    let duration = duration ?? info.duration
    let outputFile = context.workDirectory + "/" + output
    guard let check = EnhanceCommand.checkMuxer(for: format, pcm: streamPCMCheck) else {
      try MediaSteps.ffmpeg(
        EnhanceCommand.finishArguments(
          cleans: cleans, input: input, output: output, gain: gain, ceiling: ceiling, info: info, format: format,
          limiter: limiter),
        tools: tools, duration: duration, context: context, share: share, reports: reports,
        in: context.workDirectory)
      return try MediaSteps.measure(outputFile, tools: tools, context: context)
    }
    var pipe: [Int32] = [-1, -1]
    guard ferry_pipe_cloexec(&pipe) == 0 else {
      throw JobFailure(.internalError, "cannot make a pipe", retry: true)
    }
    let checker = ProcessRunner()
    let registration = context.onCancel { checker.cancel() }
    defer { registration.cancel() }
    let measured = LockedBox<LoudnessSummary?>(nil)
    let checked = DispatchSemaphore(value: 0)
    let readEnd = pipe[0]
    Thread.detachNewThread { [tools] in
      defer { checked.signal() }
      guard
        let exit = try? checker.run(
          tools.ffmpeg, EnhanceCommand.checkArguments(demuxer: check.demuxer), stdin: readEnd),
        exit.status == 0
      else { return }
      measured.withLock { $0 = LoudnessSummary.parse(exit.stderr) }
    }
    do throws(JobFailure) {
      try MediaSteps.ffmpeg(
        EnhanceCommand.finishArguments(
          cleans: cleans, input: input, output: output, gain: gain, ceiling: ceiling, info: info, format: format,
          check: check.muxer, limiter: limiter),
        tools: tools, duration: duration, context: context, share: share, reports: reports,
        in: context.workDirectory, fd3: pipe[1])
    } catch {
      checker.cancel()
      checked.wait()
      throw error
    }
    checked.wait()
    // A check that could not measure (it should not happen) is made again from the file.
    if let summary = measured.withLock({ $0 }) { return summary }
    context.logger.warning("the streamed check of an enhance result failed; measuring the file")
    return try MediaSteps.measure(outputFile, tools: tools, context: context)
  }

  static func result(
    settings: EnhanceSettings, before: LoudnessSummary, after: LoudnessSummary, gain: Double, version: String
  ) -> String {
    func figures(_ s: LoudnessSummary) -> JSONValue {
      func rounded(_ v: Double) -> JSONValue { v.isFinite ? .double((v * 10).rounded() / 10) : .null }
      return .object([
        "integrated": rounded(s.integrated), "range": rounded(s.range), "sample_peak": rounded(s.samplePeak),
        "true_peak": rounded(s.truePeak),
      ])
    }
    var applied: [String: JSONValue] = [
      "content_type": .string(settings.contentType), "gain_db": .double((gain * 10).rounded() / 10),
      "peak_limit": .double(settings.peakLimit), "peak_reference": .string(settings.peakReference.rawValue),
    ]
    if let target = settings.targetLevel { applied["target_level"] = .double(target) }
    if let reduction = settings.noiseReduction { applied["noise_reduction_db"] = .double(reduction) }
    if let frequency = settings.highPass { applied["high_pass_hz"] = .double(frequency) }
    if settings.humReduction { applied["hum_reduction"] = .bool(true) }
    return JSONValue.object([
      "processing": .object(applied),
      "loudness": .object(["before": figures(before), "after": figures(after)]),
      "version": .string(version),
    ]).description
  }
}
