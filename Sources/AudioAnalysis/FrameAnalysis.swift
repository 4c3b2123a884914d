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
    /// The pitch class (0 = C) with the most energy between 250 Hz and 2 kHz, and its share of that energy.
    public var pitchClass: UInt8
    public var pitchClassShare: Float
  }

  public let frames: [Frame]

  /// Seconds of audio analysed.
  public let duration: Double

  /// Analyses `samples` (mono, `sampleRate`).
  public init(samples: [Float]) {
    var computer = FrameComputer()
    var frames: [Frame] = []
    let count = max(0, (samples.count - Self.frameLength) / Self.hop + 1)
    frames.reserveCapacity(count)
    samples.withUnsafeBufferPointer { x in computer.frames(x, count: count, into: &frames) }
    self.frames = frames
    duration = Double(samples.count) / Double(Self.sampleRate)
  }

  /// Analyses the raw little-endian float samples (mono, `sampleRate`) of the file at `path`, read ten seconds
  /// at a time: hours of audio never sit in memory, only their frames (24 bytes per 20 ms). Nil when unreadable.
  public init?(file path: String) {
    guard let handle = FileHandle(forReadingAtPath: path) else { return nil }
    defer { try? handle.close() }
    var computer = FrameComputer()
    var frames: [Frame] = []
    // Sized once from the file: grown by doubling, six hours' frames (35 MB) would have been copied into a
    // buffer twice their size, both alive for the copy.
    if let size = try? handle.seekToEnd(), (try? handle.seek(toOffset: 0)) != nil {
      frames.reserveCapacity(max(0, (Int(size) / 4 - Self.frameLength) / Self.hop + 1))
    }
    var buffer: [Float] = []
    var consumed = 0
    let chunk = 10 * Self.sampleRate
    buffer.reserveCapacity(chunk + Self.frameLength)
    while true {
      let data = handle.readData(ofLength: chunk * 4)
      data.withUnsafeBytes { buffer.append(contentsOf: $0.bindMemory(to: Float.self)) }
      consumed += data.count / 4
      let available = max(0, (buffer.count - Self.frameLength) / Self.hop + 1)
      buffer.withUnsafeBufferPointer { x in computer.frames(x, count: available, into: &frames) }
      buffer.removeFirst(min(buffer.count, available * Self.hop))
      if data.count < chunk * 4 { break }
    }
    self.frames = frames
    duration = Double(consumed) / Double(Self.sampleRate)
  }

  /// Seconds from the start of the analysed audio to the middle of frame `index`.
  public static func time(ofFrame index: Int) -> Double {
    (Double(index * hop) + Double(frameLength) / 2) / Double(sampleRate)
  }
}

/// The per-frame work of `FrameAnalysis`, with the state one frame hands the next (the previous spectrum).
struct FrameComputer {
  let fftSize = 1024
  let fft: FFT
  let window: [Float]
  let windowCorrelation: [Float]
  var previous: [Float]
  var re: [Float]
  var im: [Float]
  let binHz: Float
  let speechLow: Int
  let speechHigh: Int
  /// Each bin's pitch class between 250 Hz and 2 kHz, -1 elsewhere.
  let pitchClasses: [Int]
  let minLag = FrameAnalysis.sampleRate / 400
  let maxLag = FrameAnalysis.sampleRate / 70

  init() {
    fft = FFT(size: fftSize)
    window = FFT.hann(FrameAnalysis.frameLength)
    // The window's own autocorrelation: dividing by it makes a periodic frame's peak near 1 at any lag.
    var wre = [Float](repeating: 0, count: fftSize)
    var wim = [Float](repeating: 0, count: fftSize)
    for i in 0..<FrameAnalysis.frameLength { wre[i] = window[i] }
    fft.transform(&wre, &wim)
    var wpow = (0..<fftSize).map { wre[$0] * wre[$0] + wim[$0] * wim[$0] }
    var wzero = [Float](repeating: 0, count: fftSize)
    fft.transform(&wpow, &wzero)
    let zero = max(wpow[0], 1e-12)
    windowCorrelation = wpow.map { $0 / zero }
    previous = [Float](repeating: 0, count: fftSize / 2 + 1)
    re = [Float](repeating: 0, count: fftSize)
    im = [Float](repeating: 0, count: fftSize)
    binHz = Float(FrameAnalysis.sampleRate) / Float(fftSize)
    speechLow = Int(300 / binHz)
    speechHigh = Int(3400 / binHz)
    let hz = Double(binHz)
    pitchClasses = (0...(fftSize / 2)).map { k in
      let f = Double(k) * hz
      guard f >= 250 && f <= 2000 else { return -1 }
      return ((Int((12 * log2(f / 440) + 69).rounded()) % 12) + 12) % 12
    }
  }

  /// Spectra of two frames (bins 0 ... fftSize/2), written by `frames`.
  var powerA: [Float] = []
  var powerB: [Float] = []

