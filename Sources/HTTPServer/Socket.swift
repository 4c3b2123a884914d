import CSpawn
import Foundation

/// Thin helpers over the BSD socket calls the server makes; they turn return codes into `SocketError`.
enum Socket {
  /// Creates a non-blocking listening socket bound to `host:port`; returns it and the bound port.
  static func listen(host: String, port: Int, backlog: Int32 = 4096) throws -> (fd: Int32, port: Int) {
    var hints = addrinfo()
    hints.ai_family = AF_UNSPEC
    hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV
    var list: UnsafeMutablePointer<addrinfo>?
    let rc = getaddrinfo(host, String(port), &hints, &list)
    guard rc == 0, let info = list else {
      throw SocketError(operation: "resolve \(host)", message: String(cString: gai_strerror(rc)))
    }
    defer { freeaddrinfo(list) }
    let fd = ferry_stream_socket_cloexec(info.pointee.ai_family)
    guard fd >= 0 else { throw SocketError.errno("socket") }
    var one: Int32 = 1
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
    guard bind(fd, info.pointee.ai_addr, info.pointee.ai_addrlen) == 0 else {
      let error = SocketError.errno("bind \(host):\(port)")
      close(fd)
      throw error
    }
    guard Glibc.listen(fd, backlog) == 0 else {
      let error = SocketError.errno("listen")
      close(fd)
      throw error
    }
    setNonBlocking(fd)
    var storage = sockaddr_storage()
    var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
    withUnsafeMutablePointer(to: &storage) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { _ = getsockname(fd, $0, &length) }
    }
    return (fd, address(of: storage).port)
  }

  private static func cString(_ buffer: [CChar]) -> String {
    let bytes = buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }
    return String(decoding: bytes, as: UTF8.self)
  }

  static func setNonBlocking(_ fd: Int32) {
    let flags = fcntl(fd, F_GETFL)
    _ = fcntl(fd, F_SETFL, flags | O_NONBLOCK)
  }

  static func setNoDelay(_ fd: Int32) {
    var one: Int32 = 1
    setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
  }

  /// The textual address and port of a socket address.
  /// Holds partial segments back while `on` (`TCP_CORK`), so a run of small writes leaves as full segments;
  /// turning it off sends what is held at once.
  static func setCork(_ fd: Int32, _ on: Bool) {
    var value: Int32 = on ? 1 : 0
    setsockopt(fd, Int32(IPPROTO_TCP), TCP_CORK, &value, socklen_t(MemoryLayout<Int32>.size))
  }

  static func address(of storage: sockaddr_storage) -> (host: String, port: Int) {
    var storage = storage
    var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN) + 1)
    // Reads the address as `Address` (`sockaddr_in`, `sockaddr_in6`), whose field `ip` inet_ntop writes out.
    func text<Address>(_: Address.Type, _ family: Int32, ip: PartialKeyPath<Address>, port: KeyPath<Address, in_port_t>)
      -> (host: String, port: Int)
    {
      withUnsafePointer(to: &storage) {
        $0.withMemoryRebound(to: Address.self, capacity: 1) { address in
          inet_ntop(
            family, UnsafeRawPointer(address) + MemoryLayout<Address>.offset(of: ip)!, &buffer, socklen_t(buffer.count))
          return (cString(buffer), Int(UInt16(bigEndian: address.pointee[keyPath: port])))
        }
      }
    }
    switch Int32(storage.ss_family) {
    case AF_INET: return text(sockaddr_in.self, AF_INET, ip: \.sin_addr, port: \.sin_port)
    case AF_INET6: return text(sockaddr_in6.self, AF_INET6, ip: \.sin6_addr, port: \.sin6_port)
    default: return ("unknown", 0)
    }
  }

  /// Raises the open-file soft limit to the hard limit (the default 1024 is far below `maxConnections`).
  static func raiseOpenFileLimit() {
    var limit = rlimit()
    guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0, limit.rlim_cur < limit.rlim_max else { return }
    limit.rlim_cur = limit.rlim_max
    _ = setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
  }
}

/// A failed socket call.
public struct SocketError: Error, CustomStringConvertible {
  /// What was being done (`bind 127.0.0.1:8080`).
  public let operation: String
  /// The system's message.
  public let message: String

  static func errno(_ operation: String) -> SocketError {
    SocketError(operation: operation, message: String(cString: strerror(Glibc.errno)))
  }

  public var description: String { "\(operation): \(message)" }
}
