import Foundation
import JSON
import Jobs
import Locations

/// A transcode job as validated (COMPAT.md's transcode request): one input with an optional segment, and
/// outputs each with a kind, a destination and optional audio, video, image or hls settings. A source or
/// destination is a location, or a `{"storage", "path"}` (docs.dolby.io: `{"ref", "filename"}`) reference into the
/// request's `storage` block; an hls
/// output's destination is a folder.
public struct TranscodeSpec: JobSpec {
  /// One audio track's settings, each nil for the codec's default.
  public struct AudioTrack: Sendable, Equatable, Codable {
    public var codec: String?
    public var bitrate: Int?
    public var sampleRate: Int?
    public var channels: Int?
  }

  public struct Output: Sendable, Equatable, Codable {
    public var id: String
    public var kind: TranscodeKind
    /// Where the output goes; for an hls output a folder (its key a prefix ending in `/`), which the
    /// playlists and segments are written under.
    public var destination: Location
    /// Audio settings (codec, bitrate in kb/s, sample rate, channels), each nil for the kind's default.
    public var audioCodec: String?
    public var audioBitrate: Int?
    public var sampleRate: Int?
    public var channels: Int?
    /// The audio tracks after the first (whose settings are the four above), for video files: `audio` given
    /// as a list makes one track per entry. Nil in specs stored before there could be more than one.
    public var moreAudio: [AudioTrack]?

    /// Every audio track asked for (one, with the kind's defaults, when `audio` was not given).
    public var audioTracks: [AudioTrack] {
      [AudioTrack(codec: audioCodec, bitrate: audioBitrate, sampleRate: sampleRate, channels: channels)]
        + (moreAudio ?? [])
    }
    /// Video settings.
    public var videoCodec: String?
    public var width: Int?
    public var height: Int?
    public var frameRate: Double?
    public var videoBitrate: Int?
    /// `video.bitrate_mode`: `cbr` holds `videoBitrate` constant, `vbr` (or nil) lets it vary around it.
    public var videoBitrateMode: String?
    /// Image (thumbnail) settings.
    public var offset: Double?
    /// hls: whether the stream carries video (nil: when the input has it), and the segment length in seconds.
    public var carriesVideo: Bool?
    public var segmentSeconds: Int = TranscodeSpec.defaultSegmentSeconds
  }

  /// hls segments last this long unless `hls.segment_sec` says otherwise (Apple's authoring guidance).
  public static let defaultSegmentSeconds = 6

  public var input: Location
  /// Trim the input: from `start` seconds, for `duration` seconds (to the end when nil).
  public var segmentStart: Double?
  public var segmentDuration: Double?
  public var outputs: [Output]

  public var reads: [Location] { [input] }
  /// The destinations, in the outputs' order.
  public var writes: [Location] { outputs.map(\.destination) }

  public init(request: JSONValue) throws(InvalidRequest) {
    let root = request.object ?? [:]
    let first = try MediaRequest.onlyInput(root, tooMany: "takes exactly one input in this version")
    let parser = LocationParser(extraFields: ["region"])
    let storage = try NamedStorage(parsing: root["storage"])
    let source = first["source"]
    input =
      try NamedStorage.isReference(source)
      ? storage.resolve(source, field: "inputs[0].source", folder: false)
      : parser.parse(source, field: "inputs[0].source")
    if let segment = first["segment"], segment != .null {
      guard case .object(let fields) = segment else { throw InvalidRequest("inputs[0].segment", "must be an object") }
      segmentStart = try Self.number(fields["start"], "inputs[0].segment.start", 0...86400)
      segmentDuration = try Self.number(fields["duration"], "inputs[0].segment.duration", 0.01...86400)
    }
    guard case .array(let items)? = root["outputs"], !items.isEmpty else {
      throw InvalidRequest("outputs", "is required: a list of outputs")
    }
    guard items.count <= 20 else { throw InvalidRequest("outputs", "at most 20 outputs") }
    var outputs: [Output] = []
    var ids: Set<String> = []
    for (index, item) in items.enumerated() {
      let field = "outputs[\(index)]"
      guard case .object(let fields) = item else { throw InvalidRequest(field, "must be an object") }
      let output = try Self.output(fields, field: field, index: index, parser: parser, storage: storage)
      guard ids.insert(output.id).inserted else {
        throw InvalidRequest("\(field).id", "\"\(output.id)\" is used twice")
      }
      // Two streams in one folder would overwrite each other's playlists and segments.
      if output.kind.isStream,
        let other = outputs.firstIndex(where: { $0.kind.isStream && $0.destination.target == output.destination.target }
        )
      {
        throw InvalidRequest(
          "\(field).destination", "names the folder of outputs[\(other)]; each stream needs its own")
      }
      outputs.append(output)
    }
    self.outputs = outputs
  }

