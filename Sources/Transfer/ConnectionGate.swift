import CCurl
import Foundation

#if canImport(Glibc)
  import Glibc
#endif

/// The last check before a socket opens: whatever address curl is about to connect to must be one the
/// network policy passed for this request. Installed as curl's open-socket callback.
final class ConnectionGate {
  let allowed: Set<IPAddress>
  let policy: NetworkPolicy
  let host: String
  let port: Int
  /// Set when a connection was refused here.
  private(set) var refusal: String?

  init(allowed: [IPAddress], policy: NetworkPolicy, host: String, port: Int) {
    self.allowed = Set(allowed)
    self.policy = policy
    self.host = host
    self.port = port
  }

  /// Makes `curl` ask this gate before every connection; the gate must outlive the transfer.
  func install(on curl: CurlEasy) {
    curl.set(CURLOPT_OPENSOCKETDATA, pointer: Unmanaged.passUnretained(self).toOpaque())
    ferry_curl_setopt_opensocketcb(curl.handle, CURLOPT_OPENSOCKETFUNCTION, ConnectionGate.openSocket)
  }

  private func open(family: Int32, type: Int32, proto: Int32, address: IPAddress?, port: Int) -> Int32 {
    guard let address, allowed.contains(address), port == self.port else {
      let shown = address?.description ?? "an unknown address"
      refusal =
        address.flatMap { policy.refusal(address: $0, port: port, host: host) }
        ?? "\(shown) was not among the checked addresses"
      return -1  // CURL_SOCKET_BAD
    }
    return socket(family, type | Int32(Glibc.SOCK_CLOEXEC.rawValue), proto)
  }

  private static let openSocket: ferry_curl_opensocket_cb = { context, _, address in
    let gate = Unmanaged<ConnectionGate>.fromOpaque(context!).takeUnretainedValue()
    guard let address else { return -1 }
    let offset = MemoryLayout<curl_sockaddr>.offset(of: \curl_sockaddr.addr)!
    let sockaddrPointer = (UnsafeMutableRawPointer(address) + offset).assumingMemoryBound(to: sockaddr.self)
    // sin_port and sin6_port sit at the same offset, right after the family.
    let port = Int(UInt16(bigEndian: (UnsafeRawPointer(sockaddrPointer) + 2).loadUnaligned(as: UInt16.self)))
    return gate.open(
      family: address.pointee.family, type: address.pointee.socktype, proto: address.pointee.protocol,
      address: SystemResolver.address(sockaddrPointer), port: port)
  }
}
