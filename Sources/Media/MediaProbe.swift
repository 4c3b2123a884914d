import Foundation
import JSON

/// ffmpeg and ffprobe as `media.*` configures them.
public struct MediaTools: Sendable {
  public var ffmpeg: String
  public var ffprobe: String
  /// Longer inputs are refused (`media.max_duration_s`).
  public var maxDuration: Double
  /// What every result names as its `version`: the release that made it (Ferry's).
  public var version: String
  /// The neural denoiser (`media.denoiser`), or nil: enhance then reduces noise with `afftdn`.
  public var denoiser: DeepFilter?

  /// The most audio channels an input may have (7.1).
  public static let maxChannels = 8

  public init(
    ffmpeg: String = "ffmpeg", ffprobe: String = "ffprobe", maxDuration: Double = 43200, version: String = "dev",
    denoiser: DeepFilter? = nil
  ) {
    self.denoiser = denoiser
    self.ffmpeg = ffmpeg
    self.ffprobe = ffprobe
    self.maxDuration = maxDuration
    self.version = version
  }

  /// Input options that keep ffmpeg to local files and plain media containers. Without them a "media" file
  /// that is really an HLS playlist or a concat script would make ffmpeg open other files or URLs.
  static let safeInput = [
    "-protocol_whitelist", "file",
    "-format_whitelist",
    "wav,w64,mp3,aac,flac,ogg,aiff,caf,au,mov,mp4,m4a,3gp,3g2,mj2,matroska,webm,avi,mpegts",
  ]
}

/// What ffprobe found in an input.
public struct MediaInfo: Sendable, Equatable {
  /// ffprobe's demuxer name (`wav`, `mov,mp4,m4a,3gp,3g2,mj2`).
  public var formatName: String
  /// Seconds; nil when the container does not say.
  public var duration: Double?
  public var audioCodec: String?
  public var sampleRate: Int?
  public var channels: Int?
  public var hasVideo: Bool
  public var videoCodec: String?
  /// Container size in bytes and overall bit rate (bits/s), when known.
  public var size: Int?
  public var bitRate: Int?
  /// Audio details, when known.
  public var audioBitRate: Int?
  public var audioBitDepth: Int?
  public var channelLayout: String?
  public var audioDuration: Double?
  /// Video details, when there is video.
  public var width: Int?
  public var height: Int?
  public var frameRate: Double?
  public var videoBitRate: Int?
  public var videoDuration: Double?
  /// What the container's header claimed, when the data decodes to another length (`duration` then holds the
  /// decoded length: see `reconciled(decoded:declared:)`).
  public var claimedDuration: Double?

  /// Reads ffprobe's `-of json` answer.
  static func parse(_ json: JSONValue) -> MediaInfo? {
    guard let format = json.object?["format"]?.object, let name = format["format_name"]?.string else { return nil }
    func int(_ value: JSONValue?) -> Int? {
      if case .int(let i)? = value { return i }
      return value?.string.flatMap { Int($0) }
    }
    func double(_ value: JSONValue?) -> Double? { value?.string.flatMap(Double.init) ?? value?.number }
    var info = MediaInfo(
      formatName: name, duration: double(format["duration"]), audioCodec: nil, sampleRate: nil, channels: nil,
      hasVideo: false, videoCodec: nil)
    info.size = int(format["size"])
    info.bitRate = int(format["bit_rate"])
    if case .array(let streams)? = json.object?["streams"] {
      for case .object(let stream) in streams {
        switch stream["codec_type"]?.string {
        case "audio" where info.audioCodec == nil:
          info.audioCodec = stream["codec_name"]?.string
          info.sampleRate = int(stream["sample_rate"])
          info.channels = int(stream["channels"])
          info.channelLayout = stream["channel_layout"]?.string
          info.audioBitRate = int(stream["bit_rate"])
          info.audioDuration = double(stream["duration"])
          let depth = int(stream["bits_per_raw_sample"]) ?? int(stream["bits_per_sample"])
          info.audioBitDepth = depth.flatMap { $0 > 0 ? $0 : nil }
        case "video" where !info.hasVideo:
          // Cover art in audio files is a one-frame "video": not a picture track to keep.
          if stream["disposition"]?.object?["attached_pic"] != .int(1) {
            info.hasVideo = true
            info.videoCodec = stream["codec_name"]?.string
            info.width = int(stream["width"])
            info.height = int(stream["height"])
            info.videoBitRate = int(stream["bit_rate"])
            info.videoDuration = double(stream["duration"])
            if let rate = stream["r_frame_rate"]?.string {
              let parts = rate.split(separator: "/").compactMap { Double($0) }
              if parts.count == 2, parts[1] > 0 { info.frameRate = parts[0] / parts[1] }
            }
          }
        default: break
        }
      }
    }
    return info
  }
}

/// Runs ffprobe on a work file.
public struct MediaProbe: Sendable {
  public let tools: MediaTools

  public init(tools: MediaTools) {
    self.tools = tools
  }

  /// The file's media info with its durations from what decodes where the header says otherwise (a truncated
  /// file: see `MediaInfo.reconciled`); nil when ffprobe cannot read it as media. `runner` lets a cancel kill
  /// the processes.
  public func inspect(_ path: String, runner: ProcessRunner = ProcessRunner()) throws -> MediaInfo? {
    guard let info = try probe(path, runner: runner) else { return nil }
    let declared = info.formatName == "wav" ? WAVHeader(file: path)?.duration : nil
    let decoded = info.durationComesFromData ? info.duration : try decodedDuration(path, runner: runner)
    return info.reconciled(decoded: decoded, declared: declared)
  }

  /// The file's media info as ffprobe reads it (durations as the container says), or nil when ffprobe cannot
  /// read it as media. `runner` lets a cancel kill it.
  public func probe(_ path: String, runner: ProcessRunner = ProcessRunner()) throws -> MediaInfo? {
    var output = ""
    let exit = try runner.run(
      tools.ffprobe,
      ["-v", "error"] + MediaTools.safeInput + [
        "-show_entries",
        "format=format_name,duration,size,bit_rate:stream=codec_type,codec_name,sample_rate,channels,channel_layout,"
          + "bits_per_sample,bits_per_raw_sample,bit_rate,duration,width,height,r_frame_rate"
          + ":stream_disposition=attached_pic",
        "-of", "json", path,
      ]
    ) { line in
      if output.utf8.count < 1 << 20 { output += line + "\n" }
    }
    guard exit.status == 0, let json = try? JSONValue.parse(Data(output.utf8), duplicateKeys: .lastWins) else {
      return nil
    }
    return MediaInfo.parse(json)
  }

  /// How long the file's first audio and video streams really are, in seconds: ffmpeg reads every packet
  /// (copied, not decoded: a second or so for an hour of MP3) and says where the last one ends. Nil when
  /// ffmpeg could not read them.
  public func decodedDuration(_ path: String, runner: ProcessRunner = ProcessRunner()) throws -> Double? {
    var progress = FFmpegProgress()
    let exit = try runner.run(
      tools.ffmpeg,
      ["-hide_banner", "-nostdin", "-nostats", "-loglevel", "error", "-progress", "pipe:1"] + MediaTools.safeInput
        + ["-i", path, "-map", "0:a:0?", "-map", "0:v:0?", "-c", "copy", "-f", "null", "-"]
    ) { line in _ = progress.feed(line) }
    guard exit.status == 0, progress.ended, progress.outTimeMicroseconds > 0 else { return nil }
    return Double(progress.outTimeMicroseconds) / 1e6
  }
}
