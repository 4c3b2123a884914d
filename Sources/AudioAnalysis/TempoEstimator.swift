import CAubio
import Foundation

/// The tempo of music: aubio's onset detection function (Debian's libaubio: a phase vocoder and spectral
/// flux, every 8 ms) and its autocorrelation, read through a comb: a period scores its own peak plus those at
/// two, three and four periods (halved, thirded, quartered: a metre's pulse recurs at its multiples, Scheirer
/// 1998, Klapuri 2006), weighted by a log-Gaussian tempo preference centred on 120 BPM (listeners' preferred
/// tempo, Moelants 2002; Ellis 2007 weighs the same way). The winning period is refined from the peaks at two,
/// three and four periods.
public enum TempoEstimator {
  /// Tempos searched (BPM).
  public static let range: ClosedRange<Double> = 40...240
  /// Width of the tempo preference, in octaves.
  static let preferenceWidth = 1.0
  /// The fastest tempo taken as the beat when a pulse at half the preferred period is found (BPM): above
  /// about 200 BPM (300 ms) listeners tap every other pulse (London 2004, Moelants 2002).
  static let tactusLimit = 200.0
  /// How strong the skipped pulses must be, against the kept ones, for the half period to be the beat.
  static let halfPulseShare = 0.5

  /// Beats per minute of `samples` (mono at `sampleRate`) and the preferred peak's share of the weighted
  /// autocorrelation's energy as a confidence (0-1); nil for under 4 s or no onsets.
  public static func estimate(_ samples: ArraySlice<Float>, sampleRate: Int) -> (bpm: Double, confidence: Double)? {
    let hop = 128
    guard samples.count >= 4 * sampleRate, let odf = onsetFunction(samples, sampleRate: sampleRate, hop: hop) else {
      return nil
    }
    let rate = Double(sampleRate) / Double(hop)
    let mean = odf.reduce(0, +) / Double(odf.count)
    let x = odf.map { $0 - mean }
    let minLag = Int(rate * 60 / range.upperBound)
    let maxLag = min(x.count / 2, Int(rate * 60 / range.lowerBound) + 1)
    guard maxLag > minLag + 2 else { return nil }
    // Autocorrelation up to four times the longest period (for the refinement), normalised by overlap.
    let longest = min(x.count - 1, 4 * maxLag + 4)
    var ac = [Double](repeating: 0, count: longest + 1)
    x.withUnsafeBufferPointer { p in
      for lag in 0...longest {
        var sum = 0.0
        for i in 0..<(p.count - lag) { sum += p[i] * p[i + lag] }
        ac[lag] = sum / Double(p.count - lag)
      }
    }
    guard ac[0] > 0 else { return nil }
    var best = (lag: 0, score: -Double.infinity)
    var total = 0.0
    for lag in minLag...maxLag where ac[lag] > 0 {
      let bpm = 60 * rate / Double(lag)
      let weight = exp(-0.5 * pow(log2(bpm / 120) / preferenceWidth, 2))
      var comb = 0.0
      for k in 1...4 where k * lag + 1 < ac.count {
        // The multiple's peak may fall a sample either side.
        comb += max(ac[k * lag - 1], ac[k * lag], ac[k * lag + 1]) / Double(k)
      }
      let score = max(0, comb) * weight
      total += score
      if ac[lag] >= ac[lag - 1] && ac[lag] >= ac[lag + 1] && score > best.score { best = (lag, score) }
    }
    guard best.lag > 0 else { return nil }
    var period = interpolatedPeak(ac, near: Double(best.lag))
    // The metrical level, from evidence: the preference and the comb lean to the slower of two levels (every
    // multiple of the slow period is also one of the fast), so a groove whose kick and snare alternate reads
    // at half tempo. When the odd multiples of the half period (the pulses the slow level skips) carry at
    // least half the autocorrelation of its even multiples, every half period holds an onset of like
    // strength: that pulse is the beat, if it stays a tappable beat (at most `tactusLimit`).
    if 60 * rate / (period / 2) <= tactusLimit, Int(1.5 * period) + 2 < ac.count {
      let odd = peakHeight(ac, near: period / 2) + peakHeight(ac, near: 1.5 * period)
      let even = peakHeight(ac, near: period) + peakHeight(ac, near: 2 * period)
      if even > 0, odd >= halfPulseShare * even { period = interpolatedPeak(ac, near: period / 2) }
    }
    // The period from the peak near k periods, interpolated, for the largest k that fits: k times finer.
    for k in 2...4 {
      let guess = period * Double(k)
      guard Int(guess) + 2 < ac.count else { break }
      period = interpolatedPeak(ac, near: guess) / Double(k)
    }
    return (60 * rate / period, min(1, best.score / max(total, 1e-12) * 10))
  }

  /// The highest autocorrelation within a sample of `near` (not below zero).
  static func peakHeight(_ ac: [Double], near: Double) -> Double {
    let centre = Int(near.rounded())
    return max(0, (max(1, centre - 1)...min(ac.count - 1, centre + 1)).map { ac[$0] }.max() ?? 0)
  }

  /// The parabolic-interpolated position of the autocorrelation's highest point within one sample of `near`.
  static func interpolatedPeak(_ ac: [Double], near: Double) -> Double {
    let centre = Int(near.rounded())
    var at = centre
    for lag in max(1, centre - 2)...min(ac.count - 2, centre + 2) where ac[lag] > ac[at] { at = lag }
    let (a, b, c) = (ac[at - 1], ac[at], ac[at + 1])
    let denominator = a - 2 * b + c
    return Double(at) + (denominator < 0 ? 0.5 * (a - c) / denominator : 0)
  }

  /// aubio's spectral-flux onset detection function, one value per `hop` samples.
  static func onsetFunction(_ samples: ArraySlice<Float>, sampleRate: Int, hop: Int) -> [Double]? {
    let window: UInt32 = 1024
    guard let pvoc = new_aubio_pvoc(window, UInt32(hop)) else { return nil }
    defer { del_aubio_pvoc(pvoc) }
    guard let flux = new_aubio_specdesc("specflux", window) else { return nil }
    defer { del_aubio_specdesc(flux) }
    guard let input = new_fvec(UInt32(hop)), let output = new_fvec(1), let grain = new_cvec(window) else {
      return nil
    }
    defer {
      del_fvec(input)
      del_fvec(output)
      del_cvec(grain)
    }
    let data = fvec_get_data(input)!
    var values: [Double] = []
    values.reserveCapacity(samples.count / hop)
    var index = samples.startIndex
    while index + hop <= samples.endIndex {
      for i in 0..<hop { data[i] = samples[index + i] }
      aubio_pvoc_do(pvoc, input, grain)
      aubio_specdesc_do(flux, grain, output)
      values.append(Double(fvec_get_data(output)![0]))
      index += hop
    }
    return values.isEmpty ? nil : values
  }
}
