import AudioAnalysis
import Foundation

/// Speech isolation's second stage, after DeepFilterNet3: a Wiener gain built from what the model kept and
/// what it took out. DeepFilterNet3 works in 20 ms frames with coarse bands above 5 kHz; with music under speech
/// most of what is left wrong lies in the bins where the speech is louder than the music (measured on speech
/// over music at 10 dB: 83% of the error, 74% of it at 100-750 Hz), where the model takes out only 2-5 dB of
/// the music and also bends the speech. Here, in 85 ms frames (11.7 Hz bins, which tell held notes from voice
/// harmonics) every 21 ms, the speech power is the model's output |Y|² and the music's is what the model took
/// out, |X − Y|², averaged over 0.79 s centred on the frame (music holds its notes; the model's removals under
/// speech come and go). The gain G = |Y|² / (|Y|² + mean|X − Y|²) takes that share of the input X and the rest
/// from the model's output, at isolation 100 half of it (6 dB further down): G·X + (1 − G)·Y/2. So speech
/// the model bent comes back from the input and the music's held notes go further down. Below 100 the rest is
/// Y as it is (the attenuation limit that isolation asks for holds). Sample n out is sample n in (its 0.47 s of delay is taken out and
/// the tail flushed at `finish`).
final class IsolationMask {
  /// Frame length and hop (48 kHz samples); the music estimate averages `2 × reach + 1` frames.
  static let size = 4096
  static let hop = 1024
  static let reach = 18
  /// The weight of the music estimate in the gain.
  static let weight: Float = 1
  static let bins = size / 2 + 1

  struct Frame {
    /// The input's spectrum and the model's output's.
    var real: [Float]
    var imaginary: [Float]
    var wetReal: [Float]
    var wetImaginary: [Float]
  }

  let fft = FFT(size: size)
  /// The square root of a periodic Hann window, for analysis and synthesis (their product overlap-adds to 2 at
  /// a quarter-frame hop).
  let window: [Float] = (0..<size).map { Float(sin(Double.pi * Double($0) / Double(size))) }
  /// What the model's output is scaled by where the gain leaves it: at isolation 100 half (6 dB further down),
  /// below it 1 (the attenuation limit isolation asks for holds).
  let rest: Float
  /// The last `size` samples in (zeros before the first), a ring written at `position`.
  var dry = [Float](repeating: 0, count: size)
  var wet = [Float](repeating: 0, count: size)
  var position = 0
  /// Samples pushed (including the flush's zeros), taken (real ones) and given out.
  var pushed = 0
  var taken = 0
  var given = 0
  /// Frame k (from 1) covers samples [k·hop − size, k·hop): those analysed (`made`), those synthesised.
  var made = 0
  var synthesised = 0
  /// Analysed frames from `firstKept` on, still needed for a synthesis or an average.
  var frames: [Frame] = []
  var removed: [[Float]] = []
  var firstKept = 1
  /// The sum of `removed` over the frames from `sumFrom` to `sumTo` (per bin).
  var sum = [Double](repeating: 0, count: bins)
  var sumFrom = 1
  var sumTo = 0
  /// Overlap-add output from sample `given` on.
  var pending: [Float] = []
  var real = [Float](repeating: 0, count: size)
  var imaginary = [Float](repeating: 0, count: size)

  /// `isolation`: the job's `speech.isolation` amount (0-100).
  init(isolation: Double) {
    rest = isolation >= 100 ? 0.5 : 1
  }

  /// Takes one input sample and the model's output for it; appends what is ready to `out`.
  @inline(__always)
  func push(dry x: Float, wet y: Float, into out: inout [Float]) {
    taken += 1
    add(x, y, into: &out)
  }

  private func add(_ x: Float, _ y: Float, into out: inout [Float]) {
    dry[position] = x
    wet[position] = y
    position = (position + 1) % Self.size
    pushed += 1
    guard pushed % Self.hop == 0 else { return }
    analyse()
    if made - Self.reach >= 1 { synthesise(made - Self.reach, last: nil, into: &out) }
  }

