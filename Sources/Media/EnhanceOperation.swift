import Foundation
import JSON
import Jobs
import Locations

/// `POST /media/enhance`: fetch the input, clean and level it with ffmpeg, deliver it to the output.
public struct EnhanceOperation: JobOperation {
  public let path = "/media/enhance"
  public let work: any JobWork

  public init(transfers: JobTransfers, tools: MediaTools) {
    work = EnhanceWork(transfers: transfers, tools: tools)
  }

  public func validate(_ request: JSONValue) throws(InvalidRequest) -> ValidatedRequest {
    let (input, output) = try MediaRequest.inputAndOutput(request)
    _ = try EnhanceSettings(request: request)
    return ValidatedRequest(inputs: [input], outputs: [output])
  }
}

/// Reading the `input` and `output` of a request.
enum MediaRequest {
  static func inputAndOutput(_ request: JSONValue) throws(InvalidRequest) -> (Location, Location) {
    // `region` on the input is a time range (COMPAT), not an AWS region.
    let parser = LocationParser(extraFields: ["region"])
    do {
      let input = try parser.parse(request.object?["input"], field: "input")
      let output = try parser.parse(request.object?["output"], field: "output")
      return (input, output)
    } catch {
      throw InvalidRequest(error)
    }
  }

  /// The request as the API stored it (it was validated then; a failure here is a bug).
  static func decode(_ context: JobContext) throws(JobFailure) -> JSONValue {
    guard let request = try? JSONValue.parse(Data(context.request)) else {
      throw JobFailure(
        .final, type: "/problems/internal-error", title: "Unreadable request", detail: "the stored request is not JSON")
    }
    return request
  }
}

struct EnhanceWork: JobWork {
  let transfers: JobTransfers
  let tools: MediaTools

  /// How close to the target a result must land, LU.
  static let tolerance = 0.4

  func run(_ context: JobContext) throws -> String {
    let request = try MediaRequest.decode(context)
    let (input, output) = try Self.checked { () throws(InvalidRequest) in try MediaRequest.inputAndOutput(request) }
    let settings = try Self.checked { () throws(InvalidRequest) in try EnhanceSettings(request: request) }

    let inputFile = context.workDirectory + "/input"
    try transfers.fetch(input, field: "input", to: inputFile, context: context, share: 0...30)
    let info = try MediaSteps.probe(inputFile, tools: tools, context: context)
    let format = OutputFormat.choose(outputName: JobTransfers.fileName(of: output), inputFormat: info.formatName)
    let rate = EnhanceCommand.sampleRate(info: info, format: format)

    // Pass 1: clean and measure.
    let cleanFile = context.workDirectory + "/clean.wav"
    let cleanExit = try MediaSteps.ffmpeg(
      EnhanceCommand.cleanArguments(input: inputFile, clean: cleanFile, settings: settings, rate: rate), tools: tools,
      duration: info.duration, context: context, share: 30...60)
    guard let before = LoudnessSummary.parse(cleanExit.stderr) else {
      throw JobFailure(
        .final, type: "/problems/processing-failed", title: "Processing failed",
        detail: "the input's loudness could not be measured")
    }

    // Pass 2, checked: gain and limiter, then measure the encoded result and correct once or twice.
    let outputFile = context.workDirectory + "/output." + format.fileExtension
    var (gain, ceiling) = EnhanceCommand.plan(measured: before, settings: settings)
    var after = before
    for round in 0..<3 {
      let share = round == 0 ? 60...80 : 80...84
      try MediaSteps.ffmpeg(
        EnhanceCommand.finishArguments(
          clean: cleanFile, input: inputFile, output: outputFile, gain: gain, ceiling: ceiling, info: info,
          format: format), tools: tools, duration: info.duration, context: context, share: share)
      after = try MediaSteps.measure(outputFile, tools: tools, context: context)
      let peak = settings.peakReference == "sample" ? after.samplePeak : after.truePeak
      let peakOK = peak <= settings.peakLimit + 0.05
      let loudnessOK = settings.targetLevel.map { abs(after.integrated - $0) <= Self.tolerance } ?? true
      if peakOK && (loudnessOK || before.integrated <= -70) { break }
      if !peakOK { ceiling = (ceiling ?? settings.peakLimit) - (peak - settings.peakLimit) - 0.2 }
      if !loudnessOK, let target = settings.targetLevel { gain += target - after.integrated }
    }
    try? FileManager.default.removeItem(atPath: cleanFile)

    try transfers.deliver(
      file: outputFile, to: output, field: "output", contentType: format.contentType, context: context, share: 85...99)
    return Self.result(settings: settings, before: before, after: after, gain: gain)
  }

  static func result(settings: EnhanceSettings, before: LoudnessSummary, after: LoudnessSummary, gain: Double)
    -> String
  {
    func figures(_ s: LoudnessSummary) -> JSONValue {
      func rounded(_ v: Double) -> JSONValue { v.isFinite ? .double((v * 10).rounded() / 10) : .null }
      return .object([
        "integrated": rounded(s.integrated), "range": rounded(s.range), "sample_peak": rounded(s.samplePeak),
        "true_peak": rounded(s.truePeak),
      ])
    }
    var applied: [String: JSONValue] = [
      "content_type": .string(settings.contentType), "gain_db": .double((gain * 10).rounded() / 10),
      "peak_limit": .double(settings.peakLimit), "peak_reference": .string(settings.peakReference),
    ]
    if let target = settings.targetLevel { applied["target_level"] = .double(target) }
    if let reduction = settings.noiseReduction { applied["noise_reduction_db"] = .double(reduction) }
    if let frequency = settings.highPass { applied["high_pass_hz"] = .double(frequency) }
    if settings.humReduction { applied["hum_reduction"] = .bool(true) }
    return JSONValue.object([
      "processing": .object(applied),
      "loudness": .object(["before": figures(before), "after": figures(after)]),
    ]).description
  }

