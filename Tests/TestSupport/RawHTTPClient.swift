import Foundation

/// A blocking HTTP/1.1 client on a raw socket, for tests that need byte-level control: exact request bytes,
/// pipelining, slow sending, half-closes. Every read has a timeout, so no test can hang on it.
/// Not thread-safe: use one client from one thread at a time (handing it over between threads is fine).
public final class RawHTTPClient: @unchecked Sendable {
  /// A response as read off the wire.
  public struct Response: Sendable {
    public var status: Int
    public var reason: String
    public var headers: [(String, String)]
    public var body: [UInt8]

    public func header(_ name: String) -> String? {
      headers.first { $0.0.lowercased() == name.lowercased() }?.1
    }

    public var text: String { String(decoding: body, as: UTF8.self) }

    /// The body parsed as a JSON object.
    public var json: [String: Any] {
      (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any] ?? [:]
    }
  }

  public struct ClientError: Error, CustomStringConvertible {
    public let description: String
    public init(description: String) { self.description = description }
  }

  public let fd: Int32
  private var buffer: [UInt8] = []

  /// Connects to `host:port` (IPv4 or IPv6 literal) from `source` (an IPv4 literal such as `127.0.0.2`, or
  /// the system's choice); reads time out after `timeout` seconds.
  public init(host: String = "127.0.0.1", port: Int, timeout: Double = 10, source: String? = nil) throws {
    var hints = addrinfo()
    hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
    hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV
    var list: UnsafeMutablePointer<addrinfo>?
    guard getaddrinfo(host, String(port), &hints, &list) == 0, let info = list else {
      throw ClientError(description: "cannot resolve \(host)")
    }
    defer { freeaddrinfo(list) }
    fd = socket(info.pointee.ai_family, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw ClientError(description: "socket: \(errno)") }
    var tv = timeval(tv_sec: Int(timeout), tv_usec: Int((timeout - timeout.rounded(.down)) * 1e6))
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    if let source {
      var address = sockaddr_in()
      address.sin_family = sa_family_t(AF_INET)
      inet_pton(AF_INET, source, &address.sin_addr)
      let bound = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
      }
      guard bound == 0 else { throw ClientError(description: "bind to \(source): \(String(cString: strerror(errno)))") }
    }
    guard connect(fd, info.pointee.ai_addr, info.pointee.ai_addrlen) == 0 else {
      // No close here: a class whose init throws once every property is set still runs deinit, which closes
      // the socket. Closing it here too closed whatever file the number belonged to by then (a flaky test).
      throw ClientError(description: "connect to \(host):\(port): \(String(cString: strerror(errno)))")
    }
  }

  deinit {
    if fd >= 0 { close(fd) }
  }

  /// Sends `text` as UTF-8 bytes.
  public func send(_ text: String) throws { try send(Array(text.utf8)) }

  /// Sends all of `bytes`.
  public func send(_ bytes: [UInt8]) throws {
    var offset = 0
    while offset < bytes.count {
      let n = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + offset, $0.count - offset, Int32(MSG_NOSIGNAL)) }
      guard n > 0 else { throw ClientError(description: "send failed: \(String(cString: strerror(errno)))") }
      offset += n
    }
  }

  /// Shuts down the sending side (the server sees end of input).
  public func closeWrite() { shutdown(fd, Int32(SHUT_WR)) }

  /// Reads one response (body by Content-Length; none for HEAD when `head` is true).
  public func readResponse(head: Bool = false) throws -> Response {
    let headEnd = try readUntil(Array("\r\n\r\n".utf8))
    let headText = String(decoding: buffer[0..<headEnd], as: UTF8.self)
    buffer.removeFirst(headEnd + 4)
    var lines = headText.components(separatedBy: "\r\n")
    let statusLine = lines.removeFirst().split(separator: " ", maxSplits: 2).map(String.init)
    guard statusLine.count >= 2, let status = Int(statusLine[1]) else {
      throw ClientError(description: "bad status line: \(headText.prefix(80))")
    }
    let headers = lines.map { line -> (String, String) in
      let parts = line.split(separator: ":", maxSplits: 1).map(String.init)
      return (parts[0], parts.count > 1 ? parts[1].trimmingCharacters(in: .whitespaces) : "")
    }
    var response = Response(
      status: status, reason: statusLine.count > 2 ? statusLine[2] : "", headers: headers, body: [])
    if status == 100 { return response }
    if !head, let length = response.header("Content-Length").flatMap(Int.init), length > 0 {
      try fill(length)
      response.body = Array(buffer[0..<length])
      buffer.removeFirst(length)
    }
    return response
  }

  /// Reads until the server closes; returns what arrived (after anything already buffered).
  public func readToEnd() throws -> [UInt8] {
    while try readMore() > 0 {}
    defer { buffer.removeAll() }
    return buffer
  }

  /// Whether the server sent something (or closed) within `milliseconds`, without reading it.
  public func isReadable(within milliseconds: Int32) -> Bool {
    if !buffer.isEmpty { return true }
    var entry = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
    return poll(&entry, 1, milliseconds) > 0
  }

  /// Whether the server closed the connection (reads end of input) within the read timeout.
  public func isClosedByServer() -> Bool {
    (try? readToEnd()) != nil
  }

  private func readUntil(_ marker: [UInt8]) throws -> Int {
    var searchFrom = 0
    while true {
      if buffer.count >= marker.count {
        for i in searchFrom...(buffer.count - marker.count) where buffer[i..<(i + marker.count)].elementsEqual(marker) {
          return i
        }
        searchFrom = max(0, buffer.count - marker.count + 1)
      }
      guard try readMore() > 0 else { throw ClientError(description: "connection closed before a full response") }
    }
  }

  private func fill(_ count: Int) throws {
    while buffer.count < count {
      guard try readMore() > 0 else { throw ClientError(description: "connection closed mid-body") }
    }
  }

  private func readMore() throws -> Int {
    var chunk = [UInt8](repeating: 0, count: 65536)
    let n = recv(fd, &chunk, chunk.count, 0)
    if n < 0 {
      if errno == ECONNRESET { return 0 }
      throw ClientError(description: "read failed or timed out: \(String(cString: strerror(errno)))")
    }
    buffer.append(contentsOf: chunk[0..<n])
    return n
  }
}

/// Raises this process's open-file limit (tests that open many sockets need more than 1024).
public func raiseOpenFileLimit() {
  var limit = rlimit()
  guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return }
  limit.rlim_cur = limit.rlim_max
  _ = setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
}
