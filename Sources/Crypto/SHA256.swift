import COpenSSL
import Foundation

/// SHA-256 on OpenSSL's libcrypto, one-shot or fed in pieces.
public struct SHA256: ~Copyable {
  private let context: OpaquePointer

  /// A hasher with nothing fed yet.
  public init() {
    guard let context = EVP_MD_CTX_new(), EVP_DigestInit_ex(context, EVP_sha256(), nil) == 1 else {
      fatalError("OpenSSL could not set up SHA-256")
    }
    self.context = context
  }

  deinit { EVP_MD_CTX_free(context) }

  /// Feeds `bytes`.
  public mutating func update(_ bytes: UnsafeRawBufferPointer) {
    guard let base = bytes.baseAddress, bytes.count > 0 else { return }
    EVP_DigestUpdate(context, base, bytes.count)
  }

  /// Feeds `bytes`.
  public mutating func update(_ bytes: some Sequence<UInt8>) {
    if bytes.withContiguousStorageIfAvailable({ update(UnsafeRawBufferPointer($0)) }) == nil {
      let array = Array(bytes)
      array.withUnsafeBytes { update($0) }
    }
  }

  /// The 32-byte digest of everything fed.
  public consuming func finalize() -> [UInt8] {
    var digest = [UInt8](repeating: 0, count: 32)
    var length: UInt32 = 0
    EVP_DigestFinal_ex(context, &digest, &length)
    return digest
  }

  /// The digest of `bytes`.
  public static func hash(_ bytes: some Sequence<UInt8>) -> [UInt8] {
    var hasher = SHA256()
    hasher.update(bytes)
    return hasher.finalize()
  }

  /// The digest of `text`'s UTF-8 bytes as lowercase hex.
  public static func hex(_ text: String) -> String { Hex.encode(hash(text.utf8)) }
}

/// HMAC on OpenSSL's libcrypto.
public enum HMAC {
  /// HMAC-SHA256 of `data` under `key`.
  public static func sha256(key: [UInt8], data: some Sequence<UInt8>) -> [UInt8] {
    let message = Array(data)
    var out = [UInt8](repeating: 0, count: 32)
    var length: UInt32 = 0
    let ok = key.withUnsafeBytes { k in
      message.withUnsafeBytes { m in
        COpenSSL.HMAC(
          EVP_sha256(), k.baseAddress, Int32(k.count), m.bindMemory(to: UInt8.self).baseAddress, m.count, &out, &length)
      }
    }
    precondition(ok != nil && length == 32, "OpenSSL HMAC-SHA256 failed")
    return out
  }
}

/// Lowercase hexadecimal.
public enum Hex {
  private static let digits = Array("0123456789abcdef".utf8)

  /// `bytes` as lowercase hex.
  public static func encode(_ bytes: some Sequence<UInt8>) -> String {
    var out: [UInt8] = []
    for b in bytes {
      out.append(digits[Int(b >> 4)])
      out.append(digits[Int(b & 0x0F)])
    }
    return String(decoding: out, as: UTF8.self)
  }

  /// The value of one hex digit (either case), or nil. Inlinable: UUID parsing on the status path uses it.
  @inlinable
  public static func value(ofDigit c: UInt8) -> UInt8? {
    switch c {
    case 0x30...0x39: c - 0x30
    case 0x61...0x66: c - 0x57
    case 0x41...0x46: c - 0x37
    default: nil
    }
  }
}

extension SHA256 {
  /// The digest of the file at `path`, read in 1 MiB pieces.
  public static func hashFile(_ path: String) throws -> [UInt8] {
    let handle = try FileHandle(forReadingFrom: URL(fileURLWithPath: path))
    defer { try? handle.close() }
    var hasher = SHA256()
    while let chunk = try handle.read(upToCount: 1 << 20), !chunk.isEmpty { hasher.update(chunk) }
    return hasher.finalize()
  }
}

/// MD5, only for `Content-MD5` (the integrity header S3 and GCS check); never for security.
public enum MD5 {
  /// The base64 MD5 of the file at `path`, as `Content-MD5` carries it.
  public static func base64OfFile(_ path: String) throws -> String {
    let handle = try FileHandle(forReadingFrom: URL(fileURLWithPath: path))
    defer { try? handle.close() }
    guard let context = EVP_MD_CTX_new(), EVP_DigestInit_ex(context, EVP_md5(), nil) == 1 else {
      fatalError("OpenSSL could not set up MD5")
    }
    defer { EVP_MD_CTX_free(context) }
    while let chunk = try handle.read(upToCount: 1 << 20), !chunk.isEmpty {
      chunk.withUnsafeBytes { _ = EVP_DigestUpdate(context, $0.baseAddress, $0.count) }
    }
    var digest = [UInt8](repeating: 0, count: 16)
    var length: UInt32 = 0
    EVP_DigestFinal_ex(context, &digest, &length)
    return Data(digest).base64EncodedString()
  }
}
