import Foundation
import Synchronization
import TestSupport
import Testing

/// Issue 18's slow-client attack at scale: 2,000 connections from one address trickling unauthenticated
/// requests must not keep anyone else from being answered, and none may hold its connection past the server's
/// deadline.
@Suite(.serialized) struct ConnectionFloodTests {
  @Test func twoThousandTricklingConnections_leaveHealthAndSubmissionsAnswered_andEachIsClosedInTime() async throws {
    raiseOpenFileLimit()
    let peer = try FaultServer { request, _ in
      request.method == "GET" ? .serve(body: testBytes(count: 1000)) : .status(200)
    }
    defer { peer.stop() }
    // A cap the flood alone could fill; one address may take a third of it.
    let server = try APITestServer(extraEnvironment: [
      "FERRY_SERVER_MAX_CONNECTIONS": "1500", "FERRY_SERVER_MAX_CONNECTIONS_PER_ADDRESS": "500",
      "FERRY_SERVER_HEADER_TIMEOUT_S": "2",
    ])
    defer { Task { await server.stop() } }
    let token = try await server.token(key: "app-a", secret: "secret-a")

    let flood = TricklingFlood(port: server.port, connections: 2000)
    defer { flood.stop() }
    // Let the flood fill what it can before measuring.
    for _ in 0..<100 where flood.stats.opened < 2000 { try await Task.sleep(for: .milliseconds(20)) }
    try await Task.sleep(for: .milliseconds(500))

    // Another client (another address) asks for /health five times a second and submits a job every second.
    let port = server.port
    let slowest = try await blocking {
      var slowest: [String] = []
      for round in 0..<30 {
        let started = Date()
        let client = try RawHTTPClient(port: port, timeout: 5, source: "127.0.0.2")
        if round % 5 == 0 {
          let body = #"{"input": "\#(peer.base)/in-\#(round)", "output": "\#(peer.base)/out-\#(round)"}"#
          try client.send(
            "POST /media/copy HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer \(token)\r\nContent-Type: application/json\r\n"
              + "Content-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n\(body)")
        } else {
          try client.send("GET /health HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        }
        let status = try client.readResponse().status
        let took = Date().timeIntervalSince(started)
        if status / 100 != 2 || took >= 1 { slowest.append("round \(round): \(status) after \(took) s") }
        Thread.sleep(forTimeInterval: 0.2)
      }
      return slowest
    }
    let stats = flood.stop()
    #expect(slowest.isEmpty, "\(slowest)")
    #expect(stats.closedByServer > 500, "the server closed the flood's connections as they came: \(stats)")
    #expect(stats.refused > 0, "the address past its cap was refused: \(stats)")
    // The head deadline is 2 s; a little more for a machine busy with 2,000 sockets.
    #expect(stats.longestOpen < 3.5, "no trickling connection was held past the deadline: \(stats)")
  }
}

/// Connections from 127.0.0.1 that each trickle a request a byte every 200 ms, opened again a second after the
/// server closes them, until `stop()`: half trickle the request head (the server waits for it up to its header
/// timeout), half send a head that promises a body without credentials and trickle the body.
final class TricklingFlood: Sendable {
  struct Stats: Sendable, CustomStringConvertible {
    var opened = 0
    var closedByServer = 0
    /// Connections answered 503 (past a connection cap).
    var refused = 0
    /// The longest a connection stayed open, closed by the server or still open at the end (seconds).
    var longestOpen = 0.0

    var description: String {
      "opened \(opened), closed by the server \(closedByServer), refused \(refused), longest open \(longestOpen) s"
    }
  }

  private struct Connection {
    var fd: Int32
    var opened: Date
    var sent: Int
    var trickleHead: Bool
    var answer: [UInt8] = []
  }

  private let state = Mutex((stats: Stats(), stopping: false, finished: false))
  private let finished = DispatchSemaphore(value: 0)

  init(port: Int, connections: Int) {
    let thread = Thread { [self] in run(port: port, count: connections) }
    thread.stackSize = 1 << 20
    thread.start()
  }

  var stats: Stats { state.withLock { $0.stats } }

  /// Stops the flood (closing every connection) and returns what it saw; again, only returns that.
  @discardableResult
  func stop() -> Stats {
    let wait = state.withLock { state -> Bool in
      defer { state.stopping = true }
      return !state.finished
    }
    if wait { _ = finished.wait(timeout: .now() + 10) }
    return stats
  }

  private static let head = Array(
    "POST /media/copy HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n".utf8)

  private func run(port: Int, count: Int) {
    var connections: [Connection] = []
    func connectOne(trickleHead: Bool) {
      let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
      guard fd >= 0 else { return }
      var address = sockaddr_in()
      address.sin_family = sa_family_t(AF_INET)
      address.sin_port = in_port_t(UInt16(port).bigEndian)
      inet_pton(AF_INET, "127.0.0.1", &address.sin_addr)
      let rc = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
          connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
        }
      }
      guard rc == 0 || errno == EINPROGRESS else {
        close(fd)
        return
      }
      // A body trickler sends its whole head at once; a head trickler its first byte.
      let first = trickleHead ? 1 : Self.head.count
      var sent = 0
      Self.head.withUnsafeBytes { sent = max(0, Glibc.send(fd, $0.baseAddress!, first, Int32(MSG_NOSIGNAL))) }
      connections.append(Connection(fd: fd, opened: Date(), sent: sent, trickleHead: trickleHead))
      state.withLock { $0.stats.opened += 1 }
    }
    for index in 0..<count { connectOne(trickleHead: index % 2 == 0) }
    // Connections the server closed are opened again a second later (each slot keeps trickling).
    var reopen: [(at: Date, trickleHead: Bool)] = []

    var scratch = [UInt8](repeating: 0, count: 4096)
    // Bounded: 60 s at most, whatever the test does.
    let end = Date() + 60
    while !state.withLock({ $0.stopping }) && Date() < end {
      Thread.sleep(forTimeInterval: 0.2)
      let now = Date()
      for due in reopen where due.at <= now { connectOne(trickleHead: due.trickleHead) }
      reopen.removeAll { $0.at <= now }
      var index = 0
      while index < connections.count {
        var connection = connections[index]
        // Whatever the server answered so far; 0 is its close.
        var closed = false
        while true {
          let n = recv(connection.fd, &scratch, scratch.count, Int32(MSG_DONTWAIT))
          if n > 0 {
            connection.answer += scratch[0..<n]
            continue
          }
          closed = n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)
          break
        }
        if !closed {
          // One more byte: of the head, or of the body (any byte will do).
          let byte: UInt8 = connection.sent < Self.head.count ? Self.head[connection.sent] : 0x20
          var one = byte
          let n = Glibc.send(connection.fd, &one, 1, Int32(MSG_NOSIGNAL))
          if n == 1 {
            connection.sent += 1
          } else if errno != EAGAIN && errno != EWOULDBLOCK {
            closed = true
          }
        }
        if closed {
          let heldFor = Date().timeIntervalSince(connection.opened)
          let refused = String(decoding: connection.answer.prefix(12), as: UTF8.self) == "HTTP/1.1 503"
          state.withLock {
            $0.stats.closedByServer += 1
            if refused { $0.stats.refused += 1 }
            $0.stats.longestOpen = max($0.stats.longestOpen, heldFor)
          }
          close(connection.fd)
          connections.remove(at: index)
          reopen.append((Date() + 1, connection.trickleHead))
          continue
        }
        connections[index] = connection
        index += 1
      }
    }
    let now = Date()
    let longest = connections.map { now.timeIntervalSince($0.opened) }.max() ?? 0
    for connection in connections { close(connection.fd) }
    state.withLock {
      $0.stats.longestOpen = max($0.stats.longestOpen, longest)
      $0.finished = true
    }
    finished.signal()
  }
}
