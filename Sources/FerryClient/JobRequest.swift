import Foundation
import JSON

/// One of Ferry's job operations, posted to and polled at `path`.
public enum JobOperation: String, Sendable, CaseIterable {
  case enhance, analyze, transcode, diagnose, master
  case masterPreview = "master/preview"

  public var path: String { "/media/\(rawValue)" }
}

/// What a client subcommand submits: the operation, IN and OUT, and the body built around the locations
/// the job will read and write (local files are replaced by `dlb://` keys first).
public struct JobRequest: Sendable {
  public var operation: JobOperation
  public var input: MediaArgument
  /// nil for diagnose (no output), and for analyze without OUT (the result goes to a throw-away key).
  public var output: MediaArgument?
  /// The request body for an input location and an output location (nil when the operation has none).
  public var body: @Sendable (_ input: String, _ output: String?) -> JSONValue

  public init(
    operation: JobOperation, input: MediaArgument, output: MediaArgument?,
    body: @escaping @Sendable (_ input: String, _ output: String?) -> JSONValue
  ) {
    self.operation = operation
    self.input = input
    self.output = output
    self.body = body
  }

  /// Enhance with the common settings; unset ones keep the server's defaults for the content type.
  public static func enhance(
    input: MediaArgument, output: MediaArgument, contentType: String?, targetLevel: Double?, peakLimit: Double?,
    noiseReduction: String?
  ) -> JobRequest {
    JobRequest(operation: .enhance, input: input, output: output) { input, output in
      var root: [String: JSONValue] = ["input": .string(input), "output": .string(output ?? "")]
      root["content"] = contentType.map { .object(["type": .string($0)]) }
      root["audio"] = given([
        "loudness": given([
          "target_level": targetLevel.map { .double($0) }, "peak_limit": peakLimit.map { .double($0) },
        ]),
        "noise": noiseReduction.map {
          .object([
            "reduction": $0 == "off" ? .object(["enable": false]) : .object(["enable": true, "amount": .string($0)])
          ])
        },
      ])
      return .object(root)
    }
  }

  /// Analyze: loudness, peaks, clipping, silence; the result JSON is also written to OUT when given.
  public static func analyze(input: MediaArgument, output: MediaArgument?) -> JobRequest {
    JobRequest(operation: .analyze, input: input, output: output) { input, output in
      .object(["input": .string(input), "output": .string(output ?? "")])
    }
  }

  /// Diagnose: a quick quality check of IN (no output).
  public static func diagnose(input: MediaArgument) -> JobRequest {
    JobRequest(operation: .diagnose, input: input, output: nil) { input, _ in .object(["input": .string(input)]) }
  }

  /// The transcode settings the subcommand exposes; nil keeps the server's default.
  public struct TranscodeOptions: Sendable {
    public var kind: String?
    public var codec: String?
    public var bitrate: Int?
    public var sampleRate: Int?
    public var channels: Int?
    public var videoCodec: String?
    public var width: Int?
    public var height: Int?
    public var videoBitrate: Int?

    public init(
      kind: String? = nil, codec: String? = nil, bitrate: Int? = nil, sampleRate: Int? = nil, channels: Int? = nil,
      videoCodec: String? = nil, width: Int? = nil, height: Int? = nil, videoBitrate: Int? = nil
    ) {
      self.kind = kind
      self.codec = codec
      self.bitrate = bitrate
      self.sampleRate = sampleRate
      self.channels = channels
      self.videoCodec = videoCodec
      self.width = width
      self.height = height
      self.videoBitrate = videoBitrate
    }
  }

  /// An object of the fields that are set, or nil when none is (the server's defaults apply).
  static func given(_ fields: [String: JSONValue?]) -> JSONValue? {
    let set = fields.compactMapValues { $0 }
    return set.isEmpty ? nil : .object(set)
  }

  /// Output kinds named by a file extension (`jpeg` is `jpg`).
  static let kindsByExtension = [
    "mp3": "mp3", "aac": "aac", "m4a": "m4a", "wav": "wav", "flac": "flac", "ogg": "ogg", "opus": "opus",
    "mp4": "mp4", "webm": "webm", "mov": "mov", "jpg": "jpg", "jpeg": "jpg",
  ]

  /// Transcode IN to one output; `--kind` defaults to OUT's extension.
  public static func transcode(input: MediaArgument, output: MediaArgument, options: TranscodeOptions)
    throws(ClientError) -> JobRequest
  {
    let ext = (output.fileName as NSString).pathExtension.lowercased()
    guard let kind = options.kind ?? kindsByExtension[ext] else {
      throw ClientError(.usage, "cannot tell the output kind from \"\(output.fileName)\": pass --kind")
    }
    // An hls output is a folder of playlists and segments: one local file cannot hold it. Refused before
    // anything is uploaded.
    if kind == "hls", case .local = output {
      throw ClientError(
        .usage,
        "--kind hls writes a folder of files: give OUT as an s3:// or dlb:// prefix ending in /, not a local file")
    }
    return JobRequest(operation: .transcode, input: input, output: output) { input, output in
      var item: [String: JSONValue] = ["id": "out", "kind": .string(kind), "destination": .string(output ?? "")]
      item["audio"] = given([
        "codec": options.codec.map { .string($0) }, "bitrate_kb": options.bitrate.map { .int($0) },
        "sample_rate": options.sampleRate.map { .int($0) }, "channels": options.channels.map { .int($0) },
      ])
      item["video"] = given([
        "codec": options.videoCodec.map { .string($0) }, "width": options.width.map { .int($0) },
        "height": options.height.map { .int($0) }, "bitrate_kb": options.videoBitrate.map { .int($0) },
      ])
      return .object(["inputs": .array([.object(["source": .string(input)])]), "outputs": .array([.object(item)])])
    }
  }

  /// Master IN to OUT with one profile (`preset` a-n); `--preview` masters 30 s from `start` instead.
  public static func master(
    input: MediaArgument, output: MediaArgument, preset: String, intensity: Double?, targetLevel: Double?,
    stereoImage: Bool, preview: Bool, start: Double?
  ) -> JobRequest {
    JobRequest(operation: preview ? .masterPreview : .master, input: input, output: output) { input, output in
      var eq: [String: JSONValue] = ["enable": true, "preset": .string(preset)]
      if let intensity { eq["intensity"] = .double(intensity) }
      var loudness: [String: JSONValue] = ["enable": true]
      if let targetLevel { loudness["target_level"] = .double(targetLevel) }
      let master: JSONValue = .object([
        "dynamic_eq": .object(eq), "loudness": .object(loudness),
        "stereo_image": .object(["enable": .bool(stereoImage)]),
      ])
      var source: [String: JSONValue] = ["source": .string(input)]
      if let start { source["segment"] = .object(["start": .double(start)]) }
      return .object([
        "inputs": .array([.object(source)]),
        "outputs": .array([.object(["destination": .string(output ?? ""), "master": master])]),
      ])
    }
  }
}
