import Foundation

/// An in-place radix-2 complex FFT of one size, with its twiddles and bit reversal computed once. It transforms
/// Float samples (the analytics) and Double ones (Media's bandwidth and the mastering tests' band figures).
public struct FFT: Sendable {
  /// The transform size, a power of two.
  public let size: Int
  let cosines: [Float]
  let sines: [Float]
  let doubleCosines: [Double]
  let doubleSines: [Double]
  let reversed: [Int]

  public init(size: Int) {
    precondition(size >= 2 && size & (size - 1) == 0, "FFT sizes are powers of two")
    self.size = size
    doubleCosines = (0..<size / 2).map { cos(-2 * Double.pi * Double($0) / Double(size)) }
    doubleSines = (0..<size / 2).map { sin(-2 * Double.pi * Double($0) / Double(size)) }
    cosines = doubleCosines.map { Float($0) }
    sines = doubleSines.map { Float($0) }
    let bits = size.trailingZeroBitCount
    reversed = (0..<size).map { i in
      var r = 0
      for b in 0..<bits where i & (1 << b) != 0 { r |= 1 << (bits - 1 - b) }
      return r
    }
  }

  /// Transforms `real` + i `imaginary` in place (forward, unscaled).
  public func transform(_ real: inout [Float], _ imaginary: inout [Float]) {
    transform(&real, &imaginary, cosines: cosines, sines: sines)
  }

  /// Transforms `real` + i `imaginary` in place (forward, unscaled), in double precision.
  public func transform(_ real: inout [Double], _ imaginary: inout [Double]) {
    transform(&real, &imaginary, cosines: doubleCosines, sines: doubleSines)
  }

  // One body for both precisions; this module is built optimised, so each public entry gets its own
  // specialised copy (a caller in another module never runs the generic code).
  private func transform<Sample: FloatingPoint>(
    _ real: inout [Sample], _ imaginary: inout [Sample], cosines: [Sample], sines: [Sample]
  ) {
    let n = size
    precondition(real.count == n && imaginary.count == n, "the FFT's size")
    real.withUnsafeMutableBufferPointer { re in
      imaginary.withUnsafeMutableBufferPointer { im in
        cosines.withUnsafeBufferPointer { c in
          sines.withUnsafeBufferPointer { s in
            for i in 0..<n {
              let j = reversed[i]
              if j > i {
                re.swapAt(i, j)
                im.swapAt(i, j)
              }
            }
            var length = 2
            while length <= n {
              let half = length / 2
              let step = n / length
              var start = 0
              while start < n {
                for k in 0..<half {
                  let wr = c[k * step]
                  let wi = s[k * step]
                  let a = start + k
                  let b = a + half
                  let tr = re[b] * wr - im[b] * wi
                  let ti = re[b] * wi + im[b] * wr
                  re[b] = re[a] - tr
                  im[b] = im[a] - ti
                  re[a] += tr
                  im[a] += ti
                }
                start += length
              }
              length *= 2
            }
          }
        }
      }
    }
  }

  /// The power spectrum (bins 0 ... size/2) of `frame` (at most `size` samples, zero-padded) times `window`.
  public func powerSpectrum(_ frame: ArraySlice<Float>, window: [Float]) -> [Float] {
    var re = [Float](repeating: 0, count: size)
    var im = [Float](repeating: 0, count: size)
    for (i, x) in frame.enumerated() where i < window.count { re[i] = x * window[i] }
    transform(&re, &im)
    return (0...size / 2).map { re[$0] * re[$0] + im[$0] * im[$0] }
  }

  /// A periodic Hann window of `length` samples.
  public static func hann(_ length: Int) -> [Float] {
    (0..<length).map { Float(0.5 - 0.5 * cos(2 * Double.pi * Double($0) / Double(length))) }
  }
}
