import Foundation

/// When a video transcode is split into pieces (`media.split.*`).
public struct SplitSettings: Sendable, Equatable {
  /// Inputs at least this long (seconds) are split; shorter ones run in one pass.
  public var minDuration: Double
  /// The length a piece aims at (seconds); each cut is moved to the input's next key frame.
  public var pieceDuration: Double

  public init(minDuration: Double, pieceDuration: Double) {
    self.minDuration = minDuration
    self.pieceDuration = pieceDuration
  }
}

/// Split and stitch, the pure part: which transcodes split, where the cuts go, and the ffmpeg commands that
/// encode a piece, encode the audio once over the whole input, and join the pieces by stream copy.
///
/// A piece starts at one of the input's key frames and holds an exact number of frames: its encode seeks
/// there (the seek lands on the key frame, so nothing before it is decoded) and stops after those frames, so
/// the pieces together hold every frame of the input once, each piece's first frame is a key frame of the
/// output (the output's GOP boundaries fall on the cuts), and the concat demuxer joins them without
/// re-encoding.
public enum TranscodeSplit {
  /// One piece: where it starts in the input (seconds from the input's start), how many frames it holds and
  /// how long they last.
  public struct Piece: Sendable, Equatable, Codable {
    public var start: Double
    public var frames: Int
    public var duration: Double

    public init(start: Double, frames: Int, duration: Double) {
      self.start = start
      self.frames = frames
      self.duration = duration
    }
  }

  /// Whether `spec`'s transcode may be split: one mp4 or mov output with H.264 or H.265 video at the input's
  /// frame rate and at most one audio track, of the whole input. (Other shapes run in one pass: several outputs
  /// share one decode, and streams, webm and thumbnails gain nothing here.)
  public static func splittable(_ spec: TranscodeSpec) -> Bool {
    guard spec.outputs.count == 1, spec.segmentStart == nil, spec.segmentDuration == nil else { return false }
    let output = spec.outputs[0]
    guard output.kind == .mp4 || output.kind == .mov else { return false }
    return ["h264", "h265"].contains(output.videoCodec ?? "h264") && output.frameRate == nil
      && output.audioTracks.count <= 1
  }

  /// The pieces of a video whose frames start at `frameTimes` (seconds from the input's start, any order) and
  /// whose key frames are at `keyFrames`: a cut at the first key frame at least `pieceDuration` after the
  /// last cut (about half that within the last two piece lengths). Fewer than two pieces: the video is not
  /// worth splitting (empty).
  /// Variable frame rate video (frame intervals more than 2 ms apart: a millisecond time base rounds 29.97 fps
  /// to 33 and 34 ms), or video that starts after the input does (its offset to the audio would be lost with
  /// the first piece's seek), is not split either: an exact frame count per piece is the one-pass encode's only
  /// at a constant rate from the input's start.
  public static func plan(frameTimes: [Double], keyFrames: [Double], pieceDuration: Double) -> [Piece] {
    let frames = frameTimes.sorted()
    guard let first = frames.first, pieceDuration > 0, frames.count > 1 else { return [] }
    let intervals = zip(frames.dropFirst(), frames).map { $0 - $1 }
    guard let shortest = intervals.min(), let longest = intervals.max(), longest - shortest <= 0.002,
      abs(first) < shortest / 2
    else { return [] }
    let keys = keyFrames.sorted()
    // The last two piece lengths are cut in pieces of about half the length, as even as the rest allows: the
    // nodes' last pieces then end closer together, and the stitch waits for the slowest.
    let last = frames.last!
    func next(after cut: Double) -> Double {
      let rest = last - cut
      guard rest <= 2 * pieceDuration else { return cut + pieceDuration }
      return cut + rest / (rest / (pieceDuration / 2)).rounded(.up)
    }
    var cuts = [first]
    var target = next(after: first)
    for key in keys where key > cuts.last! {
      if key >= target {
        cuts.append(key)
        target = next(after: key)
      }
    }
    guard cuts.count >= 2 else { return [] }
    var pieces: [Piece] = []
    var index = 0
    // The last frame lasts as long as the one before it.
    let lastFrameEnd = frames.last! + (frames.count > 1 ? frames[frames.count - 1] - frames[frames.count - 2] : 0)
    for (number, cut) in cuts.enumerated() {
      let end = number + 1 < cuts.count ? cuts[number + 1] : .infinity
      var count = 0
      while index < frames.count, frames[index] < end {
        index += 1
        count += 1
      }
      if count > 0 { pieces.append(Piece(start: cut, frames: count, duration: min(end, lastFrameEnd) - cut)) }
    }
    return pieces.count >= 2 ? pieces : []
  }