  static func checked<T>(_ body: () throws(InvalidRequest) -> T) throws(JobFailure) -> T {
    do { return try body() } catch {
      throw JobFailure(
        .final, type: "/problems/internal-error", title: "Invalid stored request", detail: error.description)
    }
  }
}

/// The steps every media operation shares: probing the input and running ffmpeg under the job's control.
enum MediaSteps {
  /// ffprobe's view of the input; refuses what is not media, has no audio or is too long.
  static func probe(_ path: String, tools: MediaTools, context: JobContext, requireAudio: Bool = true)
    throws(JobFailure) -> MediaInfo
  {
    context.report(phase: .processing, progress: 30)
    let runner = ProcessRunner()
    let registration = context.onCancel { runner.cancel() }
    defer { registration.cancel() }
    let info: MediaInfo?
    do {
      info = try MediaProbe(tools: tools).probe(path, runner: runner)
    } catch {
      throw JobFailure(.retryable, type: "/problems/internal-error", title: "ffprobe not run", detail: "\(error)")
    }
    try context.checkCancelled()
    guard let info else {
      throw JobFailure(
        .final, type: "/problems/unsupported-media", title: "Unsupported media",
        detail: "input: the file is not media Ferry can read (or it is empty or truncated)")
    }
    guard info.audioCodec != nil || !requireAudio else {
      throw JobFailure(
        .final, type: "/problems/unsupported-media", title: "Unsupported media",
        detail: "input: the file has no audio stream")
    }
    if let duration = info.duration, duration > tools.maxDuration {
      throw JobFailure(
        .final, type: "/problems/input-too-large", title: "Input too long",
        detail: "input: \(Int(duration)) s of media is over the limit of \(Int(tools.maxDuration)) s")
    }
    if let duration = info.duration { context.recordDuration(duration) }
    return info
  }

  /// The loudness of a work file (ffmpeg `ebur128`), killed on cancel.
  static func measure(_ path: String, tools: MediaTools, context: JobContext) throws(JobFailure) -> LoudnessSummary {
    let runner = ProcessRunner()
    let registration = context.onCancel { runner.cancel() }
    defer { registration.cancel() }
    let summary: LoudnessSummary?
    do {
      summary = try LoudnessMeter(tools: tools).measure(path, runner: runner)
    } catch {
      throw JobFailure(.retryable, type: "/problems/internal-error", title: "ffmpeg not run", detail: "\(error)")
    }
    try context.checkCancelled()
    guard let summary else {
      throw JobFailure(
        .final, type: "/problems/processing-failed", title: "Processing failed",
        detail: "the result's loudness could not be measured")
    }
    return summary
  }

  /// Runs ffmpeg, turning its progress into the job's and killing it on cancel.
  @discardableResult
  static func ffmpeg(
    _ arguments: [String], tools: MediaTools, duration: Double?, context: JobContext, share: ClosedRange<Int>,
    reports: Bool = true, in directory: String? = nil
  ) throws(JobFailure) -> ProcessRunner.Exit {
    let runner = ProcessRunner()
    let registration = context.onCancel { runner.cancel() }
    defer { registration.cancel() }
    var progress = FFmpegProgress()
    let exit: ProcessRunner.Exit
    do {
      exit = try runner.run(tools.ffmpeg, arguments, in: directory) { line in
        if progress.feed(line) && reports {
          let done =
            share.lowerBound + Int(progress.fraction(of: duration) * Double(share.upperBound - share.lowerBound))
          context.report(phase: .processing, progress: done)
        }
      }
    } catch {
      throw JobFailure(.retryable, type: "/problems/internal-error", title: "ffmpeg not run", detail: "\(error)")
    }
    try context.checkCancelled()
    guard exit.status == 0 else {
      let reason = exit.stderr.split(separator: "\n").last.map(String.init) ?? "exit status \(exit.status)"
      context.logger.warning("ffmpeg failed", ["status": .int(Int(exit.status)), "stderr": .string(exit.stderr)])
      // Killed by a signal we did not send (the OOM killer), or out of disk or memory: the machine's trouble,
      // not the media's; another attempt may well succeed.
      let transient = ["No space left on device", "Cannot allocate memory", "Resource temporarily unavailable"]
      if exit.status >= 128 || transient.contains(where: { exit.stderr.contains($0) }) {
        throw JobFailure(
          .retryable, type: "/problems/processing-failed", title: "Processing interrupted",
          detail:
            "ffmpeg stopped (\(exit.status >= 128 ? "signal \(exit.status - 128)" : reason)); the job will be retried")
      }
      throw JobFailure(
        .final, type: "/problems/processing-failed", title: "Processing failed",
        detail: "ffmpeg could not process the input: \(reason)")
    }
    return exit
  }
}
