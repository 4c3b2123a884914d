import Foundation

/// Short-time features of mono audio at `FrameAnalysis.sampleRate`: one `Frame` per 20 ms hop of 32 ms
/// Hann-windowed frames. What the content classifier, the talker embeddings and the loudness of sections read.
public struct FrameAnalysis: Sendable {
  /// The rate every analysis works at (ffmpeg resamples to it).
  public static let sampleRate = 16000
  /// Samples per hop (20 ms) and per frame (32 ms).
  public static let hop = 320
  public static let frameLength = 512
  /// Hops per second.
  public static let framesPerSecond = Double(sampleRate) / Double(hop)

  /// One 20 ms hop's features.
  public struct Frame: Sendable {
    /// Mean square of the frame's samples (full scale 1.0).
    public var energy: Float
    /// Energy in the 300-3400 Hz band, from the spectrum.
    public var speechBandEnergy: Float
    /// Positive spectral flux against the previous frame (log magnitudes), per bin.
    public var flux: Float
    /// The normalized autocorrelation's highest peak for periods of 2.5-14 ms (70-400 Hz): 1 for a
    /// periodic frame, near 0 for noise.
    public var harmonicity: Float
    /// The fundamental at that peak (Hz).
    public var pitch: Float
    /// Spectral centroid (Hz).
    public var centroid: Float
  }

  public let frames: [Frame]

  /// Seconds of audio analysed.
  public let duration: Double

  /// Analyses `samples` (mono, `sampleRate`).
  public init(samples: [Float]) {
    duration = Double(samples.count) / Double(Self.sampleRate)
    let fftSize = 1024
    let fft = FFT(size: fftSize)
    let window = FFT.hann(Self.frameLength)
    // The window's own autocorrelation: dividing by it makes a periodic frame's peak near 1 at any lag.
    var wre = [Float](repeating: 0, count: fftSize)
    var wim = [Float](repeating: 0, count: fftSize)
    for i in 0..<Self.frameLength { wre[i] = window[i] }
    fft.transform(&wre, &wim)
    var wpow = (0..<fftSize).map { wre[$0] * wre[$0] + wim[$0] * wim[$0] }
    var wzero = [Float](repeating: 0, count: fftSize)
    fft.transform(&wpow, &wzero)
    let windowCorrelation = wpow.map { $0 / max(wpow[0], 1e-12) }

    let binHz = Float(Self.sampleRate) / Float(fftSize)
    let speechLow = Int(300 / binHz)
    let speechHigh = Int(3400 / binHz)
    let minLag = Self.sampleRate / 400
    let maxLag = Self.sampleRate / 70
    let count = max(0, (samples.count - Self.frameLength) / Self.hop + 1)
    var frames: [Frame] = []
    frames.reserveCapacity(count)
    var previous = [Float](repeating: 0, count: fftSize / 2 + 1)
    var re = [Float](repeating: 0, count: fftSize)
    var im = [Float](repeating: 0, count: fftSize)
    samples.withUnsafeBufferPointer { x in
      for f in 0..<count {
        let start = f * Self.hop
        var energy: Float = 0
        for i in 0..<fftSize {
          if i < Self.frameLength {
            let v = x[start + i]
            energy += v * v
            re[i] = v * window[i]
          } else {
            re[i] = 0
          }
          im[i] = 0
        }
        energy /= Float(Self.frameLength)
        fft.transform(&re, &im)
        var band: Float = 0
        var total: Float = 0
        var weighted: Float = 0
        var flux: Float = 0
        for k in 0...(fftSize / 2) {
          let p = re[k] * re[k] + im[k] * im[k]
          re[k] = p
          total += p
          weighted += p * Float(k) * binHz
          if k >= speechLow && k <= speechHigh { band += p }
          let logMagnitude = log10(p + 1e-10)
          let rise = logMagnitude - previous[k]
          if rise > 0 { flux += rise }
          previous[k] = logMagnitude
        }
        // The power spectrum, mirrored, transformed again: the autocorrelation (Wiener-Khinchin).
        for k in 1..<(fftSize / 2) { re[fftSize - k] = re[k] }
        for k in 0..<fftSize { im[k] = 0 }
        let r0 = re[0]
        fft.transform(&re, &im)
        var best: Float = 0
        var bestLag = 0
        if r0 > 0 {
          let zero = re[0]
          for lag in minLag...maxLag {
            let value = re[lag] / zero / max(windowCorrelation[lag], 0.05)
            if value > best && re[lag] >= re[lag - 1] && re[lag] >= re[lag + 1] {
              best = value
              bestLag = lag
            }
          }
        }
        let scale = 1 / Float(Self.frameLength) / Float(Self.frameLength)
        frames.append(
          Frame(
            energy: energy, speechBandEnergy: band * scale, flux: flux / Float(fftSize / 2 + 1),
            harmonicity: min(best, 1), pitch: bestLag > 0 ? Float(Self.sampleRate) / Float(bestLag) : 0,
            centroid: total > 0 ? weighted / total : 0))
      }
    }
    self.frames = frames
  }
}