  /// The times of the video's frames and key frames from ffprobe's `-of compact` listing of its packets
  /// (`packet|pts_time=1.000000|flags=K_`) and the format's start time (`format|start_time=0.000000`),
  /// relative to that start time (which is what ffmpeg's `-ss` counts from).
  public static func frameTimes(fromProbe text: Substring) -> (frames: [Double], keyFrames: [Double]) {
    var listing = PacketListing()
    for line in text.split(separator: "\n") { listing.read(line) }
    return listing.times
  }

  /// Reads ffprobe's packet listing a line at a time (a long video lists hundreds of thousands).
  struct PacketListing {
    var frames: [Double] = []
    var keys: [Double] = []
    var start = 0.0

    mutating func read(_ line: Substring) {
      var time: Double?
      var key = false
      for field in line.split(separator: "|").dropFirst() {
        if field.hasPrefix("pts_time=") || field.hasPrefix("start_time=") {
          time = Double(field[field.index(after: field.firstIndex(of: "=")!)...])
        } else if field.hasPrefix("flags=") {
          key = field.dropFirst(6).contains("K")
        }
      }
      guard let time else { return }
      if line.hasPrefix("packet|") {
        frames.append(time)
        if key { keys.append(time) }
      } else if line.hasPrefix("format|") {
        start = time
      }
    }

    /// The times relative to the format's start.
    var times: (frames: [Double], keyFrames: [Double]) { (frames.map { $0 - start }, keys.map { $0 - start }) }
  }

  /// The ffprobe arguments that list the first video stream's packets and the format's start time.
  static func probeArguments(input: String) -> [String] {
    ["-v", "error"] + MediaTools.safeInput + [
      "-select_streams", "v:0", "-show_entries", "packet=pts_time,flags:format=start_time", "-of", "compact", input,
    ]
  }

  /// Encodes `piece` of `input` as `output` asks (video only) into the MP4 file `file`. The seek lands half a
  /// millisecond before the piece's first frame (ffprobe prints times rounded to the microsecond): the accurate
  /// seek then keeps that frame and drops nothing else of the piece.
  public static func pieceArguments(
    _ piece: Piece, output: TranscodeSpec.Output, input: String, file: String
  ) -> [String] {
    var arguments = ["-hide_banner", "-nostdin", "-y", "-loglevel", "error", "-progress", "pipe:1", "-nostats"]
    if piece.start > 0.001 { arguments += ["-ss", seconds(piece.start - 0.0005)] }
    arguments += MediaTools.safeInput + ["-i", input, "-map", "0:v:0", "-an", "-sn", "-dn"]
    arguments += TranscodeCommand.video(output, codec: output.videoCodec ?? "h264")
    return arguments + ["-frames:v", String(piece.frames), "-map_metadata", "-1", "-f", "mp4", file]
  }

  /// Encodes the first audio stream of `input` once, whole, as `output`'s audio track asks, into `file` (a
  /// QuickTime file: it holds every codec an mp4 or mov output may ask for).
  public static func audioArguments(output: TranscodeSpec.Output, input: String, file: String) -> [String] {
    let track = output.audioTracks[0]
    return ["-hide_banner", "-nostdin", "-y", "-loglevel", "error", "-progress", "pipe:1", "-nostats"]
      + MediaTools.safeInput + ["-i", input, "-map", "0:a:0", "-vn", "-sn", "-dn"]
      + TranscodeCommand.audio(track, codec: track.codec ?? output.kind.audioCodecs[0])
      + ["-map_metadata", "-1", "-f", "mov", file]
  }

  /// The concat demuxer's list of `pieces` (absolute paths, quoted as its syntax wants).
  public static func concatList(_ pieces: [String]) -> String {
    pieces.map { "file '" + $0.replacingOccurrences(of: "'", with: #"'\''"#) + "'\n" }.joined()
  }

  /// Joins the pieces the concat list `list` names and the audio file `audio` (if any) into `file` as
  /// `output`'s container, by stream copy.
  public static func stitchArguments(output: TranscodeSpec.Output, list: String, audio: String?, file: String)
    -> [String]
  {
    var arguments = ["-hide_banner", "-nostdin", "-y", "-loglevel", "error", "-progress", "pipe:1", "-nostats"]
    // The list is Ferry's own file naming Ferry's own pieces: the only input that may be a concat script.
    arguments += ["-protocol_whitelist", "file", "-f", "concat", "-safe", "0", "-i", list]
    if let audio { arguments += MediaTools.safeInput + ["-i", audio] }
    arguments += ["-map", "0:v:0"] + (audio == nil ? [] : ["-map", "1:a:0"]) + ["-c", "copy"]
    if output.videoCodec == "h265" { arguments += ["-tag:v", "hvc1"] }
    return arguments + ["-movflags", "+faststart", "-map_metadata", "-1", "-f", output.kind.muxer, file]
  }

  /// `value` with six decimals (what ffmpeg reads as seconds without losing a frame's position).
  static func seconds(_ value: Double) -> String { String(format: "%.6f", max(0, value)) }
}
