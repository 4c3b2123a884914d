/// What a transcode output is (`outputs[i].kind`): the codecs it takes, how ffmpeg writes it, and the media
/// type it is uploaded with. Kinds: `ogg` is Vorbis (or Opus) in Ogg, `opus` is Opus in Ogg, `aac` is ADTS,
/// `m4a` is AAC in MP4; `hls` is a folder of playlists and MPEG-TS segments, `dash` a folder of an MPD manifest
/// and fragmented-MP4 segments.
public enum TranscodeKind: String, Sendable, Equatable, Codable, CaseIterable {
  case mp3, aac, m4a, wav, flac, ogg, opus
  case mp4, mov, webm
  case jpg, hls, dash

  /// The kinds as refusals list them: audio, then video, then the rest.
  static let listed: [TranscodeKind] =
    allCases.filter(\.isAudioOnly).sorted { $0.rawValue < $1.rawValue }
    + allCases.filter(\.isVideoFile).sorted { $0.rawValue < $1.rawValue } + [.jpg, .hls, .dash]

  /// An audio file.
  var isAudioOnly: Bool {
    switch self {
    case .mp3, .aac, .m4a, .wav, .flac, .ogg, .opus: true
    case .mp4, .mov, .webm, .jpg, .hls, .dash: false
    }
  }

  /// A stream: a folder of a manifest (playlists) and segments, uploaded under a destination prefix.
  var isStream: Bool { self == .hls || self == .dash }

  /// A video file (with its audio, when the input has some).
  var isVideoFile: Bool { self == .mp4 || self == .mov || self == .webm }

  /// The audio codecs the kind takes, the default first; none for a thumbnail.
  var audioCodecs: [String] {
    switch self {
    case .mp3: ["mp3"]
    case .aac, .m4a, .mp4, .mov, .hls, .dash: ["aac"]
    case .wav: ["pcm_s16le", "pcm_s24le"]
    case .flac: ["flac"]
    case .ogg: ["vorbis", "opus"]
    case .opus: ["opus"]
    case .webm: ["opus", "vorbis"]
    case .jpg: []
    }
  }

  /// The video codecs the kind takes, the default first; nil for kinds that carry no video stream.
  var videoCodecs: [String]? {
    switch self {
    case .mp4, .mov: ["h264", "h265"]
    case .hls, .dash: ["h264"]
    case .webm: ["vp9", "vp8"]
    case .mp3, .aac, .m4a, .wav, .flac, .ogg, .opus, .jpg: nil
    }
  }

  /// ffmpeg's muxer for a file of this kind (hls is written by its own arguments).
  var muxer: String {
    switch self {
    case .aac: "adts"
    case .m4a: "ipod"
    case .jpg: "image2"
    default: rawValue
    }
  }

  /// The media type an output of this kind is uploaded with (hls files: `TranscodeCommand.hlsContentType`).
  public var contentType: String {
    switch self {
    case .mp3: "audio/mpeg"
    case .aac: "audio/aac"
    case .m4a: "audio/mp4"
    case .wav: "audio/wav"
    case .flac: "audio/flac"
    case .ogg, .opus: "audio/ogg"
    case .mp4: "video/mp4"
    case .mov: "video/quicktime"
    case .webm: "video/webm"
    case .jpg: "image/jpeg"
    case .hls, .dash: "application/octet-stream"
    }
  }
}
