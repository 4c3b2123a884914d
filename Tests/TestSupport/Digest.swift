import Crypto
import Foundation

/// SHA-256 of `bytes` as hex.
public func sha256Hex(_ bytes: [UInt8]) -> String { Hex.encode(SHA256.hash(bytes)) }

/// SHA-256 of a whole file, as hex, read in 1 MiB pieces.
public func sha256Hex(file path: String) throws -> String {
  var hasher = SHA256()
  let handle = try FileHandle(forReadingFrom: URL(fileURLWithPath: path))
  defer { try? handle.close() }
  while let chunk = try handle.read(upToCount: 1 << 20), !chunk.isEmpty { hasher.update(chunk) }
  return Hex.encode(hasher.finalize())
}

/// Deterministic pseudo-random bytes (a test's data must be the same on every run).
public func testBytes(count: Int, seed: UInt64 = 0x9E37_79B9_7F4A_7C15) -> [UInt8] {
  var state = seed
  var out = [UInt8](repeating: 0, count: count)
  for i in 0..<count {
    state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
    out[i] = UInt8(truncatingIfNeeded: state >> 33)
  }
  return out
}

/// A fresh temporary directory, removed by the caller.
public func makeTemporaryDirectory(_ name: String = "ferry-test") throws -> String {
  let path = NSTemporaryDirectory() + "\(name)-\(UUID().uuidString.prefix(8))"
  try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
  return path
}
