/// How a result is written: ffmpeg's muxer and the audio encoder arguments, chosen from the output's file
/// name (`talk.mp3`), else from the input's container, else WAV.
public struct OutputFormat: Sendable, Equatable {
  /// The file extension (without dot) the work file gets.
  public var fileExtension: String
  /// ffmpeg's `-f` muxer.
  public var muxer: String
  /// Audio encoder arguments.
  public var audioArguments: [String]
  /// The container can carry the input's video stream unchanged.
  public var keepsVideo: Bool
  /// Sample rates the encoder takes; nil for any.
  public var sampleRates: [Int]?
  /// The media type sent with the upload.
  public var contentType: String

  static let byExtension: [String: OutputFormat] = [
    "wav": .init("wav", "wav", ["-c:a", "pcm_s16le"], false, nil, "audio/wav"),
    "mp3": .init("mp3", "mp3", ["-c:a", "libmp3lame", "-b:a", "192k"], false, [48000, 44100, 32000], "audio/mpeg"),
    "m4a": .init("m4a", "ipod", ["-c:a", "aac", "-b:a", "192k"], false, nil, "audio/mp4"),
    "aac": .init("aac", "adts", ["-c:a", "aac", "-b:a", "192k"], false, nil, "audio/aac"),
    "flac": .init("flac", "flac", ["-c:a", "flac"], false, nil, "audio/flac"),
    "ogg": .init("ogg", "ogg", ["-c:a", "libvorbis", "-q:a", "5"], false, nil, "audio/ogg"),
    "opus": .init("opus", "opus", ["-c:a", "libopus", "-b:a", "128k"], false, [48000], "audio/ogg"),
    "mp4": .init("mp4", "mp4", ["-c:a", "aac", "-b:a", "192k"], true, nil, "video/mp4"),
    "mov": .init("mov", "mov", ["-c:a", "aac", "-b:a", "192k"], true, nil, "video/quicktime"),
    "mkv": .init("mkv", "matroska", ["-c:a", "flac"], true, nil, "video/x-matroska"),
  ]

  init(
    _ fileExtension: String, _ muxer: String, _ audioArguments: [String], _ keepsVideo: Bool, _ sampleRates: [Int]?,
    _ contentType: String
  ) {
    self.fileExtension = fileExtension
    self.muxer = muxer
    self.audioArguments = audioArguments
    self.keepsVideo = keepsVideo
    self.sampleRates = sampleRates
    self.contentType = contentType
  }

  /// The format for an output named `name` (its last path segment), for an input ffprobe called `inputFormat`.
  public static func choose(outputName: String, inputFormat: String) -> OutputFormat {
    if let dot = outputName.lastIndex(of: "."),
      let format = byExtension[outputName[outputName.index(after: dot)...].lowercased()]
    {
      return format
    }
    let input = inputFormat.split(separator: ",").map(String.init)
    for (name, ext) in [
      ("wav", "wav"), ("mp3", "mp3"), ("flac", "flac"), ("ogg", "ogg"), ("mp4", "mp4"), ("matroska", "mkv"),
    ]
    where input.contains(name) {
      return byExtension[ext]!
    }
    return byExtension["wav"]!
  }
}
