import ArgumentParser
import FerryClient
import Foundation
import JSON

/// The client's environment, for help texts.
let clientEnvironment = """
  Server and credentials: --server, --key, --secret, or the environment variables FERRY_SERVER (default \
  \(ClientSettings.defaultServer)), FERRY_APP_KEY and FERRY_APP_SECRET (prefer the variable for the secret: \
  command lines are visible to other users); --ca-file or FERRY_CA_FILE for an https server whose certificate \
  a private CA issued. Progress goes to stderr: a live bar on a terminal, plain lines \
  elsewhere; results go to stdout.
  """

/// The discussion of a job subcommand: how IN and OUT travel, the environment and the exit statuses.
func jobDiscussion(_ first: String) -> String {
  """
  \(first)

  IN and OUT are local files or URLs (http(s)://, s3://, dlb://). A local IN is uploaded to a fresh dlb:// key; \
  a local OUT is written by the job to a fresh dlb:// key and downloaded when the job succeeds. Ctrl-C stops \
  waiting; the job keeps running (ferry cancel ID stops it).

  \(clientEnvironment)

  \(ClientExit.table)
  """
}

struct ConnectionOptions: ParsableArguments {
  @Option(help: "Ferry's base URL (else FERRY_SERVER, else \(ClientSettings.defaultServer)).")
  var server: String?

  @Option(help: "The app key (else FERRY_APP_KEY).")
  var key: String?

  @Option(help: "The app secret (else FERRY_APP_SECRET, which other users cannot see in the process list).")
  var secret: String?

  @Option(name: .customLong("ca-file"), help: "PEM CAs for an https server's certificate (else FERRY_CA_FILE).")
  var caFile: String?

  func settings() throws(ClientError) -> ClientSettings {
    try ClientSettings.resolve(server: server, key: key, secret: secret, caFile: caFile)
  }
}

struct WaitOptions: ParsableArguments {
  @Flag(inversion: .prefixedNo, help: "Wait for the job to end (the default), or print its id and exit at once.")
  var wait = true

  @Flag(name: .shortAndLong, help: "Show no progress.")
  var quiet = false

  @Option(help: "Seconds to wait for the job to end before giving up (exit 5; the job keeps running).")
  var timeout: Double = 86400

  @Option(help: .hidden)
  var pollInterval: Double = 0.5

  func validate() throws {
    guard timeout > 0 else { throw ValidationError("--timeout must be above 0") }
    guard pollInterval >= 0.05 && pollInterval <= 60 else {
      throw ValidationError("--poll-interval must be 0.05 to 60 seconds")
    }
  }
}

/// Runs a client command: a `ClientError` becomes its message on stderr and its exit status.
func runClient(_ body: () throws -> Void) throws {
  do {
    try body()
  } catch let error as ClientError {
    FileHandle.standardError.write(Data("ferry: \(error.message)\n".utf8))
    throw ExitCode(error.exit.rawValue)
  }
}

/// Submits `request` with the shared options; returns what came of it (nothing with --no-wait: the id is
/// printed).
func runJob(_ request: JobRequest, connection: ConnectionOptions, options: WaitOptions) throws -> JobOutcome? {
  let progress = ProgressReporter(mode: ProgressReporter.mode(quiet: options.quiet)) { text in
    FileHandle.standardError.write(Data(text.utf8))
  }
  let runner = JobRunner(
    api: FerryAPIClient(settings: try connection.settings()), progress: progress, pollInterval: options.pollInterval,
    timeout: options.timeout)
  runner.interrupt = InterruptNotice { text in FileHandle.standardError.write(Data(text.utf8)) }
  let outcome = try runner.run(request, wait: options.wait)
  guard options.wait else {
    print(outcome.jobID)
    return nil
  }
  return outcome
}

/// `job <id> succeeded: wrote out.wav (1.9 MB)` for the commands whose product is a file.
func printWritten(_ outcome: JobOutcome, output: MediaArgument) {
  if let written = outcome.written {
    print("job \(outcome.jobID) succeeded: wrote \(written.path) (\(ProgressFormat.bytes(written.bytes)))")
  } else {
    print("job \(outcome.jobID) succeeded: wrote \(output.label)")
  }
}

/// Prints `value` as pretty JSON (sorted keys) for `--json`; false when it could not.
func printJSON(_ value: JSONValue) -> Bool {
  guard let object = try? JSONSerialization.jsonObject(with: Data(value.description.utf8)),
    let data = try? JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys])
  else { return false }
  print(String(decoding: data, as: UTF8.self))
  return true
}

