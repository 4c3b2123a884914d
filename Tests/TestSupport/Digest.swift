import COpenSSL
import Foundation

/// SHA-256 over data fed in pieces, on OpenSSL.
public final class SHA256Digest {
  private let context: OpaquePointer

  public init() {
    context = EVP_MD_CTX_new()
    EVP_DigestInit_ex(context, EVP_sha256(), nil)
  }

  deinit { EVP_MD_CTX_free(context) }

  public func update(_ bytes: [UInt8]) {
    bytes.withUnsafeBytes { _ = EVP_DigestUpdate(context, $0.baseAddress, $0.count) }
  }

  /// The digest as lowercase hex.
  public func hex() -> String {
    var out = [UInt8](repeating: 0, count: 32)
    var length: UInt32 = 0
    EVP_DigestFinal_ex(context, &out, &length)
    return out.map { String(format: "%02x", $0) }.joined()
  }

  /// SHA-256 of a whole file, as hex.
  public static func file(_ path: String) throws -> String {
    let digest = SHA256Digest()
    let handle = try FileHandle(forReadingFrom: URL(fileURLWithPath: path))
    defer { try? handle.close() }
    while let chunk = try handle.read(upToCount: 1 << 20), !chunk.isEmpty { digest.update(Array(chunk)) }
    return digest.hex()
  }
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
