import Foundation

/// The key of music from its chroma (the spectrum's energy folded onto the twelve pitch classes) correlated
/// with the Krumhansl-Kessler key profiles of each of the 24 major and minor keys.
public enum KeyEstimator {
  /// Pitch classes as the result spells them.
  public static let pitchNames = ["C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B"]
  // Krumhansl and Kessler's probe-tone ratings (1982), tonic first.
  static let major: [Double] = [6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88]
  static let minor: [Double] = [6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17]

  /// A key: tonic pitch class and mode.
  public struct Key: Sendable, Equatable, CustomStringConvertible {
    public var tonic: Int
    public var minor: Bool
    public init(tonic: Int, minor: Bool) {
      self.tonic = tonic
      self.minor = minor
    }
    public var description: String { "\(KeyEstimator.pitchNames[tonic]) \(minor ? "minor" : "major")" }
  }

  /// The chroma of `samples` (mono at `sampleRate`): 4096-sample Hann frames every 2048, bins from 55 Hz to
  /// 2 kHz folded onto pitch classes by their nearest equal-tempered pitch, log-compressed magnitudes.
  public static func chroma(_ samples: ArraySlice<Float>, sampleRate: Int) -> [Double] {
    let size = 4096
    let fft = FFT(size: size)
    let window = FFT.hann(size)
    let binHz = Double(sampleRate) / Double(size)
    var classes = [Int](repeating: -1, count: size / 2 + 1)
    for k in 1...(size / 2) {
      let f = Double(k) * binHz
      guard f >= 55 && f <= 2000 else { continue }
      let midi = Int((12 * log2(f / 440) + 69).rounded())
      classes[k] = ((midi % 12) + 12) % 12
    }
    var chroma = [Double](repeating: 0, count: 12)
    var start = samples.startIndex
    while start + size <= samples.endIndex {
      let power = fft.powerSpectrum(samples[start..<(start + size)], window: window)
      var frame = [Double](repeating: 0, count: 12)
      for (k, c) in classes.enumerated() where c >= 0 { frame[c] += Double(power[k]).squareRoot() }
      let total = frame.reduce(0, +)
      if total > 0 { for c in 0..<12 { chroma[c] += log(1 + 100 * frame[c] / total) } }
      start += size / 2
    }
    return chroma
  }

  /// The best-correlated key of `chroma` and its correlation (-1 ... 1); nil for an empty chroma.
  public static func key(chroma: [Double]) -> (key: Key, correlation: Double)? {
    guard chroma.reduce(0, +) > 0 else { return nil }
    var best: (Key, Double)?
    for tonic in 0..<12 {
      for isMinor in [false, true] {
        let profile = isMinor ? minor : major
        let rotated = (0..<12).map { profile[(($0 - tonic) % 12 + 12) % 12] }
        let r = correlation(chroma, rotated)
        if best == nil || r > best!.1 { best = (Key(tonic: tonic, minor: isMinor), r) }
      }
    }
    return best
  }

  static func correlation(_ a: [Double], _ b: [Double]) -> Double {
    let ma = a.reduce(0, +) / Double(a.count)
    let mb = b.reduce(0, +) / Double(b.count)
    var num = 0.0
    var da = 0.0
    var db = 0.0
    for i in 0..<a.count {
      num += (a[i] - ma) * (b[i] - mb)
      da += (a[i] - ma) * (a[i] - ma)
      db += (b[i] - mb) * (b[i] - mb)
    }
    return da > 0 && db > 0 ? num / (da * db).squareRoot() : 0
  }
}