struct Enhance: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Enhance speech: loudness to a target, noise reduction, filters.",
    discussion: jobDiscussion("The output's container and codec follow OUT's extension (as IN's when it has none)."))

  static let contentTypes = [
    "conference", "interview", "lecture", "meeting", "mobile_phone", "music", "podcast", "studio", "voice_over",
    "voice_recording", "other",
  ]

  @Argument(help: "The input: a local file or a URL.") var input: String
  @Argument(help: "The output: a local file or a URL.") var output: String
  @Option(help: "The content type: \(contentTypes.joined(separator: ", ")) (sets the defaults).")
  var contentType: String?
  // Unconditional: the values are negative, and would otherwise read as options.
  @Option(parsing: .unconditional, help: "Loudness target in LUFS (e.g. -16).") var targetLevel: Double?
  @Option(parsing: .unconditional, help: "True-peak ceiling in dBTP (e.g. -1).") var peakLimit: Double?
  @Option(help: "Noise reduction: off, low, medium, high or max.") var noiseReduction: String?
  @OptionGroup var connection: ConnectionOptions
  @OptionGroup var options: WaitOptions

  func validate() throws {
    if let contentType, !Self.contentTypes.contains(contentType) {
      throw ValidationError("--content-type must be one of \(Self.contentTypes.joined(separator: ", "))")
    }
    if let noiseReduction, !["off", "low", "medium", "high", "max"].contains(noiseReduction) {
      throw ValidationError("--noise-reduction must be off, low, medium, high or max")
    }
  }

  func run() throws {
    try runClient {
      let output = try MediaArgument(self.output)
      let request = JobRequest.enhance(
        input: try MediaArgument(input), output: output, contentType: contentType, targetLevel: targetLevel,
        peakLimit: peakLimit, noiseReduction: noiseReduction)
      if let outcome = try runJob(request, connection: connection, options: options) {
        printWritten(outcome, output: output)
      }
    }
  }
}

struct Analyze: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Measure loudness (EBU R128), peaks, clipping and silence; print a report.",
    discussion: jobDiscussion(
      "Prints a loudness report (integrated loudness, range, true peak, clipping, silence), or the result JSON "
        + "with --json. OUT (optional) receives the result JSON too."))

  @Argument(help: "The input: a local file or a URL.") var input: String
  @Argument(help: "Where to write the result JSON (optional): a local file or a URL.") var output: String?
  @Flag(help: "Print the result JSON instead of the report.") var json = false
  @OptionGroup var connection: ConnectionOptions
  @OptionGroup var options: WaitOptions

  func run() throws {
    try runClient {
      let source = try MediaArgument(input)
      var destination: MediaArgument?
      if let output { destination = try MediaArgument(output) }
      let request = JobRequest.analyze(input: source, output: destination)
      guard let outcome = try runJob(request, connection: connection, options: options) else { return }
      try printResult(outcome, json: json) { ResultReport.analyze($0, source: source.fileName) }
    }
  }
}

struct Diagnose: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "A quick quality check: quality and noise scores, clipping, loudness, silence.",
    discussion: jobDiscussion("Takes IN only; prints a summary, or the result JSON with --json."))

  @Argument(help: "The input: a local file or a URL.") var input: String
  @Flag(help: "Print the result JSON instead of the summary.") var json = false
  @OptionGroup var connection: ConnectionOptions
  @OptionGroup var options: WaitOptions

  func run() throws {
    try runClient {
      let source = try MediaArgument(input)
      guard let outcome = try runJob(.diagnose(input: source), connection: connection, options: options) else {
        return
      }
      try printResult(outcome, json: json) { ResultReport.diagnose($0, source: source.fileName) }
    }
  }
}

/// Prints a finished job's `result`: raw JSON, or the readable report.
func printResult(_ outcome: JobOutcome, json: Bool, report: (JSONValue) -> String) throws {
  guard let result = outcome.envelope?.object?["result"] else {
    throw ClientError(.failure, "job \(outcome.jobID) succeeded without a result")
  }
  if !(json && printJSON(result)) { print(report(result), terminator: "") }
}

