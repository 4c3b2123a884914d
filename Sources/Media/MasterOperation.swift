import Foundation
import JSON
import Jobs
import Locations
import Problems

/// `POST /media/master` and `POST /media/master/preview`: music mastering with the profiles behind Dolby's
/// preset letters (`MasterProfile`), up to five outputs each with its own settings. A preview masters a
/// segment (30 s from the start unless `segment` says otherwise) so presets can be compared first.
public struct MasterOperation: JobOperation {
  public let path: String
  let preview: Bool
  let work: MasterWork

  /// The whole-track master, `/media/master`.
  public init(transfers: JobTransfers, tools: MediaTools) {
    self.init(transfers: transfers, tools: tools, preview: false)
  }

  /// The preview, `/media/master/preview`.
  public static func preview(transfers: JobTransfers, tools: MediaTools) -> MasterOperation {
    MasterOperation(transfers: transfers, tools: tools, preview: true)
  }

  init(transfers: JobTransfers, tools: MediaTools, preview: Bool) {
    path = preview ? "/media/master/preview" : "/media/master"
    self.preview = preview
    work = MasterWork(passes: EnhanceWork(transfers: transfers, tools: tools))
  }

  public func validate(_ request: JSONValue) throws(InvalidRequest) -> MasterSpec {
    try MasterSpec(request: request, preview: preview)
  }

  public func run(_ spec: MasterSpec, context: JobContext) throws -> String {
    try work.run(spec, context: context)
  }
}

struct MasterWork {
  /// Enhance's two passes, which mastering shares: measure while processing, then gain, limiter and encode.
  let passes: EnhanceWork
  var tools: MediaTools { passes.tools }

  /// How close to the target a master must land, LU.
  static let tolerance = 0.4

  /// One output as made: its work file and what was measured.
  struct Made: Sendable {
    var file: String
    var format: OutputFormat
    var after: LoudnessSummary
    var gain: Double
  }

  func run(_ spec: MasterSpec, context: JobContext) throws -> String {
    let inputFile = context.workDirectory + "/input"
    try passes.transfers.fetch(spec.input, field: "inputs[0].source", to: inputFile, context: context, share: 0...20)
    // A short segment's loudness (a preview's) is measured while the input is probed: ffmpeg's -t reads at most
    // to the input's end, which is where the segment ends at the latest. Its outputs are made side by side
    // exactly when there are several (below), which then measure the input's true peak beside pass 1.
    var early: (done: DispatchSemaphore, result: LockedBox<Result<LoudnessSummary, JobFailure>?>)?
    if let duration = spec.segmentDuration, duration < MediaPieces.pieceMinimum {
      let box = LockedBox<Result<LoudnessSummary, JobFailure>?>(nil)
      let done = DispatchSemaphore(value: 0)
      let (from, truePeak) = (spec.segmentStart, spec.preview && spec.outputs.count < 2)
      Thread.detachNewThread { [self] in
        defer { done.signal() }
        let result: Result<LoudnessSummary, JobFailure>
        do throws(JobFailure) {
          result = .success(
            try measure(inputFile, from: from, to: from + duration, truePeak: truePeak, context: context))
        } catch {
          result = .failure(error)
        }
        box.withLock { $0 = result }
      }
      early = (done, box)
    }
    let probed: Result<MediaInfo, JobFailure>
    do throws(JobFailure) {
      probed = .success(try MediaSteps.probe(inputFile, tools: tools, context: context))
    } catch {
      probed = .failure(error)
    }
    early?.done.wait()
    let info = try probed.get()
    let length = info.duration ?? info.audioDuration ?? 0
    if spec.segmentStart > 0, length > 0, spec.segmentStart >= length {
      throw JobFailure(
        .unsupportedMedia,
        "inputs[0].segment.start: \(EnhanceCommand.number(spec.segmentStart)) s is past the input's end "
          + "(\(EnhanceCommand.number(length)) s)")
    }
    let from = spec.segmentStart
    // The segment ends at the input's end at the latest; nil reads the whole input to its end.
    let to: Double? =
      spec.segmentDuration.map { length > 0 ? min(from + $0, length) : from + $0 }
      ?? (from > 0 ? length : nil)
    let span = (to ?? length) - from
    // Short spans (a preview) make their outputs together (`makePreview`, which measures a preview input's
    // true peak beside pass 1); a whole track makes them one after another, each in pieces on all cores.
    let sideBySide = span < MediaPieces.pieceMinimum && spec.outputs.count > 1
    var initial =
      try early?.result.withLock({ $0 })?.get()
      ?? measure(inputFile, from: from, to: to, truePeak: spec.preview && !sideBySide, context: context)
    let staging = MasterCommand.stagingGain(integrated: initial.integrated)

    let step = 70 / spec.outputs.count
    let made: [Made]
    if sideBySide {
      let preview = try makePreview(
        spec, input: inputFile, info: info, from: from, to: to, span: span, staging: staging,
        inputTruePeak: spec.preview, context: context)
      made = preview.made
      if let peak = preview.inputTruePeak { initial.truePeak = peak }
    } else {
      made = try spec.outputs.enumerated().map { index, output throws(JobFailure) in
        let start = 22 + index * step
        return try make(
          output, index: index, input: inputFile, info: info, from: from, to: to, span: span, staging: staging,
          share: start...(start + step - 2), context: context)
      }
    }
    let deliveryStep = max(1, 8 / spec.outputs.count)
    for (index, (output, result)) in zip(spec.outputs, made).enumerated() {
      let start = 91 + index * deliveryStep
      try passes.transfers.deliver(
        file: result.file, to: output.destination, field: "outputs[\(index)].destination",
        contentType: result.format.contentType, context: context, share: start...min(99, start + deliveryStep))
    }
    return Self.result(spec, info: info, span: span, initial: initial, made: made, version: tools.version)
  }

