import Foundation

/// A deliberately misbehaving HTTP/1.1 server for transfer tests. Each connection carries one request; the
/// test's `behavior` closure decides the answer. Every connection and request is recorded, so a test can
/// prove that nothing ever reached it. Stopped by `stop()` (or on deinit).
public final class FaultServer: @unchecked Sendable {
  /// How to answer one request.
  public enum Behavior: Sendable {
    /// Serve `body`, honouring `Range: bytes=N-` with 206 unless `ignoreRange`; with `resetAfter`, send that
    /// many body bytes of this answer and then reset the connection. Without `contentLength` the body is
    /// delimited by closing the connection.
    case serve(body: [UInt8], resetAfter: Int? = nil, ignoreRange: Bool = false, contentLength: Bool = true)
    /// A status with headers and a short body.
    case status(Int, headers: [(String, String)] = [], body: String = "")
    /// Headers promising `body` and its first `sentFirst` bytes, then nothing for `seconds` (less if the
    /// server is stopped), then the rest.
    case stall(body: [UInt8], seconds: Double, sentFirst: Int = 0)
    /// Headers promising `body`, then `bytesPerSecond` of it each second until it is sent, the peer leaves or
    /// the server is stopped; with `resetAfter`, the connection is reset once that many body bytes are sent.
    /// Honours `Range: bytes=N-` with 206 when `ranges` is set.
    case trickle(body: [UInt8], bytesPerSecond: Int, resetAfter: Int? = nil, ranges: Bool = false)
  }

  /// A request as received.
  public struct Received: Sendable {
    public var method: String
    public var target: String
    public var headers: [(String, String)]
    /// The body, when the request declared a Content-Length.
    public var body: [UInt8] = []
    public func header(_ name: String) -> String? { headers.first { $0.0.lowercased() == name.lowercased() }?.1 }
  }

  public let port: Int
  public let host: String
  private let fd: Int32
  private let lock = NSLock()
  private var received: [Received] = []
  private var connections = 0
  private var stopped = false
  private let behavior: @Sendable (Received, Int) -> Behavior

