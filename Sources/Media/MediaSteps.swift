import Foundation
import Jobs
import Problems

/// The steps every media operation shares: probing the input and running ffmpeg under the job's control.
enum MediaSteps {
  /// ffprobe's view of the input, with its durations from what decodes where the header says otherwise (so
  /// progress, pieces and results use the real length, and the result warns of a truncated file); refuses
  /// what is not media, has no audio, too many channels or is too long.
  static func probe(_ path: String, tools: MediaTools, context: JobContext, requireAudio: Bool = true)
    throws(JobFailure) -> MediaInfo
  {
    context.report(phase: .processing, progress: 30)
    let info = try cancellable("ffprobe", context: context) { runner in
      try MediaProbe(tools: tools).inspect(path, runner: runner)
    }
    guard let info else {
      throw JobFailure(.unsupportedMedia, "input: the file is not media Ferry can read (or it is empty or truncated)")
    }
    guard info.audioCodec != nil || !requireAudio else {
      throw JobFailure(.unsupportedMedia, "input: the file has no audio stream")
    }
    // Past 7.1 ffmpeg knows no channel layout to mix or measure by, and fails deep in a filter graph with
    // "Conversion failed!": say so up front instead.
    if let channels = info.channels, channels > MediaTools.maxChannels {
      throw JobFailure(
        .unsupportedMedia,
        "input: \(channels) audio channels; Ferry processes up to \(MediaTools.maxChannels) (mono to 7.1): "
          + "mix it down first")
    }
    if let duration = info.duration, duration > tools.maxDuration {
      throw JobFailure(
        .inputTooLarge, "input: \(Int(duration)) s of media is over the limit of \(Int(tools.maxDuration)) s")
    }
    if let duration = info.duration { context.recordDuration(duration) }
    if let warning = info.durationWarning { context.warn(warning) }
    return info
  }

  /// Runs `body` with a process runner that the job's cancellation kills, then checks for cancellation. A
  /// `tool` that cannot be run at all is the server's trouble: an internal error, retried.
  static func cancellable<Result>(
    _ tool: String, context: JobContext, _ body: (ProcessRunner) throws -> Result
  ) throws(JobFailure) -> Result {
    let runner = ProcessRunner()
    let registration = context.onCancel { runner.cancel() }
    defer { registration.cancel() }
    let result: Result
    do {
      result = try body(runner)
    } catch {
      throw JobFailure(.internalError, "\(tool) could not be run: \(error)", retry: true)
    }
    try context.checkCancelled()
    return result
  }

  /// The loudness of a work file (ffmpeg `ebur128`), killed on cancel.
  static func measure(_ path: String, tools: MediaTools, context: JobContext) throws(JobFailure) -> LoudnessSummary {
    let summary = try cancellable("ffmpeg", context: context) { runner in
      try LoudnessMeter(tools: tools).measure(path, runner: runner)
    }
    guard let summary else {
      throw JobFailure(.processingFailed, "the result's loudness could not be measured")
    }
    return summary
  }

  /// Runs ffmpeg, turning its progress into the job's and killing it on cancel.
  @discardableResult
  static func ffmpeg(
    _ arguments: [String], tools: MediaTools, duration: Double?, context: JobContext, share: ClosedRange<Int>,
    reports: Bool = true, in directory: String? = nil, fd3: Int32? = nil, stdin: Int32? = nil
  ) throws(JobFailure) -> ProcessRunner.Exit {
    var progress = FFmpegProgress()
    let exit = try cancellable("ffmpeg", context: context) { runner in
      try runner.run(tools.ffmpeg, arguments, in: directory, stdin: stdin, fd3: fd3) { line in
        if progress.feed(line) && reports {
          let done =
            share.lowerBound + Int(progress.fraction(of: duration) * Double(share.upperBound - share.lowerBound))
          context.report(phase: .processing, progress: done)
        }
      }
    }
    guard exit.status == 0 else {
      // ffmpeg names files by their paths in the work directory: the server's paths are no client's business.
      let reason = (exit.stderr.split(separator: "\n").last.map(String.init) ?? "exit status \(exit.status)")
        .replacingOccurrences(of: context.workDirectory + "/", with: "")
        .replacingOccurrences(of: context.workDirectory, with: ".")
      context.logger.warning("ffmpeg failed", ["status": .int(Int(exit.status)), "stderr": .string(exit.stderr)])
      // Killed by a signal we did not send (the OOM killer), or out of disk or memory: the machine's trouble,
      // not the media's; another attempt may well succeed (the job's error says when none did).
      if exit.status >= 128 {
        throw JobFailure(
          .processingFailed,
          "ffmpeg was stopped by signal \(exit.status - 128) (the server's trouble, not the media's)",
          retry: true)
      }
      let transient = [
        ("No space left on device", "the server ran out of disk space"),
        ("Cannot allocate memory", "the server ran out of memory"),
        ("Resource temporarily unavailable", "the server ran out of a resource"),
      ]
      if let (_, cause) = transient.first(where: { exit.stderr.contains($0.0) }) {
        throw JobFailure(.processingFailed, "ffmpeg stopped: \(cause) (\(reason))", retry: true)
      }
      throw JobFailure(.processingFailed, "ffmpeg could not process the input: \(reason)")
    }
    return exit
  }
}
