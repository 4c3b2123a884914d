/// The one ffmpeg command that makes every output of a transcode from a single decode of the input.
public enum TranscodeCommand {
  /// A work file name for output `index` of `kind`.
  public static func fileName(index: Int, kind: TranscodeKind) -> String { "output-\(index).\(kind.rawValue)" }

  /// The work folder stream (hls or dash) output `index` is written into (the worker makes it before ffmpeg
  /// runs).
  public static func streamDirectory(index: Int) -> String { "stream-\(index)" }

  /// What an hls output writes: the media playlist, a one-variant master playlist naming it, and segments.
  public static let hlsMediaPlaylist = "index.m3u8"
  public static let hlsMasterPlaylist = "master.m3u8"
  static let hlsSegmentPattern = "segment-%05d.ts"

  /// The media type an hls file named `name` is uploaded with.
  public static func hlsContentType(_ name: String) -> String {
    name.hasSuffix(".m3u8")
      ? "application/vnd.apple.mpegurl" : name.hasSuffix(".ts") ? "video/mp2t" : "application/octet-stream"
  }

  public static func arguments(_ request: TranscodeSpec, input: String, directory: String) -> [String] {
    var arguments = ["-hide_banner", "-nostdin", "-y", "-loglevel", "error", "-progress", "pipe:1", "-nostats"]
    if let start = request.segmentStart { arguments += ["-ss", EnhanceCommand.number(start)] }
    if let duration = request.segmentDuration { arguments += ["-t", EnhanceCommand.number(duration)] }
    arguments += MediaTools.safeInput + ["-i", input]
    for (index, output) in request.outputs.enumerated() {
      if output.kind == .hls {
        arguments += hlsArguments(output, directory: directory + "/" + streamDirectory(index: index))
      } else if output.kind == .dash {
        arguments += dashArguments(output, directory: directory + "/" + streamDirectory(index: index))
      } else {
        arguments += outputArguments(output) + [directory + "/" + fileName(index: index, kind: output.kind)]
      }
    }
    return arguments
  }

  /// An hls output into the work folder `folder`: its streams (`streamStreams`) in MPEG-TS segments of
  /// `segmentSeconds`; a VOD media playlist and a master playlist naming it. Names in the playlists are
  /// relative, so the folder can be uploaded under any prefix as it is.
  static func hlsArguments(_ output: TranscodeSpec.Output, directory folder: String) -> [String] {
    let seconds = String(output.segmentSeconds)
    return streamStreams(output) + [
      "-f", "hls", "-hls_time", seconds, "-hls_playlist_type", "vod", "-hls_segment_type", "mpegts",
      // The segment name is a pattern: a `%` in the folder (from data_dir) must be doubled to mean itself.
      "-hls_flags", "independent_segments", "-hls_segment_filename",
      folder.replacingOccurrences(of: "%", with: "%%") + "/" + hlsSegmentPattern,
      "-master_pl_name", hlsMasterPlaylist, folder + "/" + hlsMediaPlaylist,
    ]
  }

  /// What a dash output writes: the manifest and, per stream, an init segment and numbered media segments.
  public static let dashManifest = "manifest.mpd"

  /// A dash output into the work folder `folder`: the streams as for hls, in fragmented-MP4 segments of
  /// `segmentSeconds` (each starting with a key frame) and a static MPD manifest with segment templates.
  /// Names in the manifest are relative, so the folder can be uploaded under any prefix as it is.
  static func dashArguments(_ output: TranscodeSpec.Output, directory folder: String) -> [String] {
    streamStreams(output) + [
      "-f", "dash", "-seg_duration", String(output.segmentSeconds), "-use_template", "1", "-use_timeline", "1",
      "-init_seg_name", "init-$RepresentationID$.m4s", "-media_seg_name", "chunk-$RepresentationID$-$Number%05d$.m4s",
      folder + "/" + dashManifest,
    ]
  }

  /// The streams of an hls or dash output: H.264 (unless `carriesVideo` is false) with key frames forced at
  /// every segment boundary, so each segment starts with one, and AAC.
  static func streamStreams(_ output: TranscodeSpec.Output) -> [String] {
    var arguments: [String]
    if output.carriesVideo != false {
      arguments = ["-map", "0:v:0", "-map", "0:a:0?"] + video(output, codec: "h264")
      arguments += ["-force_key_frames", "expr:gte(t,n_forced*\(output.segmentSeconds))"]
    } else {
      arguments = ["-map", "0:a:0", "-vn"]
    }
    return arguments + audio(output.audioTracks[0], codec: output.audioCodec ?? "aac") + ["-map_metadata", "-1"]
  }

  /// The media type a dash file named `name` is uploaded with.
  public static func dashContentType(_ name: String) -> String {
    name.hasSuffix(".mpd")
      ? "application/dash+xml" : name.hasSuffix(".m4s") ? "video/iso.segment" : "application/octet-stream"
  }