  /// Flushes with silence until every sample taken has come out.
  func finish(into out: inout [Float]) {
    guard taken > 0 else { return }
    // The last frame that holds a real sample.
    let last = (taken + Self.size + Self.hop - 1) / Self.hop - 1
    var rounds = 0
    while made < last && rounds <= (last + 1) * Self.hop {
      add(0, 0, into: &out)
      rounds += 1
    }
    while synthesised < made { synthesise(synthesised + 1, last: made, into: &out) }
    emit(upTo: taken, into: &out)
  }

  private func analyse() {
    // Both signals through one complex transform (the input real, the model's output imaginary).
    for i in 0..<Self.size {
      let j = (position + i) % Self.size
      real[i] = dry[j] * window[i]
      imaginary[i] = wet[j] * window[i]
    }
    fft.transform(&real, &imaginary)
    let zeros = [Float](repeating: 0, count: Self.bins)
    var frame = Frame(real: zeros, imaginary: zeros, wetReal: zeros, wetImaginary: zeros)
    var lost = [Float](repeating: 0, count: Self.bins)
    for b in 0..<Self.bins {
      let n = (Self.size - b) % Self.size
      let xr = (real[b] + real[n]) / 2
      let xi = (imaginary[b] - imaginary[n]) / 2
      let yr = (imaginary[b] + imaginary[n]) / 2
      let yi = (real[n] - real[b]) / 2
      frame.real[b] = xr
      frame.imaginary[b] = xi
      frame.wetReal[b] = yr
      frame.wetImaginary[b] = yi
      lost[b] = (xr - yr) * (xr - yr) + (xi - yi) * (xi - yi)
    }
    frames.append(frame)
    removed.append(lost)
    made += 1
  }

  /// Frame `k` masked and overlap-added; the average of what the model removed spans the frames within
  /// `reach` of it (up to `last` when the end is known).
  private func synthesise(_ k: Int, last: Int?, into out: inout [Float]) {
    let from = max(1, k - Self.reach)
    let to = min(last ?? made, k + Self.reach)
    while sumTo < to {
      sumTo += 1
      let r = removed[sumTo - firstKept]
      for b in 0..<Self.bins { sum[b] += Double(r[b]) }
    }
    while sumFrom < from {
      let r = removed[sumFrom - firstKept]
      for b in 0..<Self.bins { sum[b] -= Double(r[b]) }
      sumFrom += 1
    }
    let count = Double(to - from + 1)
    let frame = frames[k - firstKept]
    for b in 0..<Self.bins {
      let music = Float(max(0, sum[b] / count))
      let (yr, yi) = (frame.wetReal[b], frame.wetImaginary[b])
      let speech = yr * yr + yi * yi
      let gain = speech / (speech + Self.weight * music + 1e-20)
      let other = (1 - gain) * rest
      real[b] = frame.real[b] * gain + yr * other
      // Conjugated for the inverse through the forward transform.
      imaginary[b] = -(frame.imaginary[b] * gain + yi * other)
    }
    for b in Self.bins..<Self.size {
      real[b] = real[Self.size - b]
      imaginary[b] = -imaginary[Self.size - b]
    }
    fft.transform(&real, &imaginary)
    // Overlap-add: the inverse's 1/size and the windows' sum of 2.
    let start = k * Self.hop - Self.size
    let scale = 1 / Float(2 * Self.size)
    let end = k * Self.hop - given
    if pending.count < end { pending.append(contentsOf: repeatElement(0, count: end - pending.count)) }
    for i in max(0, given - start)..<Self.size {
      pending[start + i - given] += real[i] * window[i] * scale
    }
    synthesised = k
    // Frames no synthesis or average needs any more.
    let keep = min(sumFrom, synthesised + 1)
    if keep > firstKept {
      frames.removeFirst(keep - firstKept)
      removed.removeFirst(keep - firstKept)
      firstKept = keep
    }
    // Samples before the next frame's start are final.
    emit(upTo: min(taken, (k + 1) * Self.hop - Self.size), into: &out)
  }

  private func emit(upTo end: Int, into out: inout [Float]) {
    guard end > given else { return }
    let count = min(end - given, pending.count)
    out.append(contentsOf: pending[0..<count])
    pending.removeFirst(count)
    given += count
  }
}
