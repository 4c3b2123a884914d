import Foundation

/// An HTTP/1.1 proxy on 127.0.0.1 in front of a real peer (moto, the strict proxy) that can lose answers: for
/// each request the test's `action` closure decides whether it is forwarded as is, forwarded with the answer
/// then dropped (the peer did the work, the client sees a connection reset), or answered by the proxy itself.
/// One request per connection (Ferry's client opens a connection per exchange). Bodies must carry
/// Content-Length (Ferry never sends chunked ones). Every request line is recorded. Threads only, no process;
/// every socket read has a timeout, so nothing waits forever. Stopped by `stop()` (or on deinit).
public final class FaultProxy: @unchecked Sendable {
  /// What to do with one request.
  public enum Action: Sendable {
    /// Forward it and pass the whole answer back.
    case forward
    /// Hold it this many seconds (a slow link), then forward it.
    case forwardAfter(seconds: Double)
    /// Forward it, wait for the whole answer, then reset the client's connection instead of answering.
    case forwardThenReset
    /// Answer it here with a status, headers and body; the peer never sees it.
    case answer(Int, headers: [(String, String)] = [], body: String = "")
  }

  /// A request's method, target and headers, as received.
  public struct Request: Sendable {
    public var method: String
    public var target: String
    public var headers: [(String, String)]
    public func header(_ name: String) -> String? { headers.first { $0.0.lowercased() == name.lowercased() }?.1 }
  }

  public let port: Int
  private let upstreamPort: Int
  private let fd: Int32
  private let lock = NSLock()
  private var seen: [String] = []
  private var stopped = false
  private let action: @Sendable (Request) -> Action

  /// Listens on a free port of 127.0.0.1 and forwards to `127.0.0.1:upstreamPort`.
  public init(upstreamPort: Int, action: @escaping @Sendable (Request) -> Action) throws {
    self.upstreamPort = upstreamPort
    self.action = action
    let sock = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    var address = FaultProxy.loopback(port: 0)
    let bound = withUnsafePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(sock, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard bound == 0, listen(sock, 64) == 0 else {
      close(sock)
      throw RawHTTPClient.ClientError(description: "FaultProxy cannot listen on 127.0.0.1")
    }
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    withUnsafeMutablePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { _ = getsockname(sock, $0, &length) }
    }
    fd = sock
    port = Int(UInt16(bigEndian: address.sin_port))
    Thread { [self] in acceptLoop() }.start()
  }

  deinit { stop() }

  /// `http://127.0.0.1:port`
  public var base: String { "http://127.0.0.1:\(port)" }

  /// The request lines (`METHOD TARGET`) received so far, in order.
  public var requestLines: [String] { lock.withLock { seen } }

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
      Thread { [self] in handle(client) }.start()
    }
  }

  private func handle(_ client: Int32) {
    defer { close(client) }
    FaultProxy.setTimeout(client)
    guard let (request, bytes) = readRequest(client) else { return }
    lock.withLock { seen.append("\(request.method) \(request.target)") }
    switch action(request) {
    case .answer(let code, let headers, let body):
      var text = "HTTP/1.1 \(code) Fault\r\nContent-Length: \(body.utf8.count)\r\nConnection: close\r\n"
      for (name, value) in headers { text += "\(name): \(value)\r\n" }
      FaultProxy.send(client, Array((text + "\r\n" + body).utf8))
    case .forward:
      guard let answer = exchange(bytes) else { return }
      FaultProxy.send(client, answer)
    case .forwardAfter(let seconds):
      Thread.sleep(forTimeInterval: seconds)
      guard let answer = exchange(bytes) else { return }
      FaultProxy.send(client, answer)
    case .forwardThenReset:
      _ = exchange(bytes)
      // Closing with a zero linger time sends RST: the client loses the answer the peer gave.
      var linger = Glibc.linger(l_onoff: 1, l_linger: 0)
      setsockopt(client, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<Glibc.linger>.size))
    }
  }

  /// The request's head and its Content-Length body, and all of its bytes as received.
  private func readRequest(_ client: Int32) -> (Request, [UInt8])? {
    var buffer: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 65536)
    var headEnd: Int?
    while headEnd == nil {
      let n = recv(client, &chunk, chunk.count, 0)
      if n <= 0 || buffer.count > 1 << 20 { return nil }
      let searchFrom = max(0, buffer.count - 3)
      buffer.append(contentsOf: chunk[0..<n])
      headEnd = (searchFrom..<max(searchFrom, buffer.count - 3)).first {
        buffer[$0..<($0 + 4)].elementsEqual("\r\n\r\n".utf8)
      }
    }
    let lines = String(decoding: buffer[0..<headEnd!], as: UTF8.self).components(separatedBy: "\r\n")
    let requestLine = lines[0].split(separator: " ")
    guard requestLine.count == 3 else { return nil }
    let headers = lines.dropFirst().compactMap { line -> (String, String)? in
      guard let colon = line.firstIndex(of: ":") else { return nil }
      return (String(line[..<colon]), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces))
    }
    let request = Request(method: String(requestLine[0]), target: String(requestLine[1]), headers: headers)
    if request.header("Transfer-Encoding") != nil { return nil }
    let total = headEnd! + 4 + (request.header("Content-Length").flatMap(Int.init) ?? 0)
    guard total <= 256 << 20 else { return nil }
    while buffer.count < total {
      let n = recv(client, &chunk, min(chunk.count, total - buffer.count), 0)
      if n <= 0 { return nil }
      buffer.append(contentsOf: chunk[0..<n])
    }
    return (request, Array(buffer.prefix(total)))
  }

  /// Sends `request` to the peer on a new connection, half-closes it (so the peer closes after answering) and
  /// returns everything the peer sent back.
  private func exchange(_ request: [UInt8]) -> [UInt8]? {
    let upstream = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(upstream) }
    FaultProxy.setTimeout(upstream)
    var address = FaultProxy.loopback(port: upstreamPort)
    let connected = withUnsafePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
        connect(upstream, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
      }
    }
    guard connected == 0, FaultProxy.send(upstream, request) else { return nil }
    shutdown(upstream, Int32(SHUT_WR))
    var answer: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 65536)
    while answer.count <= 256 << 20 {
      let n = recv(upstream, &chunk, chunk.count, 0)
      if n < 0 { return nil }
      if n == 0 { break }
      answer.append(contentsOf: chunk[0..<n])
    }
    return answer
  }

  private static func loopback(port: Int) -> sockaddr_in {
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = UInt16(port).bigEndian
    inet_pton(AF_INET, "127.0.0.1", &address.sin_addr)
    return address
  }

  /// Reads give up after 10 s: a peer that never answers cannot hang a test.
  private static func setTimeout(_ socket: Int32) {
    var timeout = timeval(tv_sec: 10, tv_usec: 0)
    setsockopt(socket, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    setsockopt(socket, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
  }

  @discardableResult
  private static func send(_ socket: Int32, _ bytes: [UInt8]) -> Bool {
    var offset = 0
    while offset < bytes.count {
      let n = bytes.withUnsafeBytes {
        Glibc.send(socket, $0.baseAddress! + offset, $0.count - offset, Int32(MSG_NOSIGNAL))
      }
      if n <= 0 { return false }
      offset += n
    }
    return true
  }
}
