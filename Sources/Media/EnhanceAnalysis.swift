import Foundation

/// What enhance measures in the input before it cleans it: the noise floor (for `afftdn` when the neural
/// denoiser is not there) and mains hum (whether there is any, 50 or 60 Hz, and which harmonics stand out),
/// from one streamed pass over a mono 48 kHz decode. Memory is bounded: a level histogram and a fixed number
/// of one-second spectra.
public struct EnhanceAnalysis: Sendable, Equatable {
  /// The level of the quietest 10% of 20 ms frames, dBFS (RMS); -inf for digital silence.
  public var quietLevel: Double
  /// The level of the loudest 10% of 20 ms frames, dBFS (RMS): the speech level; -inf for silence.
  public var loudLevel: Double
  /// The mains frequency found (50 or 60), or nil when there is no hum.
  public var humFundamental: Double?
  /// The harmonics (1 = the fundamental) that stand out of their neighbourhood, in order.
  public var humHarmonics: [Int]

  /// The `afftdn` noise floor for this input: the quietest 10% of frames plus 20 dB (measured on noisy
  /// speech: far better than a fixed -40 dBFS), within the filter's -80...-20.
  public var noiseFloor: Double {
    guard quietLevel.isFinite else { return -80 }
    return min(max(quietLevel + 20, -80), -20)
  }

  /// Hum harmonics considered (20 × 60 Hz = 1.2 kHz).
  public static let harmonics = 20
  /// A harmonic stands out when its line has this many times its neighbours' mean power (6 dB).
  static let lineRatio = 4.0
  /// Spectra taken (half a second each), spread over the input.
  static let maxBlocks = 240
  /// Samples per spectrum at 8 kHz (2 Hz bins: the ±4 Hz neighbours are two bins off the line).
  static let blockLength = 4000

  /// Streams samples through the measurement, a block at a time.
  final class Accumulator {
    // Level histogram of 20 ms frames in 0.5 dB steps from -160 dBFS.
    var histogram = [Int](repeating: 0, count: 340)
    var silentFrames = 0
    var frameSum = 0.0
    var frameCount = 0
    // Boxcar-decimated to 8 kHz for the hum spectra.
    var decimated = [Float]()
    var decimateSum: Float = 0
    var decimateCount = 0
    var blockIndex = 0
    let blockStride: Int
    let frequencies: [Double]
    /// Per spectrum taken: its energy, and the power at each frequency.
    var spectra: [(energy: Double, power: [Double])] = []

    init(expectedSeconds: Double) {
      blockStride = max(1, Int((expectedSeconds * 2 / Double(EnhanceAnalysis.maxBlocks)).rounded(.up)))
      var list: [Double] = []
      for f0 in [50.0, 60.0] {
        for k in 1...EnhanceAnalysis.harmonics {
          let f = f0 * Double(k)
          list += [f, f - 4, f + 4]
        }
      }
      frequencies = list
      decimated.reserveCapacity(EnhanceAnalysis.blockLength)
    }

    func feed(_ samples: [Float]) {
      for sample in samples {
        frameSum += Double(sample) * Double(sample)
        frameCount += 1
        if frameCount == 960 { closeFrame() }
        decimateSum += sample
        decimateCount += 1
        if decimateCount == 6 {
          decimated.append(decimateSum / 6)
          decimateSum = 0
          decimateCount = 0
          if decimated.count == EnhanceAnalysis.blockLength { closeBlock() }
        }
      }
    }

    private func closeFrame() {
      let meanSquare = frameSum / Double(frameCount)
      frameSum = 0
      frameCount = 0
      guard meanSquare > 1e-16 else {
        silentFrames += 1
        return
      }
      let level = 10 * log10(meanSquare)
      histogram[min(histogram.count - 1, max(0, Int((level + 160) * 2)))] += 1
    }

