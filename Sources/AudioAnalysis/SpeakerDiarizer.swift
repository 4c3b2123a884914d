import Foundation

/// Who speaks when: speech is cut into segments at pauses (frame energy, 20 ms), each segment described by
/// its frames' MFCCs, and segments merged bottom-up into talkers while the Bayesian information criterion
/// prefers one Gaussian to two (Chen and Gopalakrishnan 1998: ΔBIC < 0 merges, λ = 1): the stop is the
/// criterion's own, with no talker count or distance threshold given.
public enum SpeakerDiarizer {
  /// A stretch of one talker's speech (seconds from the start of the samples).
  public struct Turn: Sendable, Equatable {
    public var start: Double
    public var end: Double
    /// Talker index from 0, in order of first appearance.
    public var talker: Int
  }

  static let coefficients = 12
  /// Pauses shorter than this stay inside a segment.
  static let bridge = 0.25
  /// Segments shorter than this are dropped (clicks, breaths).
  static let shortest = 0.2
  /// Segments longer than this are cut in pieces (a talker change without a pause).
  static let longest = 4.0

  /// The turns in `regions` (where the classifier found speech) of audio whose `frames` are given; `read`
  /// answers the samples (mono, `FrameAnalysis.sampleRate`) from one time to another, a segment (at most
  /// `longest` seconds) at a time, so hours of speech never sit in memory.
  public static func diarize(
    frames: FrameAnalysis, regions: [(start: Double, end: Double)], read: (Double, Double) -> [Float]
  ) -> [Turn] {
    let segments = segment(frames: frames, regions: regions)
    guard !segments.isEmpty else { return [] }
    let mfcc = MFCC()
    var clusters: [Stats] = segments.map { segment in
      var stats = Stats(dimensions: coefficients)
      let first = Int((segment.start * FrameAnalysis.framesPerSecond).rounded(.up))
      let last = Int(segment.end * FrameAnalysis.framesPerSecond)
      let origin = Double(first * FrameAnalysis.hop) / Double(FrameAnalysis.sampleRate)
      let samples = read(origin, segment.end + 0.05)
      samples.withUnsafeBufferPointer { x in
        // Every third frame (60 ms apart): neighbouring frames overlap and repeat each other, and the criterion
        // counts its observations as independent.
        for f in stride(from: first, to: last, by: 3) where f < frames.frames.count {
          let offset = (f - first) * FrameAnalysis.hop
          guard offset + FrameAnalysis.frameLength <= x.count else { break }
          // Only frames with voice in them: pauses inside a segment carry the room, not the talker.
          guard frames.frames[f].harmonicity > 0.5 else { continue }
          stats.add(mfcc.coefficients(x, at: offset))
        }
      }
      return stats
    }
    var members: [[Int]] = segments.indices.map { [$0] }
    while clusters.count > 1 {
      var best: (Int, Int, Double)?
      for i in 0..<clusters.count {
        for j in (i + 1)..<clusters.count {
          let delta = deltaBIC(clusters[i], clusters[j])
          if best == nil || delta < best!.2 { best = (i, j, delta) }
        }
      }
      guard let (i, j, delta) = best, delta < 0 else { break }
      clusters[i].merge(clusters[j])
      members[i] += members[j]
      clusters.remove(at: j)
      members.remove(at: j)
    }
    var talkerOf = [Int](repeating: 0, count: segments.count)
    // Talkers numbered by first appearance.
    let order = members.indices.sorted { members[$0].min()! < members[$1].min()! }
    for (talker, cluster) in order.enumerated() { for s in members[cluster] { talkerOf[s] = talker } }
    var turns: [Turn] = []
    for (index, segment) in segments.enumerated() {
      if let last = turns.last, last.talker == talkerOf[index], segment.start - last.end < 1.0 {
        turns[turns.count - 1].end = segment.end
      } else {
        turns.append(Turn(start: segment.start, end: segment.end, talker: talkerOf[index]))
      }
    }
    return turns
  }

  /// Speech segments inside `regions` (each widened by a hop either side, for the classifier's coarser
  /// edges), from frame energies: frames within 35 dB of the region's loudest and above -55 dBFS.
  static func segment(frames: FrameAnalysis, regions: [(start: Double, end: Double)]) -> [(start: Double, end: Double)]
  {
    let fps = FrameAnalysis.framesPerSecond
    var out: [(start: Double, end: Double)] = []
    for region in regions {
      let first = max(0, Int((region.start - 0.5) * fps))
      let last = min(frames.frames.count, Int((region.end + 0.5) * fps))
      guard last > first else { continue }
      let loudest = frames.frames[first..<last].map(\.energy).max() ?? 0
      let threshold = max(loudest * 3.2e-4, 3.2e-6)
      var active = frames.frames[first..<last].map { $0.energy > threshold }
      // Bridge short pauses.
      let gap = Int(bridge * fps)
      var i = 0
      while i < active.count {
        if !active[i] {
          var j = i
          while j < active.count && !active[j] { j += 1 }
          if i > 0 && j < active.count && j - i <= gap { for k in i..<j { active[k] = true } }
          i = j
        } else {
          i += 1
        }
      }
      i = 0
      while i < active.count {
        guard active[i] else {
          i += 1
          continue
        }
        var j = i
        while j < active.count && active[j] { j += 1 }
        let start = Double(first + i) / fps
        let end =
          Double(first + j) / fps + Double(FrameAnalysis.frameLength - FrameAnalysis.hop)
          / Double(FrameAnalysis.sampleRate)
        if end - start >= shortest {
          let pieces = max(1, Int(((end - start) / (longest / 2)).rounded(.down)))
          let length = (end - start) / Double(pieces)
          for p in 0..<(end - start > longest ? pieces : 1) {
            let pieceEnd = end - start > longest ? start + Double(p + 1) * length : end
            out.append((start + Double(p) * (end - start > longest ? length : 0), pieceEnd))
          }
        }
        i = j
      }
    }
    return out
  }

