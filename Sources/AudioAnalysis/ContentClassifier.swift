import Foundation

/// What a stretch of audio holds.
public enum ContentClass: String, Sendable, Codable, CaseIterable {
  case speech, music, silence, other
}

/// A run of hops of one class: the sections every analytics result is made of.
public struct ContentSection: Sendable, Equatable {
  public var contentClass: ContentClass
  /// Seconds from the start of the analysed audio.
  public var start: Double
  public var duration: Double
  /// The mean of its hops' confidences, 0-1.
  public var confidence: Double
  public var end: Double { start + duration }
}

/// Speech, music, silence or other for every 0.5 s hop of mono 16 kHz audio, from signal features:
/// syllabic (2-8 Hz) modulation of the speech band's energy and how deep its level swings, the share of
/// low-energy frames, voicing and how long voiced stretches last, and how much the pitch moves within them. Speech alternates voiced syllables of
/// 0.1-0.3 s with gaps and glides in pitch; music holds steady pitches and a steadier level; noise has
/// neither pitch nor syllables.
public struct ContentClassifier: Sendable {
  /// Seconds per classified hop.
  public static let hopSeconds = 0.5
  static let framesPerHop = Int(hopSeconds * FrameAnalysis.framesPerSecond)
  /// Hops either side whose scores are averaged with a hop's own.
  static let smoothingHops = 1
  /// Quieter than this (dBFS, RMS over the hop) is silence.
  public var silenceThreshold: Double = -60

  public init(silenceThreshold: Double = -60) {
    self.silenceThreshold = silenceThreshold
  }

  /// The features of one hop, with the hops either side as context.
  public struct HopFeatures: Sendable {
    public var level: Double
    public var lowEnergyRatio: Double
    public var modulation: Double
    public var voicedFraction: Double
    public var voicedRun: Double
    public var pitchMotion: Double
    public var harmonicity: Double
    /// Voiced/unvoiced changes per second.
    public var toggles: Double
    /// Standard deviation of the frames' log energy (dB) among the audible ones.
    public var energySpread: Double
    /// How concentrated the context's strongest pitch classes are: 1 - the normalised entropy of their
    /// histogram, weighted by share (music dwells on a few pitch classes; speech glides through all).
    public var tonalConcentration: Double
    /// Standard deviation of the spectral centroid (kHz) among the audible frames.
    public var centroidSpread: Double
    /// How deep the speech band's level swings among the audible frames: its 90th minus its 10th percentile
    /// (dB). Syllables and the gaps between them swing 20-30 dB; music under or without a voice, about 10.
    public var speechBandDepth: Double
  }

  /// One class and confidence per hop.
  public struct Labels: Sendable {
    public var classes: [ContentClass]
    public var confidences: [Double]
    public var features: [HopFeatures]
  }

