import Foundation

extension MediaInfo {
  /// Differences between a header's duration and what decodes that are not worth a word: a healthy file's
  /// last packet ends within a frame of its header's figure (50 ms measured for MP3, FLAC, AAC, Opus), a
  /// video's last frame starts up to a frame period before the end.
  static let durationTolerance = 1.0

  /// Containers whose duration ffprobe already takes from the data that is there: a WAV, W64 or CAF of PCM
  /// cut to a third reports the third (ffprobe estimates it from the file's size), an Ogg file its last page,
  /// raw ADTS AAC its size. Reading every packet again would tell nothing new (and costs seconds for hours
  /// of PCM); a WAV header's own claim is read apart (`WAVHeader`).
  var durationComesFromData: Bool {
    switch formatName {
    case "wav", "w64", "caf": audioCodec?.hasPrefix("pcm_") == true && !hasVideo
    case "ogg", "aac": !hasVideo
    default: false
    }
  }

  /// This info with its durations taken from `decoded` (seconds of media that decode, from
  /// `MediaProbe.decodedDuration`) where the header says otherwise by more than `durationTolerance`: the
  /// container's and the streams' durations, and `declared` (a WAV header's data size in seconds). The header's
  /// figure is kept in `claimedDuration`. A header that agrees leaves the info as it is; an unknown duration
  /// becomes the decoded one.
  func reconciled(decoded: Double?, declared: Double? = nil) -> MediaInfo {
    guard let decoded, decoded > 0 else { return self }
    var info = self
    let claims = [duration, audioDuration, videoDuration, declared].compactMap { $0 }
    guard let claimed = claims.max() else {
      info.duration = decoded
      return info
    }
    // Truncated: the header claims more than there is. Longer than claimed (MP3 files joined with `cat` keep
    // the first one's header): the header claims less.
    let truncated = claimed - decoded > Self.durationTolerance
    let longer = decoded - claimed > Self.durationTolerance
    guard truncated || longer else { return self }
    info.claimedDuration = claimed
    info.duration = decoded
    if hasVideo {
      // decoded is where the last of the audio and the video ends: each stream ends there at the latest.
      info.audioDuration = audioDuration.map { min($0, decoded) }
      info.videoDuration = videoDuration.map { min($0, decoded) }
    } else {
      info.audioDuration = audioDuration.map { _ in decoded }
    }
    return info
  }

  /// What the client should know about this input's duration, for the result's `warnings`; nil when the header
  /// and the data agree.
  public var durationWarning: String? {
    guard let claimed = claimedDuration, let decoded = duration else { return nil }
    let what = hasVideo ? "media" : "audio"
    func seconds(_ value: Double) -> String { String(format: "%.1f s", value) }
    if decoded < claimed {
      return "input: the header says \(seconds(claimed)) but only \(seconds(decoded)) of \(what) decodes; "
        + "the file looks truncated"
    }
    return "input: the header says \(seconds(claimed)) but \(seconds(decoded)) of \(what) decodes; all of it is used"
  }
}
