import Foundation

/// ITU-R BS.1770 and EBU Tech 3342 arithmetic on loudness series, so a long file can be measured in parallel
/// pieces and the pieces' series combined exactly.
public enum LoudnessMath {
  /// Integrated loudness (LUFS) from momentary loudness values, one per 400 ms block at a 100 ms hop (the
  /// standard's gating blocks): blocks under -70 LUFS are dropped, then (unless `relativeGate` is false, as
  /// in BS.1770-1) blocks more than 10 LU under the mean of the rest. -70 when nothing passes.
  public static func integrated(_ momentary: [Double], relativeGate: Bool = true) -> Double {
    let absolute = momentary.filter { $0 > -70 }
    guard !absolute.isEmpty else { return -70 }
    guard relativeGate else { return loudness(meanPower(absolute)) }
    let threshold = loudness(meanPower(absolute)) - 10
    let gated = absolute.filter { $0 > threshold }
    return gated.isEmpty ? -70 : loudness(meanPower(gated))
  }

  /// Loudness range (LU) from short-term loudness values (3 s windows): absolute gate -70 LUFS, relative
  /// gate 20 LU under their power mean, then the spread from the 10th to the 95th percentile.
  public static func range(_ shortTerm: [Double]) -> Double {
    let absolute = shortTerm.filter { $0 > -70 }
    guard !absolute.isEmpty else { return 0 }
    let threshold = loudness(meanPower(absolute)) - 20
    let gated = absolute.filter { $0 > threshold }.sorted()
    guard gated.count > 1 else { return 0 }
    return percentile(gated, 0.95) - percentile(gated, 0.10)
  }

  /// The `p` quantile (0...1) of sorted values, interpolated linearly.
  public static func percentile(_ sorted: [Double], _ p: Double) -> Double {
    guard !sorted.isEmpty else { return .nan }
    let position = p * Double(sorted.count - 1)
    let low = Int(position.rounded(.down))
    let high = min(low + 1, sorted.count - 1)
    return sorted[low] + (sorted[high] - sorted[low]) * (position - Double(low))
  }

  /// The mean of loudness values taken as powers.
  static func meanPower(_ values: [Double]) -> Double {
    values.reduce(0) { $0 + pow(10, ($1 + 0.691) / 10) } / Double(values.count)
  }

  static func loudness(_ power: Double) -> Double { -0.691 + 10 * log10(power) }
}