    private func closeBlock() {
      defer {
        decimated.removeAll(keepingCapacity: true)
        blockIndex += 1
      }
      guard blockIndex % blockStride == 0, spectra.count < EnhanceAnalysis.maxBlocks * 2 else { return }
      // Goertzel at each frequency over the half-second block.
      var power = [Double](repeating: 0, count: frequencies.count)
      for (index, frequency) in frequencies.enumerated() {
        let coefficient = 2 * cos(2 * Double.pi * frequency / 8000)
        var s1 = 0.0
        var s2 = 0.0
        for x in decimated {
          let s0 = Double(x) + coefficient * s1 - s2
          s2 = s1
          s1 = s0
        }
        power[index] = s1 * s1 + s2 * s2 - coefficient * s1 * s2
      }
      spectra.append((decimated.reduce(0.0) { $0 + Double($1) * Double($1) }, power))
    }

    func result() -> EnhanceAnalysis {
      let frames = histogram.reduce(0, +) + silentFrames
      var quiet = -Double.infinity
      var loud = -Double.infinity
      if frames > 0 {
        let loudest = max(1, frames / 10)
        var seen = 0
        for (bin, count) in histogram.enumerated().reversed() {
          seen += count
          if seen >= loudest {
            loud = Double(bin) / 2 - 160
            break
          }
        }
        let wanted = max(1, frames / 10)
        if silentFrames < wanted {
          var seen = silentFrames
          for (bin, count) in histogram.enumerated() {
            seen += count
            if seen >= wanted {
              quiet = Double(bin) / 2 - 160
              break
            }
          }
        }
      }
      // Hum is steady and speech is not: judge each line in the third of the spectra where its band (the line
      // and its neighbours together, so the choice favours neither) is quietest: the pauses, for that band.
      let kept = max(1, spectra.count / 3)
      var power = [Double](repeating: 0, count: frequencies.count)
      for base in stride(from: 0, to: frequencies.count, by: 3) {
        func band(_ p: [Double]) -> Double { p[base] + p[base + 1] + p[base + 2] }
        let quiet = spectra.sorted { band($0.power) < band($1.power) }
        for spectrum in quiet.prefix(kept) {
          for index in base..<(base + 3) { power[index] += spectrum.power[index] }
        }
      }
      var best: (f0: Double, harmonics: [Int], distinct: Int)?
      for (candidate, f0) in [50.0, 60.0].enumerated() {
        // Hum is a series from the fundamental up: a harmonic counts when it stands out and one of the three
        // below it counted (k <= 3 start the series), so a lone steady tone high up is not taken for hum.
        var present: [Int] = []
        var distinct = 0
        var strong = false
        for k in 1...EnhanceAnalysis.harmonics {
          let base = (candidate * EnhanceAnalysis.harmonics + (k - 1)) * 3
          let line = power[base]
          let neighbours = (power[base + 1] + power[base + 2]) / 2
          // A line of at least -100 dBFS (Goertzel power of amplitude a over n samples is (a n / 2)^2).
          let amplitude = 2 * (line / Double(kept)).squareRoot() / Double(EnhanceAnalysis.blockLength)
          guard amplitude >= 1e-5, line >= EnhanceAnalysis.lineRatio * neighbours else { continue }
          guard k <= 3 || present.contains(where: { $0 >= k - 3 }) else { continue }
          present.append(k)
          if line >= 100 * neighbours { strong = true }
          // Multiples of 300 Hz are harmonics of both: they tell nothing about which mains it is.
          if Int(f0) * k % 300 != 0 { distinct += 1 }
        }
        guard distinct >= 2 || (strong && distinct >= 1) else { continue }
        // Once it is hum, every harmonic up to the highest found is notched: under speech a weak one may not
        // stand out of its neighbourhood, and a 3 Hz notch costs the speech nothing.
        let series = Array(1...(present.max() ?? 1))
        if distinct > best?.distinct ?? 0 { best = (f0, series, distinct) }
      }
      return EnhanceAnalysis(
        quietLevel: quiet, loudLevel: loud, humFundamental: best?.f0, humHarmonics: best?.harmonics ?? [])
    }
  }
}
