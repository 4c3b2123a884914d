import Foundation

#if canImport(Glibc)
  import Glibc
#endif

/// Turns a URL's host into addresses. Injected like the clock: the system resolver in production, a static
/// map in tests (there is no DNS server on test machines).
public protocol HostResolver: Sendable {
  /// Every address `host` resolves to; an empty result or an error means it does not resolve.
  func resolve(_ host: String) throws(ResolutionError) -> [IPAddress]
}

/// A host that could not be resolved.
public struct ResolutionError: Error, Sendable, Equatable, CustomStringConvertible {
  public var host: String
  public var reason: String
  public var description: String { "cannot resolve \(host): \(reason)" }
}

/// The system's resolver (`getaddrinfo`). Numeric hosts are read the way the C library reads them, which
/// accepts spellings such as `2130706433`, `0x7f.1` and `017700000001`: the policy then judges the address
/// they really are. `localhost`, `localhost.` and every name under `.localhost` are loopback without asking
/// DNS (RFC 6761), so no resolver can answer otherwise for them.
public struct SystemResolver: HostResolver {
  public init() {}

  static let loopback = [IPAddress("127.0.0.1")!, IPAddress("::1")!]

  public func resolve(_ host: String) throws(ResolutionError) -> [IPAddress] {
    let bare = host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
    let name = bare.lowercased()
    let absolute = name.hasSuffix(".") ? String(name.dropLast()) : name
    if absolute == "localhost" || absolute.hasSuffix(".localhost") { return Self.loopback }
    var hints = addrinfo()
    hints.ai_socktype = Int32(Glibc.SOCK_STREAM.rawValue)
    var list: UnsafeMutablePointer<addrinfo>?
    let rc = getaddrinfo(bare, nil, &hints, &list)
    guard rc == 0 else {
      throw ResolutionError(host: host, reason: String(cString: gai_strerror(rc)))
    }
    defer { freeaddrinfo(list) }
    var addresses: [IPAddress] = []
    var next = list
    while let info = next {
      if let address = Self.address(info.pointee.ai_addr), !addresses.contains(address) { addresses.append(address) }
      next = info.pointee.ai_next
    }
    return addresses
  }

  static func address(_ sockaddr: UnsafeMutablePointer<sockaddr>?) -> IPAddress? {
    guard let sockaddr else { return nil }
    switch Int32(sockaddr.pointee.sa_family) {
    case AF_INET:
      return sockaddr.withMemoryRebound(to: sockaddr_in.self, capacity: 1) {
        var a = $0.pointee.sin_addr
        return IPAddress(bytes: withUnsafeBytes(of: &a) { Array($0) })
      }
    case AF_INET6:
      return sockaddr.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) {
        var a = $0.pointee.sin6_addr
        return IPAddress(bytes: withUnsafeBytes(of: &a) { Array($0) })
      }
    default:
      return nil
    }
  }
}

/// A fixed map of names to addresses; literals resolve to themselves (including the C library's numeric
/// spellings, via `SystemResolver`, which needs no DNS for them).
public struct StaticResolver: HostResolver {
  public let names: [String: [IPAddress]]

  public init(_ names: [String: [IPAddress]]) {
    self.names = Dictionary(uniqueKeysWithValues: names.map { ($0.key.lowercased(), $0.value) })
  }

  public func resolve(_ host: String) throws(ResolutionError) -> [IPAddress] {
    if let addresses = names[host.lowercased()] { return addresses }
    if host.first?.isNumber == true || host.hasPrefix("[") || host.contains(":") {
      var hints = addrinfo()
      hints.ai_flags = AI_NUMERICHOST
      var list: UnsafeMutablePointer<addrinfo>?
      let bare = host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
      if getaddrinfo(bare, nil, &hints, &list) == 0, let info = list {
        defer { freeaddrinfo(list) }
        if let address = SystemResolver.address(info.pointee.ai_addr) { return [address] }
      }
    }
    throw ResolutionError(host: host, reason: "not in the test's name map")
  }
}
