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
    samples.withUnsafeBufferPointer { x in
      for f in 0..<count { frames.append(computer.frame(x, at: f * Self.hop)) }
    }
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
      buffer.withUnsafeBufferPointer { x in
        for f in 0..<available { frames.append(computer.frame(x, at: f * Self.hop)) }
      }
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

  /// The frame of `x` starting at `start`.
  mutating func frame(_ x: UnsafeBufferPointer<Float>, at start: Int) -> FrameAnalysis.Frame {
    let frameLength = FrameAnalysis.frameLength
    var energy: Float = 0
    for i in 0..<fftSize {
      if i < frameLength {
        let v = x[start + i]
        energy += v * v
        re[i] = v * window[i]
      } else {
        re[i] = 0
      }
      im[i] = 0
    }
    energy /= Float(frameLength)
    fft.transform(&re, &im)
    var band: Float = 0
    var total: Float = 0
    var weighted: Float = 0
    var flux: Float = 0
    var chroma = [Float](repeating: 0, count: 12)
    for k in 0...(fftSize / 2) {
      let p = re[k] * re[k] + im[k] * im[k]
      re[k] = p
      if pitchClasses[k] >= 0 { chroma[pitchClasses[k]] += p }
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
    let scale = 1 / Float(frameLength) / Float(frameLength)
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