  /// Listens on `host` (127.0.0.1, another loopback address, or `::1`) on a free port.
  public init(host: String = "127.0.0.1", behavior: @escaping @Sendable (Received, Int) -> Behavior) throws {
    self.host = host
    self.behavior = behavior
    let v6 = host.contains(":")
    let sock = socket(v6 ? AF_INET6 : AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    var one: Int32 = 1
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
    if v6 { setsockopt(sock, Int32(IPPROTO_IPV6), IPV6_V6ONLY, &one, socklen_t(MemoryLayout<Int32>.size)) }
    // One address buffer for either family; port 0 asks for a free one.
    var storage = sockaddr_storage()
    var length = socklen_t(v6 ? MemoryLayout<sockaddr_in6>.size : MemoryLayout<sockaddr_in>.size)
    withUnsafeMutableBytes(of: &storage) { raw in
      if v6 {
        let address = raw.baseAddress!.assumingMemoryBound(to: sockaddr_in6.self)
        address.pointee.sin6_family = sa_family_t(AF_INET6)
        inet_pton(AF_INET6, host, &address.pointee.sin6_addr)
      } else {
        let address = raw.baseAddress!.assumingMemoryBound(to: sockaddr_in.self)
        address.pointee.sin_family = sa_family_t(AF_INET)
        inet_pton(AF_INET, host, &address.pointee.sin_addr)
      }
    }
    let bound = withUnsafePointer(to: &storage) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(sock, $0, length) }
    }
    guard bound == 0, listen(sock, 64) == 0 else {
      close(sock)
      throw RawHTTPClient.ClientError(description: "FaultServer cannot listen on \(host)")
    }
    withUnsafeMutablePointer(to: &storage) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { _ = getsockname(sock, $0, &length) }
    }
    // sin_port and sin6_port sit at the same offset, right after the family.
    let boundPort = withUnsafeBytes(of: &storage) { UInt16(bigEndian: $0.load(fromByteOffset: 2, as: UInt16.self)) }
    fd = sock
    port = Int(boundPort)
    let thread = Thread { [self] in acceptLoop() }
    thread.start()
  }

  deinit { stop() }

  /// Every request received so far.
  public var requests: [Received] { lock.withLock { received } }
  /// Connections accepted so far.
  public var connectionCount: Int { lock.withLock { connections } }
  /// `http://host:port`
  public var base: String { host.contains(":") ? "http://[\(host)]:\(port)" : "http://\(host):\(port)" }

  public func stop() {
    let first = lock.withLock { () -> Bool in
      defer { stopped = true }
      return !stopped
    }
    if first {
      shutdown(fd, Int32(SHUT_RDWR))
      close(fd)
    }
  }

  private func acceptLoop() {
    while true {
      let client = accept(fd, nil, nil)
      if client < 0 { return }
      let index = lock.withLock { () -> Int in
        connections += 1
        return connections
      }
      let thread = Thread { [self] in serve(client, index) }
      thread.start()
    }
  }

  private func serve(_ client: Int32, _ index: Int) {
    defer { close(client) }
    var timeout = timeval(tv_sec: 5, tv_usec: 0)
    setsockopt(client, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    var buffer: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 65536)
    var headEnd: Int?
    while headEnd == nil {
      let n = recv(client, &chunk, chunk.count, 0)
      if n <= 0 { return }
      buffer.append(contentsOf: chunk[0..<n])
      if buffer.count > 1 << 20 { return }
      headEnd = (0..<max(0, buffer.count - 3)).first { buffer[$0..<($0 + 4)].elementsEqual("\r\n\r\n".utf8) }
    }
    let head = Array(buffer[0..<headEnd!])
    let leftover = Array(buffer[(headEnd! + 4)...])
    let lines = String(decoding: head, as: UTF8.self).components(separatedBy: "\r\n")
    let requestLine = lines[0].split(separator: " ")
    guard requestLine.count == 3 else { return }
    let headers = lines.dropFirst().compactMap { line -> (String, String)? in
      guard let colon = line.firstIndex(of: ":") else { return nil }
      return (String(line[..<colon]), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces))
    }
    var request = Received(method: String(requestLine[0]), target: String(requestLine[1]), headers: headers)
    if let length = request.header("Content-Length").flatMap(Int.init), length > 0, length <= 64 << 20 {
      var body = leftover
      while body.count < length {
        let n = recv(client, &chunk, min(chunk.count, length - body.count), 0)
        if n <= 0 { break }
        body.append(contentsOf: chunk[0..<n])
      }
      request.body = body
    }
    lock.withLock { received.append(request) }

    switch behavior(request, index) {
    case .status(let code, let extra, let body):
      var text = "HTTP/1.1 \(code) Status\r\nContent-Length: \(body.utf8.count)\r\nConnection: close\r\n"
      for (name, value) in extra { text += "\(name): \(value)\r\n" }
      send(client, Array((text + "\r\n" + body).utf8))
    case .serve(let body, let resetAfter, let ignoreRange, let contentLength):
      var start = 0
      if !ignoreRange, let range = request.header("Range"), range.hasPrefix("bytes="),
        let from = Int(range.dropFirst(6).split(separator: "-").first ?? ""), from < body.count
      {
        start = from
      }
      var text = start > 0 ? "HTTP/1.1 206 Partial Content\r\n" : "HTTP/1.1 200 OK\r\n"
      if start > 0 { text += "Content-Range: bytes \(start)-\(body.count - 1)/\(body.count)\r\n" }
      if contentLength { text += "Content-Length: \(body.count - start)\r\n" }
      text += "Content-Type: application/octet-stream\r\nConnection: close\r\n\r\n"
      send(client, Array(text.utf8))
      let part = Array(body[start...])
      if let resetAfter {
        send(client, Array(part.prefix(resetAfter)))
        usleep(50_000)
        var linger = Glibc.linger(l_onoff: 1, l_linger: 0)
        setsockopt(client, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<Glibc.linger>.size))
      } else {
        send(client, part)
      }
    case .stall(let body, let seconds, let sentFirst):
      send(client, Array("HTTP/1.1 200 OK\r\nContent-Length: \(body.count)\r\nConnection: close\r\n\r\n".utf8))
      send(client, Array(body.prefix(sentFirst)))
      let until = Date() + seconds
      while Date() < until, !lock.withLock({ stopped }) { usleep(20_000) }
      send(client, Array(body.dropFirst(sentFirst)))
    case .trickle(let body, let rate, let resetAfter, let ranges):
      var offset = 0
      if ranges, let range = request.header("Range"), range.hasPrefix("bytes="),
        let from = Int(range.dropFirst(6).split(separator: "-").first ?? ""), from < body.count
      {
        offset = from
        send(
          client,
          Array(
            ("HTTP/1.1 206 Partial Content\r\nContent-Range: bytes \(from)-\(body.count - 1)/\(body.count)\r\n"
              + "Content-Length: \(body.count - from)\r\nConnection: close\r\n\r\n").utf8))
      } else {
        send(
          client,
          Array(
            ("HTTP/1.1 200 OK\r\nContent-Length: \(body.count)\r\n"
              + (ranges ? "Accept-Ranges: bytes\r\nETag: \"fixed\"\r\n" : "") + "Connection: close\r\n\r\n").utf8))
      }
      let end = resetAfter.map { min(body.count, offset + $0) } ?? body.count
      // Ten sends a second; bounded by the body's length.
      let step = max(1, rate / 10)
      while offset < end, !lock.withLock({ stopped }) {
        let piece = Array(body[offset..<min(end, offset + step)])
        guard piece.withUnsafeBytes({ Glibc.send(client, $0.baseAddress!, $0.count, Int32(MSG_NOSIGNAL)) }) > 0
        else { break }
        offset += piece.count
        usleep(100_000)
      }
      if resetAfter != nil {
        var linger = Glibc.linger(l_onoff: 1, l_linger: 0)
        setsockopt(client, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<Glibc.linger>.size))
      }
    }
  }

  private func send(_ client: Int32, _ bytes: [UInt8]) {
    var offset = 0
    while offset < bytes.count {
      let n = bytes.withUnsafeBytes {
        Glibc.send(client, $0.baseAddress! + offset, $0.count - offset, Int32(MSG_NOSIGNAL))
      }
      if n <= 0 { return }
      offset += n
    }
  }
}