  /// ΔBIC of modelling `a` and `b` by one diagonal Gaussian against one each (negative: one talker).
  static func deltaBIC(_ a: Stats, _ b: Stats) -> Double {
    guard a.count > 1 && b.count > 1 else { return -1 }
    var both = a
    both.merge(b)
    let n = Double(both.count)
    let parameters = Double(2 * a.sum.count)
    return 0.5 * (n * both.logDeterminant - Double(a.count) * a.logDeterminant - Double(b.count) * b.logDeterminant)
      - 0.5 * parameters * log(n)
  }

  /// Running sums of feature vectors: a diagonal Gaussian.
  struct Stats {
    var count = 0
    var sum: [Double]
    var squares: [Double]
    init(dimensions: Int) {
      sum = [Double](repeating: 0, count: dimensions)
      squares = sum
    }
    mutating func add(_ v: [Double]) {
      count += 1
      for i in 0..<v.count {
        sum[i] += v[i]
        squares[i] += v[i] * v[i]
      }
    }
    mutating func merge(_ other: Stats) {
      count += other.count
      for i in 0..<sum.count {
        sum[i] += other.sum[i]
        squares[i] += other.squares[i]
      }
    }
    var logDeterminant: Double {
      let n = Double(max(count, 1))
      return (0..<sum.count).reduce(0.0) { total, i in
        let mean = sum[i] / n
        return total + log(max(squares[i] / n - mean * mean, 1e-6))
      }
    }
  }
}

/// Mel-frequency cepstral coefficients 1-12 of 32 ms frames at 16 kHz: 26 triangular mel bands from 100 Hz
/// to 7 kHz over a 512-point power spectrum, log, DCT-II.
extension SpeakerDiarizer {
  /// The turns of `samples`, all in memory (mono, `FrameAnalysis.sampleRate`).
  public static func diarize(samples: [Float], frames: FrameAnalysis, regions: [(start: Double, end: Double)])
    -> [Turn]
  {
    diarize(frames: frames, regions: regions) { from, to in
      let first = max(0, min(samples.count, Int(from * Double(FrameAnalysis.sampleRate))))
      let last = max(first, min(samples.count, Int(to * Double(FrameAnalysis.sampleRate))))
      return Array(samples[first..<last])
    }
  }
}

struct MFCC {
  let fft = FFT(size: 512)
  let window = FFT.hann(512)
  let bands: [[(bin: Int, weight: Float)]]

  init() {
    func mel(_ hz: Double) -> Double { 2595 * log10(1 + hz / 700) }
    func hz(_ mel: Double) -> Double { 700 * (pow(10, mel / 2595) - 1) }
    let count = 26
    let edges = (0...(count + 1)).map { hz(mel(100) + (mel(7000) - mel(100)) * Double($0) / Double(count + 1)) }
    let binHz = Double(FrameAnalysis.sampleRate) / 512
    bands = (0..<count).map { b in
      (0...256).compactMap { k -> (Int, Float)? in
        let f = Double(k) * binHz
        if f > edges[b] && f <= edges[b + 1] { return (k, Float((f - edges[b]) / (edges[b + 1] - edges[b]))) }
        if f > edges[b + 1] && f < edges[b + 2] {
          return (k, Float((edges[b + 2] - f) / (edges[b + 2] - edges[b + 1])))
        }
        return nil
      }
    }
  }

  func coefficients(_ x: UnsafeBufferPointer<Float>, at start: Int) -> [Double] {
    let power = fft.powerSpectrum(ArraySlice(x[start..<(start + 512)]), window: window)
    var energies: [Double] = []
    for band in bands {
      var total: Float = 0
      for (bin, weight) in band { total += power[bin] * weight }
      energies.append(log(Double(total) + 1e-10))
    }
    let n = Double(energies.count)
    var out: [Double] = []
    for c in 1...SpeakerDiarizer.coefficients {
      var value = 0.0
      for (i, e) in energies.enumerated() { value += e * cos(Double.pi * Double(c) * (Double(i) + 0.5) / n) }
      out.append(value)
    }
    return out
  }
}