  /// Features of every hop of `analysis`.
  public func features(_ analysis: FrameAnalysis) -> [HopFeatures] {
    let frames = analysis.frames
    let n = Self.framesPerHop
    let hops = Int((analysis.duration / Self.hopSeconds).rounded(.up))
    var out: [HopFeatures] = []
    out.reserveCapacity(hops)
    for h in 0..<hops {
      let own = max(0, min(frames.count, h * n))..<max(0, min(frames.count, (h + 1) * n))
      // Two seconds centred on the hop.
      let context = max(0, min(frames.count, h * n - 3 * n / 2))..<max(0, min(frames.count, h * n + 5 * n / 2))
      guard !own.isEmpty else {
        out.append(
          HopFeatures(
            level: -120, lowEnergyRatio: 0, modulation: 0, voicedFraction: 0, voicedRun: 0, pitchMotion: 0,
            harmonicity: 0, toggles: 0, energySpread: 0, tonalConcentration: 0, centroidSpread: 0, speechBandDepth: 0))
        continue
      }
      // The hop's level from the frames wholly inside it (the last one reaches into the next hop).
      let energies = frames[own.lowerBound..<max(own.lowerBound + 1, own.upperBound - 1)].map { Double($0.energy) }
      let level = 10 * log10(energies.reduce(0, +) / Double(energies.count) + 1e-12)
      let window = frames[context]
      let mean = window.reduce(0.0) { $0 + Double($1.energy) } / Double(window.count)
      let lowEnergy = Double(window.filter { Double($0.energy) < 0.5 * mean }.count) / Double(window.count)
      // Syllabic modulation: the share of the speech band's log-envelope variance at 2-8 Hz.
      let envelope = window.map { log10(Double($0.speechBandEnergy) + 1e-9) }
      let modulation = Self.bandShare(envelope, rate: FrameAnalysis.framesPerSecond, low: 2, high: 8)
      let loudest = window.map(\.energy).max() ?? 0
      let audible = window.filter { $0.energy > loudest * 0.001 }
      let voiced = window.map { $0.harmonicity > 0.6 && $0.energy > loudest * 0.001 }
      let voicedFraction = audible.isEmpty ? 0 : Double(voiced.filter { $0 }.count) / Double(audible.count)
      var runs: [Int] = []
      var run = 0
      for v in voiced {
        if v {
          run += 1
        } else if run > 0 {
          runs.append(run)
          run = 0
        }
      }
      if run > 0 { runs.append(run) }
      let voicedRun = runs.isEmpty ? 0 : Double(runs.reduce(0, +)) / Double(runs.count) / FrameAnalysis.framesPerSecond
      var motions: [Double] = []
      let list = Array(window)
      for i in 1..<max(1, list.count) where voiced[i] && voiced[i - 1] {
        motions.append(abs(12 * log2(Double(list[i].pitch) / Double(list[i - 1].pitch))))
      }
      motions.sort()
      let pitchMotion = motions.isEmpty ? 0 : motions[motions.count / 2]
      let harmonicity =
        audible.isEmpty ? 0 : audible.reduce(0.0) { $0 + Double($1.harmonicity) } / Double(audible.count)
      var toggles = 0
      for i in 1..<max(1, voiced.count) where voiced[i] != voiced[i - 1] { toggles += 1 }
      let logs = audible.map { 10 * log10(Double($0.energy) + 1e-12) }
      let logMean = logs.isEmpty ? 0 : logs.reduce(0, +) / Double(logs.count)
      let spread =
        logs.isEmpty ? 0 : (logs.reduce(0) { $0 + ($1 - logMean) * ($1 - logMean) } / Double(logs.count)).squareRoot()
      var histogram = [Double](repeating: 0, count: 12)
      for f in audible { histogram[Int(f.pitchClass)] += Double(f.pitchClassShare) }
      let histogramTotal = histogram.reduce(0, +)
      var entropy = 0.0
      for h in histogram where h > 0 {
        let p = h / histogramTotal
        entropy -= p * log(p)
      }
      let concentration = histogramTotal > 0 ? 1 - entropy / log(12) : 0
      let centroids = audible.map { Double($0.centroid) / 1000 }
      let centroidMean = centroids.isEmpty ? 0 : centroids.reduce(0, +) / Double(centroids.count)
      let centroidSpread =
        centroids.isEmpty
        ? 0
        : (centroids.reduce(0) { $0 + ($1 - centroidMean) * ($1 - centroidMean) } / Double(centroids.count))
          .squareRoot()
      let bandLevels = audible.map { 10 * log10(Double($0.speechBandEnergy) + 1e-9) }.sorted()
      let depth = Self.percentile(bandLevels, 0.9) - Self.percentile(bandLevels, 0.1)
      out.append(
        HopFeatures(
          level: level, lowEnergyRatio: lowEnergy, modulation: modulation, voicedFraction: voicedFraction,
          voicedRun: voicedRun, pitchMotion: pitchMotion, harmonicity: harmonicity,
          toggles: Double(toggles) / (Double(window.count) / FrameAnalysis.framesPerSecond), energySpread: spread,
          tonalConcentration: concentration, centroidSpread: centroidSpread, speechBandDepth: depth))
    }
    return out
  }

  /// The `p` quantile (0-1) of ascending `sorted`, interpolated between neighbours; 0 when empty.
  static func percentile(_ sorted: [Double], _ p: Double) -> Double {
    guard !sorted.isEmpty else { return 0 }
    let position = p * Double(sorted.count - 1)
    let below = Int(position)
    let above = min(sorted.count - 1, below + 1)
    return sorted[below] + (position - Double(below)) * (sorted[above] - sorted[below])
  }

  /// The share of `values`' variance (mean removed, Hann-windowed) between `low` and `high` Hz.
  static func bandShare(_ values: [Double], rate: Double, low: Double, high: Double) -> Double {
    let n = values.count
    guard n >= 8 else { return 0 }
    let mean = values.reduce(0, +) / Double(n)
    let x = values.enumerated().map { (i, v) in (v - mean) * (0.5 - 0.5 * cos(2 * Double.pi * Double(i) / Double(n))) }
    var inBand = 0.0
    var total = 0.0
    for k in 1...(n / 2) {
      var re = 0.0
      var im = 0.0
      for (i, v) in x.enumerated() {
        let angle = -2 * Double.pi * Double(k * i) / Double(n)
        re += v * cos(angle)
        im += v * sin(angle)
      }
      let power = re * re + im * im
      let hz = Double(k) * rate / Double(n)
      total += power
      if hz >= low && hz <= high { inBand += power }
    }
    return total > 0 ? inBand / total : 0
  }