  static func outputArguments(_ output: TranscodeSpec.Output) -> [String] {
    let kind = output.kind
    if kind == .jpg {
      var arguments = ["-map", "0:v:0"]
      if let offset = output.offset { arguments += ["-ss", EnhanceCommand.number(offset)] }
      if let scale = scale(output) { arguments += ["-vf", scale] }
      return arguments + ["-frames:v", "1", "-c:v", "mjpeg", "-q:v", "3", "-update", "1", "-f", kind.muxer]
    }
    guard let videoCodecs = kind.videoCodecs else {
      let audio = audio(output.audioTracks[0], codec: output.audioCodec ?? kind.audioCodecs[0])
      return ["-map", "0:a:0", "-vn"] + audio + ["-map_metadata", "-1", "-f", kind.muxer]
    }
    // A video file: one stream of the input's first audio per track asked for, each encoded as its entry says.
    var arguments = ["-map", "0:v:0"] + video(output, codec: output.videoCodec ?? videoCodecs[0])
    for (index, track) in output.audioTracks.enumerated() {
      arguments += ["-map", "0:a:0?"] + audio(track, codec: track.codec ?? kind.audioCodecs[0], stream: index)
    }
    return arguments + (kind == .webm ? [] : ["-movflags", "+faststart"]) + ["-map_metadata", "-1", "-f", kind.muxer]
  }

  /// Encoder, bitrate, size and frame rate for a video stream.
  static func video(_ output: TranscodeSpec.Output, codec: String) -> [String] {
    var arguments: [String]
    // Without a bitrate, a quality target (the encoder's usual one).
    let quality: [String]
    switch codec {
    case "vp9":
      arguments = ["-c:v", "libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8", "-row-mt", "1"]
      quality = ["-crf", "33", "-b:v", "0"]
    case "vp8":
      arguments = ["-c:v", "libvpx", "-deadline", "realtime", "-cpu-used", "8"]
      // libvpx's VP8 needs a ceiling next to its quality target.
      quality = ["-crf", "10", "-b:v", "2M"]
    case "h265":
      // hvc1: the tag Apple's players need to play HEVC in MP4 and QuickTime.
      arguments = ["-c:v", "libx265", "-preset", "veryfast", "-pix_fmt", "yuv420p", "-tag:v", "hvc1"]
      quality = ["-crf", "28"]
    default:
      arguments = ["-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p"]
      quality = ["-crf", "23"]
    }
    if let kilobits = output.videoBitrate {
      arguments += ["-b:v", "\(kilobits)k"]
      // cbr holds the rate over a one-second buffer; vbr lets it vary around the average.
      if output.videoBitrateMode == "cbr" {
        arguments += ["-minrate", "\(kilobits)k", "-maxrate", "\(kilobits)k", "-bufsize", "\(kilobits)k"]
      }
    } else {
      arguments += quality
    }
    if let scale = scale(output) { arguments += ["-vf", scale] }
    if let rate = output.frameRate { arguments += ["-r", EnhanceCommand.number(rate)] }
    return arguments
  }

  /// Encoder, bitrate, rate and channels for an audio stream: the output's only one, or with `stream` its
  /// audio stream of that index (`-c:a:1` ...).
  static func audio(_ output: TranscodeSpec.AudioTrack, codec: String, stream: Int? = nil) -> [String] {
    let options = audioOptions(output, codec: codec)
    guard let stream else { return options }
    return options.map { option in
      switch option {
      case "-c:a", "-b:a", "-q:a": "\(option):\(stream)"
      case "-ar", "-ac": "\(option):a:\(stream)"
      default: option
      }
    }
  }

  /// `audio`'s options for the output's only audio stream.
  private static func audioOptions(_ output: TranscodeSpec.AudioTrack, codec: String) -> [String] {
    var arguments: [String]
    var rate = output.sampleRate
    switch codec {
    case "mp3":
      arguments = ["-c:a", "libmp3lame", "-b:a", "\(output.bitrate ?? 192)k"]
      rate = rate.map { nearest($0, in: [48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000]) }
    case "aac":
      arguments = ["-c:a", "aac", "-b:a", "\(output.bitrate ?? 192)k"]
      rate = rate.map {
        nearest($0, in: [96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350])
      }
    case "vorbis":
      arguments = ["-c:a", "libvorbis"] + (output.bitrate.map { ["-b:a", "\($0)k"] } ?? ["-q:a", "5"])
    case "opus":
      arguments = ["-c:a", "libopus", "-b:a", "\(output.bitrate ?? 128)k"]
      // Opus runs at 48 kHz (or a few lower rates); anything else is resampled to 48 kHz.
      if let asked = rate, ![48000, 24000, 16000, 12000, 8000].contains(asked) { rate = 48000 }
    case "flac": arguments = ["-c:a", "flac"]
    default: arguments = ["-c:a", codec]  // pcm_s16le, pcm_s24le
    }
    if let rate { arguments += ["-ar", String(rate)] }
    if let channels = output.channels { arguments += ["-ac", String(channels)] }
    return arguments
  }

  /// The supported rate nearest to `rate`.
  static func nearest(_ rate: Int, in rates: [Int]) -> Int {
    rates.min { abs($0 - rate) < abs($1 - rate) }!
  }

  /// The scale filter for the asked size (one side alone keeps the aspect ratio); without one, video is
  /// only evened (H.264 in 4:2:0 refuses odd sizes), and a thumbnail is left as it is.
  static func scale(_ output: TranscodeSpec.Output) -> String? {
    switch (output.width, output.height) {
    case (let w?, let h?): "scale=\(w):\(h)"
    case (let w?, nil): "scale=\(w):-2"
    case (nil, let h?): "scale=-2:\(h)"
    case (nil, nil): output.kind == .jpg ? nil : "scale=trunc(iw/2)*2:trunc(ih/2)*2"
    }
  }
}