struct Transcode: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Convert IN to another container, codec or bitrate.",
    discussion: jobDiscussion(
      "The kind (mp3, aac, m4a, wav, flac, ogg, opus, mp4, webm, mov, jpg) defaults to OUT's extension."))

  @Argument(help: "The input: a local file or a URL.") var input: String
  @Argument(help: "The output: a local file or a URL.") var output: String
  @Option(help: "The output kind (default: OUT's extension).") var kind: String?
  @Option(help: "The audio codec (e.g. mp3, aac, opus, vorbis, flac, pcm_s16le).") var codec: String?
  @Option(help: "The audio bitrate in kbit/s.") var bitrate: Int?
  @Option(help: "The audio sample rate in Hz.") var sampleRate: Int?
  @Option(help: "The number of audio channels.") var channels: Int?
  @Option(help: "The video codec (h264, vp9).") var videoCodec: String?
  @Option(help: "The video width in pixels.") var width: Int?
  @Option(help: "The video height in pixels.") var height: Int?
  @Option(help: "The video bitrate in kbit/s.") var videoBitrate: Int?
  @OptionGroup var connection: ConnectionOptions
  @OptionGroup var options: WaitOptions

  func run() throws {
    try runClient {
      let output = try MediaArgument(self.output)
      let settings = JobRequest.TranscodeOptions(
        kind: kind, codec: codec, bitrate: bitrate, sampleRate: sampleRate, channels: channels, videoCodec: videoCodec,
        width: width, height: height, videoBitrate: videoBitrate)
      let request = try JobRequest.transcode(input: try MediaArgument(input), output: output, options: settings)
      if let outcome = try runJob(request, connection: connection, options: options) {
        printWritten(outcome, output: output)
      }
    }
  }
}

struct Master: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Master a music track with one of the profiles behind Dolby's preset letters (a to n).",
    discussion: jobDiscussion(
      "OUT's extension picks the container (wav, ogg, mp3, mp4 or m4a, aac; wav without one). Prints the "
        + "loudness before and after; --json prints the result JSON. --preview masters 30 s (from --start) "
        + "to compare presets before mastering the whole track."))

  @Argument(help: "The input: a local file or a URL.") var input: String
  @Argument(help: "The output: a local file or a URL.") var output: String
  @Option(help: "The profile: a letter from a to n (the README describes each).") var preset = "i"
  @Option(help: "How much of the profile, 0 (none) to 100 (all, the default).") var intensity: Double?
  @Option(help: "The loudness target in LUFS (default -14).") var targetLevel: Double?
  @Flag(help: "Widen the stereo image.") var stereoImage = false
  @Flag(help: "Master a 30 s preview instead of the whole track.") var preview = false
  @Option(help: "With --preview: where the 30 s start, in seconds (default 0).") var start: Double?
  @Flag(help: "Print the result JSON instead of the summary.") var json = false
  @OptionGroup var connection: ConnectionOptions
  @OptionGroup var options: WaitOptions

  func validate() throws {
    guard preset.count == 1, "abcdefghijklmn".contains(preset.lowercased()) else {
      throw ValidationError("--preset must be a letter from a to n")
    }
    if let intensity, !(0...100).contains(intensity) { throw ValidationError("--intensity must be 0 to 100") }
    if start != nil && !preview { throw ValidationError("--start goes with --preview") }
  }

  func run() throws {
    try runClient {
      let output = try MediaArgument(self.output)
      let request = JobRequest.master(
        input: try MediaArgument(input), output: output, preset: preset.lowercased(), intensity: intensity,
        targetLevel: targetLevel, stereoImage: stereoImage, preview: preview, start: start)
      guard let outcome = try runJob(request, connection: connection, options: options) else { return }
      if json, let result = outcome.envelope?.object?["result"], printJSON(result) { return }
      printWritten(outcome, output: output)
      let result = outcome.envelope?.object?["result"]?.object
      if let before = result?["initial_level"]?.number, let after = result?["final_level"]?.number {
        print("  loudness \(before) LUFS before, \(after) LUFS after (preset \(preset.lowercased()))")
      }
    }
  }
}

struct Jobs: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "List the app's jobs, newest first.",
    discussion: "\(clientEnvironment)\n\n\(ClientExit.table)")

  @Option(help: "Only jobs with this status (Pending, Running, Success, Failed, Cancelled, InternalError).")
  var status: String?
  @Option(help: "At most this many jobs.") var limit = 50
  @Flag(help: "Print the jobs as JSON.") var json = false
  @OptionGroup var connection: ConnectionOptions

  func validate() throws {
    guard (1...10000).contains(limit) else { throw ValidationError("--limit must be 1 to 10000") }
  }

  func run() throws {
    try runClient {
      let items = try FerryAPIClient(settings: try connection.settings()).jobs(status: status, limit: limit)
      if !(json && printJSON(.array(items))) { print(ResultReport.jobs(items), terminator: "") }
    }
  }
}

struct Cancel: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Cancel a job; prints its status after the request (an ended job keeps its own).",
    discussion: "\(clientEnvironment)\n\n\(ClientExit.table)")

  @Argument(help: "The job's id.") var id: String
  @OptionGroup var connection: ConnectionOptions

  func run() throws {
    try runClient {
      let api = FerryAPIClient(settings: try connection.settings())
      let answer = try api.json("POST", "/media/jobs/cancel", query: [("job_id", id)], body: .object([:]))
      print("job \(answer.object?["job_id"]?.string ?? id): \(answer.object?["status"]?.string ?? "unknown")")
    }
  }
}