  /// Pass 1 (profile, measured), pass 2 (gain to the target, limiter, encoder), checked and corrected as
  /// enhance does; returns the encoded work file.
  func make(
    _ output: MasterSpec.Output, index: Int, input: String, info: MediaInfo, from: Double, to: Double?, span: Double,
    staging: Double, share: ClosedRange<Int>?, context: JobContext
  ) throws(JobFailure) -> Made {
    let settings = output.settings
    let format = output.kind.format(inputCodec: info.audioCodec, bitDepth: info.audioBitDepth)
    let rate = output.kind.sampleRate(input: info.sampleRate)
    let filters = MasterCommand.filters(settings, staging: staging, channels: info.channels ?? 2)
    let split = share.map { s in (s.lowerBound...(s.lowerBound + (s.upperBound - s.lowerBound) * 2 / 3)) }
    let (cleans, measured) = try passes.clean(
      input, info: info, chain: .filters(filters), from: from, to: to, rate: rate, prefix: "master-\(index)",
      share: split,
      truePeak: false, context: context)
    let name = "output-\(index).\(format.fileExtension)"
    let limiter = settings.profile?.dynamics.limiter ?? .enhance
    var gain = 0.0
    var ceiling: Double?
    if !filters.isEmpty {
      gain = settings.loudness ? (measured.integrated > -70 ? settings.targetLevel - measured.integrated : 0) : -staging
      gain = min(max(gain, -40), 40)
      // Always limited (the limiter is part of every profile's sound, and pass 1 measured no true peak); a
      // sample-peak limiter lets inter-sample peaks through: 1 dB in hand for the true-peak ceiling, and the
      // check below measures the true peak of what was encoded.
      ceiling = MasterCommand.peakLimit - 1
    }
    var after = measured
    for round in 0..<3 {
      let rest = share.map { s in ((s.lowerBound + (s.upperBound - s.lowerBound) * 2 / 3)...s.upperBound) }
      after = try passes.finish(
        cleans: cleans, input: input, output: name, gain: gain, ceiling: ceiling, info: info, format: format,
        span: (from, from + span), limiter: limiter, compress: false, reports: rest != nil && round == 0,
        streamPCMCheck: true, context: context, share: rest ?? 0...0)
      // Nothing asked for: the segment as it is.
      if filters.isEmpty { break }
      let peakOK = after.truePeak <= MasterCommand.peakLimit + 0.05
      let loudnessOK = !settings.loudness || abs(after.integrated - settings.targetLevel) <= Self.tolerance
      if peakOK && (loudnessOK || measured.integrated <= -70) { break }
      if !peakOK { ceiling = (ceiling ?? MasterCommand.peakLimit) - (after.truePeak - MasterCommand.peakLimit) - 0.2 }
      if !loudnessOK { gain += settings.targetLevel - after.integrated }
    }
    for clean in cleans { try? FileManager.default.removeItem(atPath: context.workDirectory + "/" + clean) }
    if settings.loudness && !filters.isEmpty && measured.integrated > -70
      && abs(after.integrated - settings.targetLevel) > Self.tolerance
    {
      context.warn(
        "outputs[\(index)]: \(EnhanceCommand.number((after.integrated * 10).rounded() / 10)) LUFS reached, not the "
          + "target \(EnhanceCommand.number(settings.targetLevel)) LUFS: louder would take the true peak past "
          + "\(EnhanceCommand.number(MasterCommand.peakLimit)) dBTP")
    }
    return Made(file: context.workDirectory + "/" + name, format: format, after: after, gain: gain)
  }