  /// The class of every hop of `analysis`: the speech and music scores are averaged over the two hops
  /// either side before deciding, so a lone hop does not flip a run.
  public func classify(_ analysis: FrameAnalysis) -> Labels {
    let features = features(analysis)
    let speech = features.map { Self.score($0, Self.speechWeights, Self.speechBias) }
    let music = features.map { Self.score($0, Self.musicWeights, Self.musicBias) }
    func smoothed(_ values: [Double], _ i: Int) -> Double {
      let range = max(0, i - Self.smoothingHops)...min(values.count - 1, i + Self.smoothingHops)
      let audible = range.filter { features[$0].level >= silenceThreshold }
      return audible.isEmpty ? values[i] : audible.reduce(0) { $0 + values[$1] } / Double(audible.count)
    }
    var classes: [ContentClass] = []
    var confidences: [Double] = []
    for (i, f) in features.enumerated() {
      if f.level < silenceThreshold {
        classes.append(.silence)
        confidences.append(min(1, 0.5 + (silenceThreshold - f.level) / 20))
        continue
      }
      let s = smoothed(speech, i)
      if s > 0 {
        classes.append(.speech)
        confidences.append(Self.logistic(s))
        continue
      }
      let m = smoothed(music, i)
      classes.append(m > 0 ? .music : .other)
      // Both decisions had to go this way.
      confidences.append(Self.logistic(-s) * Self.logistic(abs(m)))
    }
    return Labels(classes: classes, confidences: confidences, features: features)
  }

  /// The features a score weighs, clipped where a few extreme hops would dominate.
  static func vector(_ f: HopFeatures) -> [Double] {
    [
      f.lowEnergyRatio, f.modulation, f.voicedFraction, min(f.voicedRun, 1.5), min(f.pitchMotion, 3), f.harmonicity,
      f.toggles, f.energySpread, f.tonalConcentration, f.centroidSpread, f.speechBandDepth,
    ]
  }

  static func score(_ f: HopFeatures, _ weights: [Double], _ bias: Double) -> Double {
    zip(vector(f), weights).reduce(bias) { $0 + $1.0 * $1.1 }
  }

  // Logistic regressions fitted by scripts/fit-content-classifier.py on a training set made like the tests'
  // (ContentClassifierTests/trainingFeatures: seven voices and seven sentences the tests do not use, two
  // excerpts of ten soundtrack files and six MIDI renders they do not use; speech alone, over music 8 and
  // 10 dB down that then goes on alone, over music 15 dB down and over noise); the tests measure on voices,
  // sentences, tracks and renders the fit never saw.
  // speech against the rest: 95.5% of 756 training hops
  static let speechWeights: [Double] = [
    -0.2636, 1.3237, 1.6989, -1.9776, 0.5555, 4.6245, -0.0038, 0.1841, -3.7737, 3.2103, 0.2255,
  ]
  static let speechBias = -9.7220
  // music against other: 100.0% of 327 training hops
  static let musicWeights: [Double] = [
    2.0731, 1.9821, 0.6228, 0.4742, -0.8758, 0.5686, -0.0983, 0.2691, 5.1678, -4.2558, 0.0995,
  ]
  static let musicBias = 1.7873

  static func logistic(_ x: Double) -> Double { 1 / (1 + exp(-2 * x)) }

  /// Runs of one class as sections (hops at `hopSeconds`), the last cut at `duration`.
  public static func sections(_ labels: Labels, duration: Double) -> [ContentSection] {
    var out: [ContentSection] = []
    var i = 0
    while i < labels.classes.count {
      var j = i
      while j < labels.classes.count && labels.classes[j] == labels.classes[i] { j += 1 }
      let start = Double(i) * hopSeconds
      let end = min(duration, Double(j) * hopSeconds)
      let confidence = labels.confidences[i..<j].reduce(0, +) / Double(j - i)
      if end > start {
        out.append(
          ContentSection(contentClass: labels.classes[i], start: start, duration: end - start, confidence: confidence))
      }
      i = j
    }
    return out
  }
}
