import AudioAnalysis
import Foundation

/// Speech isolation's second stage, after DeepFilterNet3: a Wiener gain built from what the model kept and
/// what it took out. DeepFilterNet3 works in 20 ms frames with coarse bands above 5 kHz; with music under speech
/// most of what is left wrong lies in the bins where the speech is louder than the music (measured on speech
/// over music at 10 dB: 82% of the error; 74% of all of it at 100-750 Hz), where the model takes out only 2-5 dB
/// of the music and also bends the speech. Here, in 85 ms frames (11.7 Hz bins, which tell held notes from
/// voice harmonics) every 21 ms, the speech power is the model's output |Y|² and the music's is what the model
/// took out, |X − Y|², averaged over 0.79 s centred on the frame (music holds its notes; the model's removals
/// under speech come and go). The gain G = |Y|² / (|Y|² + mean|X − Y|²) takes that share of the input X and the
/// rest from the model's output, at isolation 100 half of it (6 dB further down): G·X + (1 − G)·Y/2. So speech
/// the model bent comes back from the input and the music's held notes go further down. Below 100 the rest is
/// Y as it is (the attenuation limit that isolation asks for holds). Sample n out is sample n in (its 0.47 s of
/// delay is taken out and the tail flushed at `finish`). BENCHMARKS.md ("Speech isolation's mask") has the
/// figures and the forms tried.
final class IsolationMask {
  /// Frame length and hop (48 kHz samples); the music estimate averages `2 × reach + 1` frames.
  static let size = 4096
  static let hop = 1024
  static let reach = 18
  /// The weight of the music estimate in the gain.
  static let weight: Float = 1
  static let bins = size / 2 + 1

  /// Frames kept: the `2 × reach + 1` of an average, the one analysed before the oldest leaves it, and spare.
  static let slots = 2 * reach + 4

  let fft = FFT(size: size)
  /// The square root of a periodic Hann window, for analysis and synthesis (their product overlap-adds to 2 at
  /// a quarter-frame hop).
  let window: [Float] = (0..<size).map { Float(sin(Double.pi * Double($0) / Double(size))) }
  /// What the model's output is scaled by where the gain leaves it: at isolation 100 half (6 dB further down),
  /// below it 1 (the attenuation limit isolation asks for holds).
  let rest: Float
  /// The last `size` samples in (zeros before the first), a ring written at `position`.
  let dry: UnsafeMutablePointer<Float>
  let wet: UnsafeMutablePointer<Float>
  var position = 0
  /// Samples pushed (including the flush's zeros), taken (real ones) and given out.
  var pushed = 0
  var taken = 0
  var given = 0
  /// Frame k (from 1) covers samples [k·hop − size, k·hop): those analysed (`made`), those synthesised.
  var made = 0
  var synthesised = 0
  /// Analysed frames, frame k at `(k % slots) × bins`: the input's spectrum, the model's output's, and the
  /// power the model removed. Buffers allocated once (no allocation per frame, no exclusivity checks per
  /// sample: they cost more than the transforms).
  let frameReal: UnsafeMutablePointer<Float>
  let frameImaginary: UnsafeMutablePointer<Float>
  let wetReal: UnsafeMutablePointer<Float>
  let wetImaginary: UnsafeMutablePointer<Float>
  let removed: UnsafeMutablePointer<Float>
  /// The sum of `removed` over the frames from `sumFrom` to `sumTo` (per bin).
  let sum: UnsafeMutablePointer<Double>
  var sumFrom = 1
  var sumTo = 0
  /// Overlap-add output from sample `given` on.
  var pending: [Float] = []
  var real = [Float](repeating: 0, count: size)
  var imaginary = [Float](repeating: 0, count: size)
  /// `hop` zeros, for the flush.
  static let zeros = [Float](repeating: 0, count: hop)

  /// `isolation`: the job's `speech.isolation` amount (0-100).
  init(isolation: Double) {
    rest = isolation >= 100 ? 0.5 : 1
    func buffer<T: Numeric>(_ count: Int) -> UnsafeMutablePointer<T> {
      let pointer = UnsafeMutablePointer<T>.allocate(capacity: count)
      pointer.initialize(repeating: 0, count: count)
      return pointer
    }
    dry = buffer(Self.size)
    wet = buffer(Self.size)
    frameReal = buffer(Self.slots * Self.bins)
    frameImaginary = buffer(Self.slots * Self.bins)
    wetReal = buffer(Self.slots * Self.bins)
    wetImaginary = buffer(Self.slots * Self.bins)
    removed = buffer(Self.slots * Self.bins)
    sum = buffer(Self.bins)
  }

  deinit {
    for pointer in [dry, wet, frameReal, frameImaginary, wetReal, wetImaginary, removed] { pointer.deallocate() }
    sum.deallocate()
  }

  /// Takes input samples and the model's output for them (as many of each); appends what is ready to `out`.
  func push(dry x: UnsafeBufferPointer<Float>, wet y: UnsafeBufferPointer<Float>, into out: inout [Float]) {
    taken += x.count
    add(x, y, into: &out)
  }

