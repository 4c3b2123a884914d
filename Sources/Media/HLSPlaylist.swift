import Foundation

/// The media playlist ffmpeg's hls muxer wrote, as far as Ferry reads it: the segments in order with their
/// durations. Ferry uploads exactly the segments it names, and checks each is a plain file name in the
/// work folder before anything leaves the machine.
public struct HLSPlaylist: Sendable, Equatable {
  public struct Segment: Sendable, Equatable {
    /// The URI as written, relative to the playlist (`segment-00000.ts`).
    public var uri: String
    /// `#EXTINF`, seconds.
    public var duration: Double
  }

  public var targetDuration: Int
  public var segments: [Segment]
  /// `#EXT-X-ENDLIST` is present: the playlist is complete.
  public var ended: Bool

  /// The total duration, seconds.
  public var duration: Double { segments.reduce(0) { $0 + $1.duration } }

  /// Reads a media playlist; nil when it is not one (no `#EXTM3U`, or a URI without `#EXTINF`).
  public init?(parsing text: String) {
    let lines = text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
    guard lines.first == "#EXTM3U" else { return nil }
    targetDuration = 0
    segments = []
    ended = false
    var pending: Double?
    for line in lines.dropFirst() where !line.isEmpty {
      if line.hasPrefix("#EXT-X-TARGETDURATION:") {
        targetDuration = Int(line.dropFirst("#EXT-X-TARGETDURATION:".count)) ?? 0
      } else if line.hasPrefix("#EXTINF:") {
        let value = line.dropFirst("#EXTINF:".count).split(separator: ",", omittingEmptySubsequences: false)[0]
        guard let seconds = Double(value), seconds.isFinite, seconds >= 0 else { return nil }
        pending = seconds
      } else if line == "#EXT-X-ENDLIST" {
        ended = true
      } else if !line.hasPrefix("#") {
        guard let duration = pending else { return nil }
        segments.append(Segment(uri: line, duration: duration))
        pending = nil
      }
    }
  }

  /// The peak segment bit rate as RFC 8216 defines it for `BANDWIDTH`: the largest rate of any run of
  /// consecutive segments lasting 0.5 to 1.5 target durations (the whole stream when it is shorter); `sizes`
  /// are the segments' byte counts, in order.
  public func peakBitRate(sizes: [Int]) -> Int {
    let window = (0.5 * Double(targetDuration))...(1.5 * Double(max(targetDuration, 1)))
    var peak = 0.0
    for start in segments.indices {
      var (seconds, bytes) = (0.0, 0)
      for index in start..<segments.count {
        seconds += segments[index].duration
        bytes += index < sizes.count ? sizes[index] : 0
        if seconds > window.upperBound { break }
        if seconds > 0, window.contains(seconds) { peak = max(peak, Double(bytes * 8) / seconds) }
      }
    }
    if peak == 0, duration > 0 { peak = Double(sizes.reduce(0, +) * 8) / duration }
    return Int(peak.rounded(.up))
  }

  /// ffmpeg's master playlist with `BANDWIDTH` set to the measured peak and `AVERAGE-BANDWIDTH` added:
  /// ffmpeg writes the encoders' nominal rates there, which for x264 at a CRF is none at all.
  public static func master(_ text: String, peak: Int, average: Int) -> String {
    text.split(separator: "\n", omittingEmptySubsequences: false).map { line -> String in
      guard line.hasPrefix("#EXT-X-STREAM-INF:") else { return String(line) }
      let attributes = line.dropFirst("#EXT-X-STREAM-INF:".count).split(separator: ",", omittingEmptySubsequences: true)
      var kept: [String] = ["BANDWIDTH=\(peak)", "AVERAGE-BANDWIDTH=\(average)"]
      // CODECS holds commas inside its quotes: rejoin what the split broke apart.
      var inQuotes = false
      for part in attributes {
        if inQuotes {
          kept[kept.count - 1] += "," + part
        } else if !part.hasPrefix("BANDWIDTH=") && !part.hasPrefix("AVERAGE-BANDWIDTH=") {
          kept.append(String(part))
        } else {
          continue
        }
        if part.filter({ $0 == "\"" }).count % 2 == 1 { inQuotes.toggle() }
      }
      return "#EXT-X-STREAM-INF:" + kept.joined(separator: ",")
    }.joined(separator: "\n")
  }
}
