import JSON
import Jobs
import Locations
import Problems

/// The input's optional `region` (`{"start", "end"}` in seconds): the part of the media to process.
public struct MediaRegion: Sendable, Equatable, Codable {
  public var start: Double
  public var end: Double?

  public init(start: Double, end: Double?) {
    self.start = start
    self.end = end
  }

  /// The region of `request.input`, or nil when it names none.
  init?(_ request: JSONValue) throws(InvalidRequest) {
    guard case .object(let input)? = request.object?["input"], let region = input["region"], region != .null else {
      return nil
    }
    guard case .object(let fields) = region else { throw InvalidRequest("input.region", "must be an object") }
    let start = fields["start"]?.number ?? 0
    let end = fields["end"]?.number
    guard start >= 0, start.isFinite, end.map({ $0 > start && $0.isFinite }) ?? true else {
      throw InvalidRequest("input.region", "needs 0 <= start < end (seconds)")
    }
    self.init(start: start, end: end)
  }
}

extension MediaRegion {
  /// The part of the input an analysis reads, in seconds: `region` (all when nil) within the media's duration.
  /// Throws when the duration cannot be read or under half a second is left.
  static func analyzed(_ region: MediaRegion?, of info: MediaInfo) throws(JobFailure) -> (start: Double, end: Double) {
    guard let total = info.duration ?? info.audioDuration, total > 0 else {
      throw JobFailure(.unsupportedMedia, "input: the media's duration cannot be read")
    }
    let start = min(region?.start ?? 0, total)
    let end = min(region?.end ?? total, total)
    guard end - start >= 0.5 else {
      throw JobFailure(.unsupportedMedia, "input: under half a second of media to analyze")
    }
    return (start, end)
  }
}
