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

  /// Loudness (LKFS) of each 400 ms block, every 100 ms; nil under 400 ms.
  public static func blocks(_ samples: ArraySlice<Float>, sampleRate: Int) -> [Double]? {
    var meter = Meter(sampleRate: sampleRate)
    meter.feed(samples)
    return meter.blocks.isEmpty ? nil : meter.blocks
  }

  /// Short-term loudness (3 s windows every second, EBU Tech 3342) of `samples`, for the loudness range.
  public static func shortTerm(_ samples: ArraySlice<Float>, sampleRate: Int) -> [Double] {
    var meter = Meter(sampleRate: sampleRate)
    meter.feed(samples)
    return meter.shortTerm
  }

  /// Block and short-term loudness of audio fed in pieces of any size: the K-weighting's state and the
  /// partial 100 ms steps carry from one piece to the next, so an hour read ten seconds at a time measures
  /// as one call on the whole would, in memory that does not grow with the audio (beyond the figures).
  public struct Meter: Sendable {
    /// The 400 ms blocks' loudness (LKFS), every 100 ms.
    public private(set) var blocks: [Double] = []
    /// The 3 s windows' loudness (LKFS), every second.
    public private(set) var shortTerm: [Double] = []
    let step: Int
    var filter: KWeighting
    var stepSum = 0.0
    var stepFill = 0
    /// The sums of squares of the last 30 whole steps (a 3 s window), oldest first.
    var recent: [Double] = []
    var steps = 0

    public init(sampleRate: Int) {
      step = max(1, sampleRate / 10)
      filter = KWeighting(sampleRate: sampleRate)
    }

    public mutating func feed(_ samples: ArraySlice<Float>) {
      for sample in samples {
        let z = filter.next(Double(sample))
        stepSum += z * z
        stepFill += 1
        if stepFill == step { endStep() }
      }
    }

    mutating func endStep() {
      recent.append(stepSum)
      if recent.count > 30 { recent.removeFirst() }
      steps += 1
      stepSum = 0
      stepFill = 0
      if steps >= 4 {
        let power = recent.suffix(4).reduce(0, +) / Double(4 * step)
        blocks.append(-0.691 + 10 * log10(power + 1e-15))
      }
      // A window every ten steps, once thirty are in.
      if steps >= 30 && steps % 10 == 0 {
        let power = recent.reduce(0, +) / Double(30 * step)
        shortTerm.append(-0.691 + 10 * log10(power + 1e-15))
      }
    }
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

}

/// BS.1770's K-weighting at any rate: a high shelf near 1.7 kHz, then a high pass near 38 Hz, their biquads
/// derived for the rate from the analog prototypes (as libebur128 does), run one sample at a time.
struct KWeighting: Sendable {
  let shelfB: (Double, Double, Double)
  let shelfA: (Double, Double)
  let passA: (Double, Double)
  var x1 = 0.0, x2 = 0.0, y1 = 0.0, y2 = 0.0
  var u1 = 0.0, u2 = 0.0, z1 = 0.0, z2 = 0.0

  init(sampleRate: Int) {
    let rate = Double(sampleRate)
    var f0 = 1681.974450955533
    let gain = 3.999843853973347
    var q = 0.7071752369554196
    var k = tan(Double.pi * f0 / rate)
    let vh = pow(10, gain / 20)
    let vb = pow(vh, 0.4996667741545416)
    var a0 = 1 + k / q + k * k
    shelfB = ((vh + vb * k / q + k * k) / a0, 2 * (k * k - vh) / a0, (vh - vb * k / q + k * k) / a0)
    shelfA = (2 * (k * k - 1) / a0, (1 - k / q + k * k) / a0)
    f0 = 38.13547087602444
    q = 0.5003270373238773
    k = tan(Double.pi * f0 / rate)
    a0 = 1 + k / q + k * k
    passA = (2 * (k * k - 1) / a0, (1 - k / q + k * k) / a0)
  }

  /// The next weighted sample (the high pass's numerator is 1, -2, 1).
  mutating func next(_ x: Double) -> Double {
    let y = shelfB.0 * x + shelfB.1 * x1 + shelfB.2 * x2 - shelfA.0 * y1 - shelfA.1 * y2
    (x2, x1, y2, y1) = (x1, x, y1, y)
    let z = y - 2 * u1 + u2 - passA.0 * z1 - passA.1 * z2
    (u2, u1, z2, z1) = (u1, y, z1, z)
    return z
  }
}
