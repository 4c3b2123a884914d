import Foundation

/// ITU-R BS.1770-4 loudness of mono audio at any rate: the K-weighting's two biquads derived for the rate
/// from their analog prototypes (as libebur128 does), 400 ms blocks overlapping by 75%, the absolute gate at
/// -70 LKFS and the relative gate 10 LU under. Ferry measures sections on the mono downmix it analyses:
/// for a stereo programme BS.1770 sums the channels' powers, so identical channels read 3 dB louder there.
public enum SectionLoudness {
  /// Integrated loudness (LKFS) of `samples`; nil under 400 ms or when every block is under the gate.
  public static func integrated(_ samples: ArraySlice<Float>, sampleRate: Int) -> Double? {
    blocks(samples, sampleRate: sampleRate).flatMap { gated($0) }
  }

  /// Loudness (LKFS) of each 400 ms block, every 100 ms.
  public static func blocks(_ samples: ArraySlice<Float>, sampleRate: Int) -> [Double]? {
    let weighted = kWeighted(samples, sampleRate: sampleRate)
    let block = sampleRate * 4 / 10
    let step = sampleRate / 10
    guard weighted.count >= block else { return nil }
    var squares = [Double](repeating: 0, count: weighted.count + 1)
    for (i, v) in weighted.enumerated() { squares[i + 1] = squares[i] + v * v }
    var out: [Double] = []
    var start = 0
    while start + block <= weighted.count {
      let power = (squares[start + block] - squares[start]) / Double(block)
      out.append(-0.691 + 10 * log10(power + 1e-15))
      start += step
    }
    return out
  }

  /// Short-term loudness (3 s windows every second, EBU Tech 3342) of `samples`, for the loudness range.
  public static func shortTerm(_ samples: ArraySlice<Float>, sampleRate: Int) -> [Double] {
    let weighted = kWeighted(samples, sampleRate: sampleRate)
    let window = 3 * sampleRate
    var out: [Double] = []
    var start = 0
    while start + window <= weighted.count {
      let power = weighted[start..<(start + window)].reduce(0) { $0 + $1 * $1 } / Double(window)
      out.append(-0.691 + 10 * log10(power + 1e-15))
      start += sampleRate
    }
    return out
  }

  /// EBU Tech 3342's loudness range of short-term values: gated at -70 LUFS and 20 LU under their mean, the
  /// spread from the 10th to the 95th percentile; nil with fewer than two values past the gates.
  public static func range(_ shortTerm: [Double]) -> Double? {
    let absolute = shortTerm.filter { $0 > -70 }
    guard !absolute.isEmpty else { return nil }
    let mean = 10 * log10(absolute.reduce(0) { $0 + pow(10, $1 / 10) } / Double(absolute.count))
    let kept = absolute.filter { $0 > mean - 20 }.sorted()
    guard kept.count >= 2 else { return nil }
    func percentile(_ p: Double) -> Double {
      let position = p * Double(kept.count - 1)
      let low = Int(position.rounded(.down))
      let high = min(kept.count - 1, low + 1)
      return kept[low] + (kept[high] - kept[low]) * (position - Double(low))
    }
    return percentile(0.95) - percentile(0.10)
  }

  /// BS.1770's two gates over block loudnesses.
  public static func gated(_ blocks: [Double]) -> Double? {
    func mean(_ values: [Double]) -> Double {
      -0.691 + 10 * log10(values.reduce(0) { $0 + pow(10, ($1 + 0.691) / 10) } / Double(values.count))
    }
    let absolute = blocks.filter { $0 > -70 }
    guard !absolute.isEmpty else { return nil }
    let threshold = mean(absolute) - 10
    let relative = absolute.filter { $0 > threshold }
    return relative.isEmpty ? nil : mean(relative)
  }

  /// `samples` through the K-weighting (a high shelf near 1.7 kHz, then a high pass near 38 Hz).
  static func kWeighted(_ samples: ArraySlice<Float>, sampleRate: Int) -> [Double] {
    let rate = Double(sampleRate)
    var f0 = 1681.974450955533
    let gain = 3.999843853973347
    var q = 0.7071752369554196
    var k = tan(Double.pi * f0 / rate)
    let vh = pow(10, gain / 20)
    let vb = pow(vh, 0.4996667741545416)
    var a0 = 1 + k / q + k * k
    let shelfB = [(vh + vb * k / q + k * k) / a0, 2 * (k * k - vh) / a0, (vh - vb * k / q + k * k) / a0]
    let shelfA = [2 * (k * k - 1) / a0, (1 - k / q + k * k) / a0]
    f0 = 38.13547087602444
    q = 0.5003270373238773
    k = tan(Double.pi * f0 / rate)
    a0 = 1 + k / q + k * k
    let passB = [1.0, -2.0, 1.0]
    let passA = [2 * (k * k - 1) / a0, (1 - k / q + k * k) / a0]
    var out = [Double](repeating: 0, count: samples.count)
    var (x1, x2, y1, y2) = (0.0, 0.0, 0.0, 0.0)
    var (u1, u2, z1, z2) = (0.0, 0.0, 0.0, 0.0)
    for (i, sample) in samples.enumerated() {
      let x = Double(sample)
      let y = shelfB[0] * x + shelfB[1] * x1 + shelfB[2] * x2 - shelfA[0] * y1 - shelfA[1] * y2
      (x2, x1, y2, y1) = (x1, x, y1, y)
      let z = passB[0] * y + passB[1] * u1 + passB[2] * u2 - passA[0] * z1 - passA[1] * z2
      (u2, u1, z2, z1) = (u1, y, z1, z)
      out[i] = z
    }
    return out
  }
}
