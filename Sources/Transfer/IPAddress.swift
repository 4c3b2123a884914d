import Foundation

#if canImport(Glibc)
  import Glibc
#endif

/// An IPv4 or IPv6 address as bytes (4 or 16).
public struct IPAddress: Hashable, Sendable, CustomStringConvertible {
  public let bytes: [UInt8]

  /// Parses a literal in its standard form (`127.0.0.1`, `::1`, `[::1]`); nil for anything else.
  public init?(_ text: String) {
    let bare = text.hasPrefix("[") && text.hasSuffix("]") ? String(text.dropFirst().dropLast()) : text
    var v4 = in_addr()
    var v6 = in6_addr()
    if inet_pton(AF_INET, bare, &v4) == 1 {
      bytes = withUnsafeBytes(of: &v4) { Array($0) }
    } else if inet_pton(AF_INET6, bare, &v6) == 1 {
      bytes = withUnsafeBytes(of: &v6) { Array($0) }
    } else {
      return nil
    }
  }

  public init?(bytes: [UInt8]) {
    guard bytes.count == 4 || bytes.count == 16 else { return nil }
    self.bytes = bytes
  }

  public var isIPv4: Bool { bytes.count == 4 }

  public var description: String {
    var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN) + 1)
    bytes.withUnsafeBytes { raw in
      _ = inet_ntop(isIPv4 ? AF_INET : AF_INET6, raw.baseAddress, &buffer, socklen_t(buffer.count))
    }
    return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
  }

  /// Whether the first `prefix` bits equal those of `network` (of the same family).
  func isIn(_ network: IPAddress, prefix: Int) -> Bool {
    guard network.bytes.count == bytes.count, prefix <= bytes.count * 8 else { return false }
    var bits = prefix
    for i in 0..<bytes.count where bits > 0 {
      let mask: UInt8 = bits >= 8 ? 0xFF : ~(0xFF >> UInt8(bits))
      if bytes[i] & mask != network.bytes[i] & mask { return false }
      bits -= 8
    }
    return true
  }
}