  static func output(
    _ fields: [String: JSONValue], field: String, index: Int, parser: LocationParser, storage: NamedStorage
  ) throws(InvalidRequest) -> Output {
    let id = fields["id"]?.string ?? "output-\(index)"
    guard let name = fields["kind"]?.string else { throw InvalidRequest("\(field).kind", "is required") }
    guard let kind = TranscodeKind(rawValue: name) else {
      let known = TranscodeKind.listed.map(\.rawValue).joined(separator: ", ")
      throw InvalidRequest("\(field).kind", "unsupported \"\(name)\"; use one of \(known)")
    }
    let destination: Location
    let value = fields["destination"]
    let destinationField = "\(field).destination"
    if NamedStorage.isReference(value) {
      destination = try storage.resolve(value, field: destinationField, folder: kind.isStream)
    } else if kind.isStream {
      destination = try parser.parseFolder(
        value, field: destinationField, purpose: "an \(kind.rawValue) output (segments and playlists)")
    } else {
      destination = try parser.parse(value, field: destinationField)
    }
    var output = Output(id: id, kind: kind, destination: destination)
    if let audio = fields["audio"], audio != .null {
      // An object, or a list with one track per entry (a video file holds several; other kinds one).
      let entries: [(JSONValue, String)]
      if case .array(let list) = audio {
        entries = list.enumerated().map { ($0.element, "\(field).audio[\($0.offset)]") }
        if list.count > 1 && !kind.isVideoFile {
          throw InvalidRequest(
            "\(field).audio[1]", "a \(kind.rawValue) output carries one audio track; use mp4, mov or webm for several")
        }
        guard list.count <= 8 else { throw InvalidRequest("\(field).audio", "at most 8 audio tracks") }
      } else {
        entries = [(audio, "\(field).audio")]
      }
      let tracks = try entries.map { entry throws(InvalidRequest) in try audioTrack(entry.0, field: entry.1, kind: kind)
      }
      if let first = tracks.first {
        output.audioCodec = first.codec
        output.audioBitrate = first.bitrate
        output.sampleRate = first.sampleRate
        output.channels = first.channels
      }
      if tracks.count > 1 { output.moreAudio = Array(tracks.dropFirst()) }
    }
    if let video = fields["video"], video != .null {
      guard let codecs = kind.videoCodecs else {
        throw InvalidRequest("\(field).video", "\(kind.rawValue) outputs carry no video")
      }
      guard case .object(let settings) = video else { throw InvalidRequest("\(field).video", "must be an object") }
      if let enable = settings["enable"], enable != .null {
        guard kind.isStream else {
          throw InvalidRequest("\(field).video.enable", "only hls and dash outputs can leave video out")
        }
        guard case .bool(let on) = enable else {
          throw InvalidRequest("\(field).video.enable", "must be true or false")
        }
        output.carriesVideo = on
      }
      if let name = settings["codec"]?.string {
        let codec = Self.videoCodecNames[name] ?? name
        guard codecs.contains(codec) else {
          throw InvalidRequest(
            "\(field).video.codec",
            "\"\(name)\" does not fit \(kind.rawValue); use \(codecs.joined(separator: " or "))")
        }
        output.videoCodec = codec
      }
      output.width = try number(settings["width"], "\(field).video.width", 16...7680).map { Int($0) / 2 * 2 }
      output.height = try number(settings["height"], "\(field).video.height", 16...4320).map { Int($0) / 2 * 2 }
      output.frameRate = try number(settings["frame_rate"], "\(field).video.frame_rate", 1...120)
      // Up to what a 4K60 master takes (Dolby's YouTube sample asks for more than 100,000).
      output.videoBitrate = try number(settings["bitrate_kb"], "\(field).video.bitrate_kb", 50...500_000).map {
        Int($0)
      }
      if let mode = settings["bitrate_mode"], mode != .null {
        guard let name = mode.string, ["cbr", "vbr"].contains(name) else {
          throw InvalidRequest("\(field).video.bitrate_mode", "must be cbr or vbr")
        }
        guard name == "vbr" || output.videoBitrate != nil else {
          throw InvalidRequest("\(field).video.bitrate_mode", "cbr needs video.bitrate_kb: the rate to hold")
        }
        output.videoBitrateMode = name
      }
    }
    for stream in [TranscodeKind.hls, .dash] {
      guard let block = fields[stream.rawValue], block != .null else { continue }
      let name = stream.rawValue
      guard kind == stream else {
        throw InvalidRequest("\(field).\(name)", "only \(name) outputs take \(name) settings")
      }
      guard case .object(let settings) = block else { throw InvalidRequest("\(field).\(name)", "must be an object") }
      for key in settings.keys.sorted() where key != "segment_sec" {
        throw InvalidRequest("\(field).\(name).\(key)", "unknown field")
      }
      if let seconds = try number(settings["segment_sec"], "\(field).\(name).segment_sec", 1...60) {
        guard seconds == seconds.rounded() else {
          throw InvalidRequest("\(field).\(name).segment_sec", "must be a whole number of seconds")
        }
        output.segmentSeconds = Int(seconds)
      }
    }
    if let image = fields["image"], image != .null {
      guard kind == .jpg else { throw InvalidRequest("\(field).image", "only jpg outputs take image settings") }
      guard case .object(let settings) = image else { throw InvalidRequest("\(field).image", "must be an object") }
      output.width = try number(settings["width"], "\(field).image.width", 16...7680).map { Int($0) / 2 * 2 }
      output.height = try number(settings["height"], "\(field).image.height", 16...4320).map { Int($0) / 2 * 2 }
      output.offset = try number(settings["offset_sec"], "\(field).image.offset_sec", 0...86400)
    }
    return output
  }

