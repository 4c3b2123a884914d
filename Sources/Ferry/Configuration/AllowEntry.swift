import Foundation

/// Syntax of `network.allow` entries: `CIDR`, `IPv4:port`, `[IPv6]:port` or `name:port`.
enum AllowEntry {
  /// What is wrong with `entry`, or nil when it is well-formed.
  static func problem(_ entry: String) -> String? {
    if let slash = entry.lastIndex(of: "/") {
      let address = String(entry[..<slash])
      guard let prefix = Int(entry[entry.index(after: slash)...]) else { return "the prefix length must be a number" }
      if isIPv4(address) { return (0...32).contains(prefix) ? nil : "an IPv4 prefix length is 0 to 32" }
      if isIPv6(address) { return (0...128).contains(prefix) ? nil : "an IPv6 prefix length is 0 to 128" }
      return "not an IP address before the prefix length"
    }
    if entry.hasPrefix("[") {
      guard let close = entry.firstIndex(of: "]"), isIPv6(String(entry[entry.index(after: entry.startIndex)..<close])),
        entry[close...].hasPrefix("]:"), isPort(entry[entry.index(close, offsetBy: 2)...])
      else { return "expected [IPv6]:port" }
      return nil
    }
    guard let colon = entry.lastIndex(of: ":"), entry.firstIndex(of: ":") == colon else {
      return isIPv4(entry) || isIPv6(entry)
        ? "add a prefix length (/32, /128) or a port" : "expected CIDR, IP:port, [IPv6]:port or name:port"
    }
    let host = entry[..<colon]
    guard isPort(entry[entry.index(after: colon)...]) else { return "the port must be 1 to 65535" }
    let hostChars = host.utf8.allSatisfy { b in
      (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A) || b == 0x2D || b == 0x2E
    }
    return !host.isEmpty && hostChars ? nil : "not a valid host name"
  }

  static func isIPv4(_ s: String) -> Bool {
    var addr = in_addr()
    return inet_pton(AF_INET, s, &addr) == 1
  }

  static func isIPv6(_ s: String) -> Bool {
    var addr = in6_addr()
    return inet_pton(AF_INET6, s, &addr) == 1
  }

  private static func isPort(_ s: Substring) -> Bool {
    guard let p = Int(s), s.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { return false }
    return (1...65535).contains(p)
  }
}