  /// The first `count` frames of `x` (one per hop), appended to `frames`. Frames go through the FFT in pairs:
  /// two real frames as one complex signal, and their two autocorrelations (real, even) the same way, which
  /// halves the transforms.
  mutating func frames(_ x: UnsafeBufferPointer<Float>, count: Int, into frames: inout [FrameAnalysis.Frame]) {
    var f = 0
    while f < count {
      let pair = f + 1 < count
      let (a, b) = framePair(x, at: f * FrameAnalysis.hop, and: pair ? (f + 1) * FrameAnalysis.hop : nil)
      frames.append(a)
      if let b { frames.append(b) }
      f += pair ? 2 : 1
    }
  }

  /// The frames of `x` starting at `start` and (if given) `second`, in that order.
  mutating func framePair(_ x: UnsafeBufferPointer<Float>, at start: Int, and second: Int?)
    -> (FrameAnalysis.Frame, FrameAnalysis.Frame?)
  {
    let frameLength = FrameAnalysis.frameLength
    let half = fftSize / 2
    if powerA.isEmpty {
      powerA = [Float](repeating: 0, count: half + 1)
      powerB = [Float](repeating: 0, count: half + 1)
    }
    var energyA: Float = 0
    var energyB: Float = 0
    for i in 0..<fftSize {
      if i < frameLength {
        let v = x[start + i]
        energyA += v * v
        re[i] = v * window[i]
        if let second {
          let w = x[second + i]
          energyB += w * w
          im[i] = w * window[i]
        } else {
          im[i] = 0
        }
      } else {
        re[i] = 0
        im[i] = 0
      }
    }
    fft.transform(&re, &im)
    // Z = A + iB: A[k] = (Z[k] + conj Z[N-k]) / 2, B[k] = (Z[k] - conj Z[N-k]) / 2i.
    for k in 0...half {
      let (a, b) = (re[k], im[k])
      let (c, d) = (re[(fftSize - k) % fftSize], im[(fftSize - k) % fftSize])
      powerA[k] = ((a + c) * (a + c) + (b - d) * (b - d)) / 4
      powerB[k] = ((b + d) * (b + d) + (a - c) * (a - c)) / 4
    }
    // The power spectra, mirrored, as one complex signal transformed again: their autocorrelations
    // (Wiener-Khinchin; each real, as its spectrum is real and even), one in each part.
    for k in 0...half {
      re[k] = powerA[k]
      im[k] = powerB[k]
    }
    for k in 1..<half {
      re[fftSize - k] = powerA[k]
      im[fftSize - k] = powerB[k]
    }
    fft.transform(&re, &im)
    let first = features(power: powerA, autocorrelation: re, energy: energyA / Float(frameLength))
    guard second != nil else { return (first, nil) }
    return (first, features(power: powerB, autocorrelation: im, energy: energyB / Float(frameLength)))
  }

  /// One frame's features from its power spectrum (bins 0 ... fftSize/2) and autocorrelation; advances the
  /// previous spectrum (for the flux).
  mutating func features(power: [Float], autocorrelation ac: [Float], energy: Float) -> FrameAnalysis.Frame {
    let frameLength = FrameAnalysis.frameLength
    var band: Float = 0
    var total: Float = 0
    var weighted: Float = 0
    var flux: Float = 0
    var chroma: (Float, Float, Float, Float, Float, Float, Float, Float, Float, Float, Float, Float) =
      (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
    withUnsafeMutableBytes(of: &chroma) { raw in
      let chroma = raw.bindMemory(to: Float.self)
      for k in 0...(fftSize / 2) {
        let p = power[k]
        if pitchClasses[k] >= 0 { chroma[pitchClasses[k]] += p }
        total += p
        weighted += p * Float(k) * binHz
        if k >= speechLow && k <= speechHigh { band += p }
        let logMagnitude = log10(p + 1e-10)
        let rise = logMagnitude - previous[k]
        if rise > 0 { flux += rise }
        previous[k] = logMagnitude
      }
    }
    var best: Float = 0
    var bestLag = 0
    if power[0] > 0 {
      let zero = ac[0]
      for lag in minLag...maxLag {
        let value = ac[lag] / zero / max(windowCorrelation[lag], 0.05)
        if value > best && ac[lag] >= ac[lag - 1] && ac[lag] >= ac[lag + 1] {
          best = value
          bestLag = lag
        }
      }
    }
    let scale = 1 / Float(frameLength) / Float(frameLength)
    return withUnsafeBytes(of: chroma) { raw in
      let chroma = raw.bindMemory(to: Float.self)
      let chromaTotal = chroma.reduce(0, +)
      var strongest = 0
      for c in 1..<12 where chroma[c] > chroma[strongest] { strongest = c }
      return FrameAnalysis.Frame(
        energy: energy, speechBandEnergy: band * scale, flux: flux / Float(fftSize / 2 + 1),
        harmonicity: min(best, 1), pitch: bestLag > 0 ? Float(FrameAnalysis.sampleRate) / Float(bestLag) : 0,
        centroid: total > 0 ? weighted / total : 0, pitchClass: UInt8(strongest),
        pitchClassShare: chromaTotal > 0 ? chroma[strongest] / chromaTotal : 0)
    }
  }
}
