import AudioAnalysis
import Foundation

/// The audio bandwidth: the highest frequency with significant content, from the long-term power spectrum
/// of sampled windows (mono, `windowSize` samples each, Hann-windowed). "Significant" is within
/// `range` dB of the spectrum's strongest band; silent windows are left out. An MP3 that cut everything above
/// 16 kHz reports about 16 kHz; telephone speech about 3.4-4 kHz; full-band audio close to the Nyquist
/// frequency.
public enum Bandwidth {
  public static let windowSize = 4096
  /// Every `sampleEvery`-th window of the input is analysed (a spectrum needs a sample, not every window).
  public static let sampleEvery = 25
  static let range = 60.0

  /// The filter chain that picks the windows (appended to a branch of analyze's graph).
  public static var selection: String {
    "aformat=sample_fmts=flt:channel_layouts=mono,asetnsamples=n=\(windowSize),aselect='not(mod(n\\,\(sampleEvery)))'"
  }

  /// The bandwidth in Hz of the windows in `samples` (raw 32-bit float, native order) at `sampleRate`; nil
  /// when every window is silent.
  public static func estimate(samples: [Float], sampleRate: Int) -> Double? {
    var spectrum = Spectrum()
    samples.withUnsafeBufferPointer { spectrum.add($0) }
    return spectrum.bandwidth(sampleRate: sampleRate)
  }

  /// The long-term power spectrum, summed one window at a time: a long input's sampled windows are never
  /// held at once (six hours at 48 kHz are 166 MB of them).
  public struct Spectrum: Sendable {
    private var power = [Double](repeating: 0, count: Bandwidth.windowSize / 2 + 1)
    private var used = 0
    private let window = (0..<Bandwidth.windowSize).map {
      0.5 - 0.5 * cos(2 * Double.pi * Double($0) / Double(Bandwidth.windowSize))
    }

    public init() {}

    /// Adds the whole windows in `samples`, in order; a partial window at the end is left out.
    public mutating func add(_ samples: UnsafeBufferPointer<Float>) {
      let n = Bandwidth.windowSize
      let fft = FFT(size: n)
      var offset = 0
      var re = [Double](repeating: 0, count: n)
      var im = [Double](repeating: 0, count: n)
      while offset + n <= samples.count {
        defer { offset += n }
        var energy = 0.0
        for i in 0..<n { energy += Double(samples[offset + i]) * Double(samples[offset + i]) }
        // Under -90 dBFS RMS: silence (or dither), which says nothing about the content's band.
        guard energy / Double(n) > 1e-9 else { continue }
        for i in 0..<n {
          re[i] = Double(samples[offset + i]) * window[i]
          im[i] = 0
        }
        fft.transform(&re, &im)
        for k in 0..<power.count { power[k] += re[k] * re[k] + im[k] * im[k] }
        used += 1
      }
    }

    /// Adds the windows of a raw file (32-bit float, native order, as analyze's spectrum branch writes them),
    /// read 64 windows (1 MiB) at a time. False when the file cannot be read.
    @discardableResult
    public mutating func add(rawFile path: String) -> Bool {
      let fd = open(path, O_RDONLY | O_CLOEXEC)
      guard fd >= 0 else { return false }
      defer { close(fd) }
      let windowBytes = Bandwidth.windowSize * MemoryLayout<Float>.size
      var buffer = [Float](repeating: 0, count: Bandwidth.windowSize * 64)
      var filled = 0
      while true {
        let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress! + filled, $0.count - filled) }
        if n < 0 && errno == EINTR { continue }
        if n <= 0 { return n == 0 }
        filled += n
        let whole = filled / windowBytes
        guard whole > 0 else { continue }
        buffer.withUnsafeBufferPointer { add(UnsafeBufferPointer(rebasing: $0[0..<(whole * Bandwidth.windowSize)])) }
        // A read may end mid-window: its start moves to the front for the next one.
        let rest = filled - whole * windowBytes
        buffer.withUnsafeMutableBytes { bytes in
          bytes.baseAddress!.copyMemory(from: bytes.baseAddress! + whole * windowBytes, byteCount: rest)
        }
        filled = rest
      }
    }

    /// The bandwidth in Hz at `sampleRate`; nil when every window was silent (or none was added).
    public func bandwidth(sampleRate: Int) -> Double? {
      let n = Bandwidth.windowSize
      guard used > 0 else { return nil }
      // Above 20 Hz (DC and rumble say nothing about the band), in dB.
      let first = max(1, Int((20 * Double(n) / Double(sampleRate)).rounded(.up)))
      let levels = power.map { 10 * log10($0 / Double(used) + 1e-30) }
      guard let peak = levels[first...].max() else { return nil }
      guard let top = levels.indices.last(where: { $0 >= first && levels[$0] >= peak - Bandwidth.range }) else {
        return nil
      }
      return Double(top) * Double(sampleRate) / Double(n)
    }
  }
}