  /// The loudness of the input from `from` to `to` (nil: its end); the true peak only when asked for (it
  /// costs a 4x oversampled pass, which a whole track's master does not need).
  func measure(_ path: String, from: Double, to: Double?, truePeak: Bool, context: JobContext)
    throws(JobFailure) -> LoudnessSummary
  {
    var arguments = ["-hide_banner", "-nostdin", "-nostats", "-loglevel", "info"]
    if from > 0 { arguments += ["-ss", EnhanceCommand.number(from)] }
    if let to { arguments += ["-t", EnhanceCommand.number(to - from)] }
    let filter = truePeak ? LoudnessSummary.filter : "ebur128=framelog=verbose"
    arguments += MediaTools.safeInput + ["-i", path, "-map", "0:a:0", "-af", filter, "-f", "null", "-"]
    let exit = try MediaSteps.ffmpeg(
      arguments, tools: tools, duration: nil, context: context, share: 20...21, reports: false)
    guard let summary = LoudnessSummary.parse(exit.stderr) else {
      throw JobFailure(.processingFailed, "the input's loudness could not be measured")
    }
    return summary
  }

  static func result(
    _ spec: MasterSpec, info: MediaInfo, span: Double, initial: LoudnessSummary, made: [Made], version: String
  ) -> String {
    func r(_ v: Double) -> JSONValue { v.isFinite ? .double((v * 100).rounded() / 100) : .null }
    let outputs: [JSONValue] = zip(spec.outputs, made).map { output, made in
      let s = output.settings
      return .object([
        "kind": .string(output.kind.rawValue),
        "dynamic_eq": .object(
          s.preset.map { ["enable": .bool(true), "preset": .string($0), "intensity": r(s.intensity)] }
            ?? ["enable": .bool(false)]),
        "loudness": .object(
          s.loudness ? ["enable": .bool(true), "target_level": r(s.targetLevel)] : ["enable": .bool(false)]),
        "stereo_image": .object(["enable": .bool(s.stereoImage)]),
        "final_level": r(made.after.integrated), "true_peak": r(made.after.truePeak), "gain_db": r(made.gain),
      ])
    }
    var fields: [String: JSONValue] = [
      "media_info": AnalyzeWork.mediaInfo(info),
      // Dolby's clients read these two (LUFS): the input's loudness, and the first output's.
      "initial_level": r(initial.integrated),
      "final_level": r(made.first?.after.integrated ?? .nan),
      "outputs": .array(outputs),
      "version": .string(version),
    ]
    if spec.preview {
      // As Dolby's preview answers: the input's (segment's) loudness before mastering.
      fields["audio"] = .object([
        "loudness": .object([
          "measured": r(initial.integrated), "range": r(initial.range), "true_peak": r(initial.truePeak),
        ])
      ])
    }
    // The stretch mastered: a preview's segment, or the whole track.
    fields["segment"] = .object(["start": r(spec.segmentStart), "duration": r(span)])
    return JSONValue.object(fields).description
  }
}