  /// Dolby's audio codec names (Hybrik's) for the encoders Ferry has.
  static let audioCodecNames = ["aac_lc": "aac", "mpeg4_aac": "aac", "pcm": "pcm_s16le"]
  /// Dolby's names for AAC profiles no encoder here makes (Debian's ffmpeg has no HE-AAC encoder).
  static let heAACNames: Set = ["he_aac", "he_aac1", "he_aac2", "he_aac_v2", "heaac_v1", "heaac_v2", "heaac_auto"]
  /// Other names for the video codecs.
  static let videoCodecNames = ["avc": "h264", "hevc": "h265"]

  /// One entry of `audio`: the codec (as Dolby or ffmpeg names it) checked against the kind, and the numbers.
  static func audioTrack(_ value: JSONValue, field: String, kind: TranscodeKind) throws(InvalidRequest) -> AudioTrack {
    guard case .object(let settings) = value else { throw InvalidRequest(field, "must be an object") }
    let allowed = kind.audioCodecs
    var track = AudioTrack()
    if let name = settings["codec"]?.string {
      if Self.heAACNames.contains(name) {
        throw InvalidRequest(
          "\(field).codec", "\"\(name)\" (HE-AAC) is not available here: this ffmpeg has no HE-AAC encoder; use aac_lc")
      }
      let codec = Self.audioCodecNames[name] ?? name
      guard allowed.contains(codec) else {
        throw InvalidRequest(
          "\(field).codec", "\"\(name)\" does not fit \(kind.rawValue); use \(allowed.joined(separator: " or "))")
      }
      track.codec = codec
    }
    track.bitrate = try number(settings["bitrate_kb"], "\(field).bitrate_kb", 8...512).map { Int($0) }
    track.sampleRate = try number(settings["sample_rate"], "\(field).sample_rate", 8000...192000).map { Int($0) }
    track.channels = try number(settings["channels"], "\(field).channels", 1...8).map { Int($0) }
    try checkEncoderLimits(track, codec: track.codec ?? allowed.first ?? "", field: field)
    return track
  }

  /// What the encoders refuse, refused here with a 400 rather than after the download (one ffmpeg run makes
  /// every output, so one impossible output would fail them all). Sample rates are snapped, not refused.
  static func checkEncoderLimits(_ output: AudioTrack, codec: String, field: String) throws(InvalidRequest) {
    if let channels = output.channels, ["mp3", "opus"].contains(codec), channels > 2 {
      throw InvalidRequest("\(field).channels", "\(codec) takes 1 or 2 channels")
    }
    if let bitrate = output.bitrate, codec == "vorbis", !(48...320).contains(bitrate) {
      throw InvalidRequest("\(field).bitrate_kb", "vorbis takes 48 to 320 kb/s")
    }
  }

  static func number(_ value: JSONValue?, _ field: String, _ range: ClosedRange<Double>) throws(InvalidRequest)
    -> Double?
  {
    try RequestField.number(value, field, range)
  }
}
