import Foundation
import JSON

/// ffmpeg and ffprobe as `media.*` configures them.
public struct MediaTools: Sendable {
  public var ffmpeg: String
  public var ffprobe: String
  /// Longer inputs are refused (`media.max_duration_s`).
  public var maxDuration: Double

  public init(ffmpeg: String = "ffmpeg", ffprobe: String = "ffprobe", maxDuration: Double = 43200) {
    self.ffmpeg = ffmpeg
    self.ffprobe = ffprobe
    self.maxDuration = maxDuration
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

  /// Reads ffprobe's `-of json` answer.
  static func parse(_ json: JSONValue) -> MediaInfo? {
    guard let format = json.object?["format"]?.object, let name = format["format_name"]?.string else { return nil }
    var info = MediaInfo(
      formatName: name, duration: format["duration"]?.string.flatMap(Double.init), audioCodec: nil, sampleRate: nil,
      channels: nil, hasVideo: false, videoCodec: nil)
    if case .array(let streams)? = json.object?["streams"] {
      for case .object(let stream) in streams {
        switch stream["codec_type"]?.string {
        case "audio" where info.audioCodec == nil:
          info.audioCodec = stream["codec_name"]?.string
          info.sampleRate = stream["sample_rate"]?.string.flatMap { Int($0) }
          if case .int(let channels)? = stream["channels"] { info.channels = channels }
        case "video" where !info.hasVideo:
          // Cover art in audio files is a one-frame "video": not a picture track to keep.
          if stream["disposition"]?.object?["attached_pic"] != .int(1) {
            info.hasVideo = true
            info.videoCodec = stream["codec_name"]?.string
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

  /// The file's media info, or nil when ffprobe cannot read it as media. `runner` lets a cancel kill it.
  public func probe(_ path: String, runner: ProcessRunner = ProcessRunner()) throws -> MediaInfo? {
    var output = ""
    let exit = try runner.run(
      tools.ffprobe,
      ["-v", "error"] + MediaTools.safeInput + [
        "-show_entries",
        "format=format_name,duration:stream=codec_type,codec_name,sample_rate,channels:stream_disposition=attached_pic",
        "-of", "json", path,
      ]
    ) { line in
      if output.utf8.count < 1 << 20 { output += line + "\n" }
    }
    guard exit.status == 0, let json = try? JSONValue.parse(Data(output.utf8)) else { return nil }
    return MediaInfo.parse(json)
  }
}
