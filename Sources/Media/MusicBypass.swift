import Foundation

/// Enhance's `music.detection`: how much of the processed signal each sample takes (1 outside music, 0 inside
/// the classifier's music sections), the rest from the same sample untouched. The change is a linear crossfade
/// of `fade` seconds inside each section's edges, so the speech either side is processed in full. Read with
/// times that only move forward (a cursor, not a search per sample).
struct MusicBypass {
  /// The music sections, seconds of the input's time, in order and apart.
  let sections: [ClosedRange<Double>]
  /// The crossfade at each edge, seconds (at most half the section).
  static let fade = 0.25
  private var cursor = 0

  init(_ sections: [ClosedRange<Double>]) {
    self.sections = sections.sorted { $0.lowerBound < $1.lowerBound }
  }

  /// The processed signal's share at time `t` (seconds).
  mutating func processedShare(at t: Double) -> Float {
    while cursor < sections.count && sections[cursor].upperBound <= t { cursor += 1 }
    guard cursor < sections.count else { return 1 }
    let section = sections[cursor]
    guard t > section.lowerBound else { return 1 }
    let fade = min(Self.fade, (section.upperBound - section.lowerBound) / 2)
    let into = min(t - section.lowerBound, section.upperBound - t)
    return fade > 0 ? Float(max(0, 1 - into / fade)) : 0
  }
}
