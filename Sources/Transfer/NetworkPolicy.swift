/// Decides whether Ferry may connect to an address: everything that reaches inside the operator's network
/// (loopback, private ranges, link-local and cloud metadata, CGNAT, multicast, reserved and documentation
/// ranges, unspecified addresses, unique-local IPv6, and IPv6 forms that carry an IPv4 address: mapped,
/// compatible, 6to4, NAT64, Teredo) is refused unless `network.allow` opens it. The decision is made on the
/// address actually connected to, for every connection and every redirect hop.
public struct NetworkPolicy: Sendable {
  /// One `network.allow` entry.
  public enum Rule: Sendable, Equatable {
    /// Any port on addresses in the network.
    case network(IPAddress, prefix: Int)
    /// One address and port.
    case endpoint(IPAddress, port: Int)
    /// A host name as written in URLs (case-insensitive) and a port.
    case host(String, port: Int)
  }

  public let rules: [Rule]

  /// A policy opening the given `network.allow` entries (`127.0.0.0/8`, `10.0.0.5:9000`, `[::1]:9000`,
  /// `minio.internal:9000`).
  public init(allow entries: [String]) throws(NetworkPolicyError) {
    rules = try entries.map { entry throws(NetworkPolicyError) in try Self.rule(entry) }
  }

  public init(rules: [Rule] = []) {
    self.rules = rules
  }

  /// Why an address is refused, or nil when it may be connected to. `host` is the name the URL used.
  public func refusal(address: IPAddress, port: Int, host: String) -> String? {
    guard let reason = Self.restriction(of: address) else { return nil }
    for rule in rules {
      switch rule {
      case .network(let network, let prefix) where address.isIn(network, prefix: prefix): return nil
      case .endpoint(let allowed, let allowedPort) where allowed == address && allowedPort == port: return nil
      case .host(let name, let allowedPort) where allowedPort == port && Self.sameHost(name, host): return nil
      default: continue
      }
    }
    return "\(address) is \(reason); network.allow does not open it"
  }

  private static func sameHost(_ a: String, _ b: String) -> Bool {
    func canonical(_ s: String) -> String {
      var s = s.lowercased()
      if s.hasSuffix(".") { s.removeLast() }
      if s.hasPrefix("[") && s.hasSuffix("]") { s = String(s.dropFirst().dropLast()) }
      return s
    }
    return canonical(a) == canonical(b)
  }

  /// Why `address` is refused by default, or nil for an ordinary public address.
  public static func restriction(of address: IPAddress) -> String? {
    let table = address.isIPv4 ? ipv4Ranges : ipv6Ranges
    for (network, prefix, reason) in table where address.isIn(network, prefix: prefix) { return reason }
    return nil
  }

  // Ranges refused by default (IANA special-purpose registries), most specific reasons first.
  private static let ipv4Ranges: [(IPAddress, Int, String)] = [
    ("0.0.0.0", 8, "an unspecified or \"this network\" address"), ("10.0.0.0", 8, "a private address"),
    ("100.64.0.0", 10, "a carrier-grade NAT address"), ("127.0.0.0", 8, "a loopback address"),
    ("169.254.0.0", 16, "a link-local address (cloud metadata lives here)"), ("172.16.0.0", 12, "a private address"),
    ("192.0.0.0", 24, "an IETF protocol address"), ("192.0.2.0", 24, "a documentation address"),
    ("192.88.99.0", 24, "a 6to4 relay address"), ("192.168.0.0", 16, "a private address"),
    ("198.18.0.0", 15, "a benchmarking address"), ("198.51.100.0", 24, "a documentation address"),
    ("203.0.113.0", 24, "a documentation address"), ("224.0.0.0", 4, "a multicast address"),
    ("240.0.0.0", 4, "a reserved or broadcast address"),
  ].map { (IPAddress($0.0)!, $0.1, $0.2) }

  private static let ipv6Ranges: [(IPAddress, Int, String)] = [
    ("::", 128, "the unspecified address"), ("::1", 128, "a loopback address"),
    ("::ffff:0:0", 96, "an IPv4-mapped address"), ("::", 96, "an IPv4-compatible address"),
    ("64:ff9b::", 96, "a NAT64 address"), ("64:ff9b:1::", 48, "a NAT64 address"), ("100::", 64, "a discard address"),
    ("2001::", 32, "a Teredo address"), ("2001::", 23, "an IETF protocol address"),
    ("2001:db8::", 32, "a documentation address"), ("2002::", 16, "a 6to4 address"),
    ("fc00::", 7, "a unique-local address"), ("fe80::", 10, "a link-local address"),
    ("fec0::", 10, "a site-local address"), ("ff00::", 8, "a multicast address"),
  ].map { (IPAddress($0.0)!, $0.1, $0.2) }

  static func rule(_ entry: String) throws(NetworkPolicyError) -> Rule {
    let fail = NetworkPolicyError(entry: entry)
    if let slash = entry.lastIndex(of: "/") {
      guard let address = IPAddress(String(entry[..<slash])), let prefix = Int(entry[entry.index(after: slash)...]),
        prefix >= 0, prefix <= address.bytes.count * 8
      else { throw fail }
      return .network(address, prefix: prefix)
    }
    guard let colon = entry.lastIndex(of: ":"), let port = Int(entry[entry.index(after: colon)...]),
      (1...65535).contains(port)
    else { throw fail }
    let host = String(entry[..<colon])
    if host.hasPrefix("[") {
      guard let address = IPAddress(host), !address.isIPv4 else { throw fail }
      return .endpoint(address, port: port)
    }
    if let address = IPAddress(host), address.isIPv4 { return .endpoint(address, port: port) }
    guard !host.isEmpty, !host.contains(":") else { throw fail }
    return .host(host, port: port)
  }
}

/// A `network.allow` entry that is not CIDR, `IP:port`, `[IPv6]:port` or `name:port`.
public struct NetworkPolicyError: Error, Sendable, Equatable, CustomStringConvertible {
  public var entry: String
  public var description: String {
    "network.allow entry \"\(entry)\" is not CIDR, IP:port, [IPv6]:port or name:port"
  }
}