  private func add(_ x: UnsafeBufferPointer<Float>, _ y: UnsafeBufferPointer<Float>, into out: inout [Float]) {
    var i = 0
    while i < x.count {
      let n = min(x.count - i, Self.hop - pushed % Self.hop)
      var at = position
      let (dry, wet) = (dry, wet)
      for j in i..<(i + n) {
        dry[at] = x[j]
        wet[at] = y[j]
        at = (at + 1) & (Self.size - 1)
      }
      position = at
      i += n
      pushed += n
      if pushed % Self.hop == 0 {
        analyse()
        if made - Self.reach >= 1 { synthesise(made - Self.reach, last: nil, into: &out) }
      }
    }
  }

  /// Flushes with silence until every sample taken has come out.
  func finish(into out: inout [Float]) {
    guard taken > 0 else { return }
    // The last frame that holds a real sample.
    let last = (taken + Self.size + Self.hop - 1) / Self.hop - 1
    var rounds = 0
    while made < last && rounds <= last + 1 {
      let count = Self.hop - pushed % Self.hop
      Self.zeros.withUnsafeBufferPointer { z in
        let part = UnsafeBufferPointer(rebasing: z[0..<count])
        add(part, part, into: &out)
      }
      rounds += 1
    }
    while synthesised < made { synthesise(synthesised + 1, last: made, into: &out) }
    emit(upTo: taken, into: &out)
  }

  private func analyse() {
    let base = ((made + 1) % Self.slots) * Self.bins
    real.withUnsafeMutableBufferPointer { re in
      imaginary.withUnsafeMutableBufferPointer { im in
        // Both signals through one complex transform (the input real, the model's output imaginary).
        for i in 0..<Self.size {
          let j = (position + i) & (Self.size - 1)
          re[i] = dry[j] * window[i]
          im[i] = wet[j] * window[i]
        }
      }
    }
    fft.transform(&real, &imaginary)
    real.withUnsafeBufferPointer { re in
      imaginary.withUnsafeBufferPointer { im in
        for b in 0..<Self.bins {
          let n = (Self.size - b) & (Self.size - 1)
          let xr = (re[b] + re[n]) / 2
          let xi = (im[b] - im[n]) / 2
          let yr = (im[b] + im[n]) / 2
          let yi = (re[n] - re[b]) / 2
          frameReal[base + b] = xr
          frameImaginary[base + b] = xi
          wetReal[base + b] = yr
          wetImaginary[base + b] = yi
          removed[base + b] = (xr - yr) * (xr - yr) + (xi - yi) * (xi - yi)
        }
      }
    }
    made += 1
  }

  /// Frame `k` masked and overlap-added; the average of what the model removed spans the frames within
  /// `reach` of it (up to `last` when the end is known).
  private func synthesise(_ k: Int, last: Int?, into out: inout [Float]) {
    let from = max(1, k - Self.reach)
    let to = min(last ?? made, k + Self.reach)
    while sumTo < to {
      sumTo += 1
      let base = (sumTo % Self.slots) * Self.bins
      for b in 0..<Self.bins { sum[b] += Double(removed[base + b]) }
    }
    while sumFrom < from {
      let base = (sumFrom % Self.slots) * Self.bins
      for b in 0..<Self.bins { sum[b] -= Double(removed[base + b]) }
      sumFrom += 1
    }
    let count = Double(to - from + 1)
    let base = (k % Self.slots) * Self.bins
    let rest = rest
    real.withUnsafeMutableBufferPointer { re in
      imaginary.withUnsafeMutableBufferPointer { im in
        for b in 0..<Self.bins {
          let music = Float(max(0, sum[b] / count))
          let (yr, yi) = (wetReal[base + b], wetImaginary[base + b])
          let speech = yr * yr + yi * yi
          let gain = speech / (speech + Self.weight * music + 1e-20)
          let other = (1 - gain) * rest
          re[b] = frameReal[base + b] * gain + yr * other
          // Conjugated for the inverse through the forward transform.
          im[b] = -(frameImaginary[base + b] * gain + yi * other)
        }
        for b in Self.bins..<Self.size {
          re[b] = re[Self.size - b]
          im[b] = -im[Self.size - b]
        }
      }
    }
    fft.transform(&real, &imaginary)
    // Overlap-add: the inverse's 1/size and the windows' sum of 2.
    let start = k * Self.hop - Self.size
    let scale = 1 / Float(2 * Self.size)
    let end = k * Self.hop - given
    if pending.count < end { pending.append(contentsOf: repeatElement(0, count: end - pending.count)) }
    let first = max(0, given - start)
    let offset = start - given
    real.withUnsafeBufferPointer { re in
      pending.withUnsafeMutableBufferPointer { p in
        for i in first..<Self.size { p[offset + i] += re[i] * window[i] * scale }
      }
    }
    synthesised = k
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
