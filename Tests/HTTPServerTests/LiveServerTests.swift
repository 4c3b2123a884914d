import Dispatch
import Foundation
import HTTPServer
import TestSupport
import Testing

@Suite(.serialized) struct LiveServerTests {
  @Test func servesAHundredRequestsOnOneKeepAliveConnection() async throws {
    let live = try LiveServer()
    let ids = try await blocking {
      let client = try live.client()
      var ids: Set<String> = []
      for _ in 0..<100 {
        try client.send("GET /hello HTTP/1.1\r\nHost: t\r\n\r\n")
        let response = try client.readResponse()
        guard response.status == 200, response.text == "hello", response.header("Connection") == nil else {
          throw RawHTTPClient.ClientError(description: "unexpected \(response.status) \(response.headers)")
        }
        ids.insert(response.header("X-Request-Id") ?? "")
      }
      return ids
    }
    #expect(ids.count == 100, "every request gets its own id")
    await live.stop()
  }

  @Test func answersPipelinedRequestsInOrder() async throws {
    let live = try LiveServer()
    let bodies = try await blocking {
      let client = try live.client()
      var batch = ""
      for i in 0..<10 {
        switch i % 3 {
        case 0: batch += "GET /hello HTTP/1.1\r\nHost: t\r\n\r\n"
        case 1: batch += "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: \(String(i).count + 5)\r\n\r\necho-\(i)"
        default: batch += "GET /nap HTTP/1.1\r\nHost: t\r\n\r\n"
        }
      }
      try client.send(batch)
      return try (0..<10).map { _ in try client.readResponse().text }
    }
    #expect(bodies == ["hello", "echo-1", "nap", "hello", "echo-4", "nap", "hello", "echo-7", "nap", "hello"])
    await live.stop()
  }

  @Test func streamsAChunkedUploadToAFile() async throws {
    let live = try LiveServer()
    let data = testBytes(count: 3_000_000)
    let expected = sha256Hex(data)
    let response = try await blocking {
      let client = try live.client()
      try client.send("PUT /upload HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n")
      var offset = 0
      var size = 1
      while offset < data.count {
        let n = min(size, data.count - offset)
        try client.send(Array(String(n, radix: 16).utf8) + [13, 10] + Array(data[offset..<(offset + n)]) + [13, 10])
        offset += n
        size = size * 7 % 100_003 + 1
      }
      try client.send("0\r\n\r\n")
      return try client.readResponse()
    }
    #expect(response.status == 200)
    let path = try #require(response.json["path"] as? String)
    #expect(response.json["bytes"] as? String == "3000000")
    #expect(try sha256Hex(file: path) == expected)
    await live.stop()
  }

  @Test func honoursExpectContinueThenStreamsTheBody() async throws {
    let live = try LiveServer()
    let data = testBytes(count: 2_000_000, seed: 7)
    let expected = sha256Hex(data)
    let (interim, response) = try await blocking {
      let client = try live.client()
      try client.send(
        "PUT /upload HTTP/1.1\r\nHost: t\r\nContent-Length: \(data.count)\r\nExpect: 100-continue\r\n\r\n")
      let interim = try client.readResponse()
      try client.send(data)
      return (interim, try client.readResponse())
    }
    #expect(interim.status == 100)
    #expect(response.status == 200)
    #expect(try sha256Hex(file: try #require(response.json["path"] as? String)) == expected)
    await live.stop()
  }

  @Test func refusesATwoGiBDeclaredBodyBeforeReadingIt() async throws {
    let live = try LiveServer()
    let (echo, upload, elapsed) = try await blocking {
      let started = DispatchTime.now().uptimeNanoseconds
      let client = try live.client(timeout: 5)
      try client.send("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 2147483648\r\n\r\n")
      let echo = try client.readResponse()
      let closed = client.isClosedByServer()
      // With Expect, the refusal comes instead of 100 Continue.
      let second = try live.client(timeout: 5)
      try second.send("PUT /upload HTTP/1.1\r\nHost: t\r\nContent-Length: 2147483648\r\nExpect: 100-continue\r\n\r\n")
      let upload = try second.readResponse()
      return ((echo, closed), upload, Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9)
    }
    #expect(echo.0.status == 413)
    #expect(echo.0.json["type"] as? String == "/problems/payload-too-large")
    #expect(echo.0.header("Connection") == "close")
    #expect(echo.1, "the server closes instead of reading 2 GiB")
    #expect(upload.status == 413)
    #expect(elapsed < 3)
    await live.stop()
  }

  @Test func aBodyTrickledBelowTheMinimumRate_isCutWith408_afterTheGrace() async throws {
    // 1 s of grace, then at least 1,000 bytes a second: a byte every 200 ms is 5.
    let live = try LiveServer {
      $0.headerTimeout = .seconds(1)
      $0.minBodyRate = 1000
    }
    let (status, elapsed, closed) = try await blocking { () -> (Int, Double, Bool) in
      let started = DispatchTime.now().uptimeNanoseconds
      let client = try live.client(timeout: 8)
      try client.send("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 100000\r\n\r\n")
      // Timed to the answer's arrival: after it the server lingers 2 s reading what the client still sends.
      for _ in 0..<40 {
        if client.isReadable(within: 200) || (try? client.send("x")) == nil { break }
      }
      let elapsed = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
      let status = (try? client.readResponse().status) ?? 0
      return (status, elapsed, client.isClosedByServer())
    }
    #expect(status == 408 && closed)
    #expect(elapsed >= 0.9 && elapsed < 4, "cut after about the grace, took \(elapsed) s")
  }

  @Test func aBodyThatPausesButKeepsTheRate_isRead() async throws {
    let live = try LiveServer {
      $0.headerTimeout = .seconds(1)
      $0.minBodyRate = 1000
    }
    let status = try await blocking {
      let client = try live.client(timeout: 8)
      try client.send("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 4000\r\n\r\n")
      // 2,000 bytes, a pause of 1.5 s, the other 2,000: over the grace, still above 1,000 bytes a second.
      try client.send(String(repeating: "a", count: 2000))
      usleep(1_500_000)
      try client.send(String(repeating: "b", count: 2000))
      return try client.readResponse().status
    }
    #expect(status == 200)
  }

  @Test func cutsOffASlowlorisClientWith408WhileServingOthers() async throws {
    let live = try LiveServer { $0.headerTimeout = .seconds(1) }
    async let slow: (Int, Double, Bool) = blocking {
      let started = DispatchTime.now().uptimeNanoseconds
      let client = try live.client(timeout: 8)
      try client.send("GET /hello HTTP/1.1\r\nHo")
      // Drip a byte every 200 ms; the server must answer 408 within a few seconds, not wait for us. Timed to
      // the answer's arrival: after it the server lingers 2 s reading what the client still sends.
      for _ in 0..<40 {
        if client.isReadable(within: 200) || (try? client.send("x")) == nil { break }
      }
      let elapsed = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
      let status = (try? client.readResponse().status) ?? 0
      return (status, elapsed, client.isClosedByServer())
    }
    let others = try await blocking {
      var ok = 0
      for _ in 0..<10 {
        let client = try live.client()
        try client.send("GET /hello HTTP/1.1\r\nHost: t\r\n\r\n")
        if try client.readResponse().status == 200 { ok += 1 }
        usleep(100_000)
      }
      return ok
    }
    let (status, elapsed, closed) = try await slow
    #expect(others == 10)
    #expect(status == 408)
    #expect(closed)
    #expect(elapsed >= 0.9 && elapsed < 4, "cut off after about header_timeout, took \(elapsed) s")
    await live.stop()
  }

  @Test func servesAThousandConcurrentConnections() async throws {
    raiseOpenFileLimit()
    let live = try LiveServer()
    let ok = try await blocking {
      let clients = try (0..<1000).map { _ in try live.client() }
      for client in clients { try client.send("GET /hello HTTP/1.1\r\nHost: t\r\n\r\n") }
      return try clients.filter { try $0.readResponse().status == 200 }.count
    }
    #expect(ok == 1000)
    let after = try await blocking {
      let client = try live.client()
      try client.send("GET /hello HTTP/1.1\r\nHost: t\r\n\r\n")
      return try client.readResponse().status
    }
    #expect(after == 200)
    await live.stop()
  }

  @Test func refusesPolitelyPastTheConnectionCapAndRecovers() async throws {
    raiseOpenFileLimit()
    let live = try LiveServer { $0.maxConnections = 50 }
    let (ok, refused, failed) = try await blocking {
      var clients: [RawHTTPClient] = []
      for _ in 0..<200 {
        clients.append(try live.client())
        usleep(1000)
      }
      var ok = 0
      var refused = 0
      var failed = 0
      for client in clients {
        do {
          try client.send("GET /hello HTTP/1.1\r\nHost: t\r\n\r\n")
          let status = try client.readResponse().status
          if status == 200 { ok += 1 } else if status == 503 { refused += 1 } else { failed += 1 }
        } catch {
          failed += 1
        }
      }
      return (ok, refused, failed)
    }
    #expect(ok == 50)
    #expect(refused + failed == 150)
    #expect(refused >= 140, "refused connections get a 503 answer, not a reset (\(failed) failed)")
    // Those 200 clients are closed now; the server takes new ones.
    let after = try await blocking {
      for _ in 0..<50 {
        if let client = try? live.client(), (try? client.send("GET /hello HTTP/1.1\r\nHost: t\r\n\r\n")) != nil,
          (try? client.readResponse().status) == 200
        {
          return 200
        }
        usleep(100_000)
      }
      return 0
    }
    #expect(after == 200)
    let warned = live.logs.all.contains { $0.contains("connection limit reached") }
    #expect(warned)
    await live.stop()
  }

  @Test func shutdownFinishesTheSlowRequestInFlight() async throws {
    let live = try LiveServer()
    async let slow: RawHTTPClient.Response = blocking {
      let client = try live.client()
      try client.send("GET /slow HTTP/1.1\r\nHost: t\r\n\r\n")
      return try client.readResponse()
    }
    try await Task.sleep(for: .milliseconds(200))
    let idle = try await blocking { try live.client() }
    await live.stop(grace: .seconds(5))
    let response = try await slow
    #expect(response.status == 200)
    #expect(response.text == "slow")
    #expect(response.header("Connection") == "close")
    #expect(idle.isClosedByServer(), "idle connections are closed at shutdown")
    #expect(throws: (any Error).self) { try live.client() }
  }

  @Test func shutdownCutsOffWhatOutlivesTheGracePeriod() async throws {
    let live = try LiveServer()
    async let slow: Int = blocking {
      let client = try live.client()
      try client.send("GET /slow HTTP/1.1\r\nHost: t\r\n\r\n")
      return (try? client.readResponse().status) ?? 0
    }
    try await Task.sleep(for: .milliseconds(100))
    let started = ContinuousClock.now
    await live.stop(grace: .milliseconds(200))
    #expect(ContinuousClock.now - started < .seconds(2))
    #expect(try await slow == 0)
    #expect(live.logs.all.contains { $0.contains("shutdown grace period over") })
  }

  @Test func echoesOrGeneratesRequestIDs() async throws {
    let live = try LiveServer()
    let (given, bad, generated) = try await blocking {
      let client = try live.client()
      try client.send("GET /hello HTTP/1.1\r\nHost: t\r\nX-Request-Id: abc-123.x\r\n\r\n")
      let given = try client.readResponse().header("X-Request-Id")
      try client.send("GET /hello HTTP/1.1\r\nHost: t\r\nX-Request-Id: <script>\r\n\r\n")
      let bad = try client.readResponse().header("X-Request-Id")
      try client.send("GET /hello HTTP/1.1\r\nHost: t\r\n\r\n")
      let generated = try client.readResponse().header("X-Request-Id")
      return (given, bad, generated)
    }
    #expect(given == "abc-123.x")
    #expect(bad != nil && bad != "<script>")
    #expect(generated != nil && generated != bad)
    try await Task.sleep(for: .milliseconds(100))
    #expect(live.logs.all.contains { $0.contains(#""request_id":"abc-123.x""#) && $0.contains(#""msg":"request""#) })
    await live.stop()
  }

  @Test func turnsErrorsIntoProblemAnswers() async throws {
    let live = try LiveServer()
    let (fail, teapot) = try await blocking {
      let client = try live.client()
      try client.send("GET /fail HTTP/1.1\r\nHost: t\r\nX-Request-Id: req-500\r\n\r\n")
      let fail = try client.readResponse()
      try client.send("GET /teapot HTTP/1.1\r\nHost: t\r\n\r\n")
      return (fail, try client.readResponse())
    }
    #expect(fail.status == 500)
    #expect(fail.header("Content-Type") == "application/problem+json")
    #expect(fail.json["type"] as? String == "/problems/internal-error")
    #expect((fail.json["detail"] as? String)?.contains("req-500") == true)
    #expect(teapot.status == 418)
    #expect(teapot.json["detail"] as? String == "short and stout")
    #expect(live.logs.all.contains { $0.contains("unhandled error") && $0.contains("req-500") })
    await live.stop()
  }

  @Test func malformedRequestsGet400AndAClose() async throws {
    let live = try LiveServer()
    let (response, closed) = try await blocking {
      let client = try live.client()
      try client.send("GET / HTTP/1.1\r\nHost : t\r\n\r\n")
      let response = try client.readResponse()
      return (response, client.isClosedByServer())
    }
    #expect(response.status == 400)
    #expect(response.json["type"] as? String == "/problems/invalid-request")
    #expect(response.json["status"] as? Int == 400)
    #expect(response.json["title"] != nil && response.json["detail"] != nil)
    #expect(closed)
    await live.stop()
  }

  @Test func headAnswersHaveLengthButNoBody() async throws {
    let live = try LiveServer()
    let (head, next) = try await blocking {
      let client = try live.client()
      try client.send("HEAD /hello HTTP/1.1\r\nHost: t\r\n\r\nGET /hello HTTP/1.1\r\nHost: t\r\n\r\n")
      return (try client.readResponse(head: true), try client.readResponse())
    }
    #expect(head.status == 200)
    #expect(head.header("Content-Length") == "5")
    #expect(next.text == "hello", "no body bytes were sent for HEAD")
    await live.stop()
  }

  @Test func closesIdleKeepAliveConnections() async throws {
    let live = try LiveServer { $0.idleTimeout = .seconds(1) }
    let (status, closed, elapsed) = try await blocking {
      let client = try live.client(timeout: 6)
      try client.send("GET /hello HTTP/1.1\r\nHost: t\r\n\r\n")
      let status = try client.readResponse().status
      let started = DispatchTime.now().uptimeNanoseconds
      let closed = client.isClosedByServer()
      return (status, closed, Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9)
    }
    #expect(status == 200)
    #expect(closed)
    #expect(elapsed > 0.8 && elapsed < 4)
    await live.stop()
  }

  @Test func http10ClientsGetCloseUnlessTheyAskForKeepAlive() async throws {
    let live = try LiveServer()
    let (plain, kept) = try await blocking {
      let a = try live.client()
      try a.send("GET /hello HTTP/1.0\r\n\r\n")
      let plain = try a.readResponse()
      let b = try live.client()
      try b.send("GET /hello HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
      let kept = try b.readResponse()
      return (plain.header("Connection"), kept.header("Connection"))
    }
    #expect(plain == "close")
    #expect(kept == "keep-alive")
    await live.stop()
  }

  @Test func listensOnIPv6() async throws {
    let live = try LiveServer { $0.host = "::1" }
    let status = try await blocking {
      let client = try RawHTTPClient(host: "::1", port: live.port)
      try client.send("GET /hello HTTP/1.1\r\nHost: [::1]\r\n\r\n")
      return try client.readResponse().status
    }
    #expect(status == 200)
    await live.stop()
  }

  @Test func answersARequestFromAClientThatHalfClosed() async throws {
    let live = try LiveServer()
    let response = try await blocking {
      let client = try live.client()
      try client.send("GET /nap HTTP/1.1\r\nHost: t\r\n\r\n")
      client.closeWrite()
      return try client.readResponse()
    }
    #expect(response.text == "nap")
    await live.stop()
  }

  @Test func pipelinedFloodIsAnsweredInOrderWithoutBufferingEveryAnswer() async throws {
    let big = [UInt8](repeating: UInt8(ascii: "b"), count: 256 * 1024)
    let live = try LiveServer(routes: { router in
      router.get("/big/:n") { request in
        var body = big
        body.replaceSubrange(0..<8, with: Array(String(format: "%08d", Int(request.parameters["n"]!)!).utf8))
        return Response(body: body)
      }
    })
    let count = 600
    let (grown, ordered) = try await blocking {
      let client = try live.client(timeout: 20)
      let before = residentBytes()
      var batch = ""
      for i in 0..<count { batch += "GET /big/\(i) HTTP/1.1\r\nHost: t\r\n\r\n" }
      try client.send(batch)
      usleep(500_000)
      // Without back-pressure the server would now hold every answer to its first read (~470 x 256 KiB).
      let grown = residentBytes() - before
      var ordered = true
      for i in 0..<count {
        let response = try client.readResponse()
        ordered =
          ordered && response.body.count == big.count
          && response.body.prefix(8).elementsEqual(String(format: "%08d", i).utf8)
      }
      return (grown, ordered)
    }
    #expect(ordered)
    #expect(grown < 32 * 1024 * 1024, "resident memory grew by \(grown / 1_048_576) MiB")
    await live.stop()
  }

  @Test func aHandlerCanShutTheServerDownWithoutDeadlocking() async throws {
    let box = ServerBox()
    let live = try LiveServer(routes: { router in
      router.get("/stop") { _ in
        await box.server?.shutdown(grace: .milliseconds(300))
        return .text("stopped")
      }
    })
    box.server = live.server
    let finished = try await blocking {
      let client = try live.client(timeout: 5)
      try client.send("GET /stop HTTP/1.1\r\nHost: t\r\n\r\n")
      _ = try? client.readResponse()
      return client.isClosedByServer()
    }
    #expect(finished)
    #expect(throws: (any Error).self) { try live.client() }
  }

  @Test func aForcedShutdownCancelsTheRunningHandler() async throws {
    let cancelled = Flag()
    let live = try LiveServer(routes: { router in
      router.get("/forever") { _ in
        do {
          try await Task.sleep(for: .seconds(30))
        } catch {
          cancelled.set()
        }
        return .text("late")
      }
    })
    let client = try await blocking {
      let client = try live.client()
      try client.send("GET /forever HTTP/1.1\r\nHost: t\r\n\r\n")
      return client
    }
    try await Task.sleep(for: .milliseconds(100))
    await live.stop(grace: .milliseconds(200))
    for _ in 0..<50 where !cancelled.isSet { try await Task.sleep(for: .milliseconds(20)) }
    #expect(cancelled.isSet)
    #expect(client.isClosedByServer())
  }

  @Test func invalidStatusLinesFromHandlersAreNeverWritten() async throws {
    let live = try LiveServer(routes: { router in
      router.get("/weird-code") { _ in Response(status: HTTPStatus(99), body: Array("x".utf8)) }
      router.get("/split-reason") { _ in Response(status: HTTPStatus(200, "OK\r\nX-Injected: 1"), body: Array("y".utf8))
      }
    })
    let (code, reason) = try await blocking {
      let client = try live.client()
      try client.send("GET /weird-code HTTP/1.1\r\nHost: t\r\n\r\nGET /split-reason HTTP/1.1\r\nHost: t\r\n\r\n")
      return (try client.readResponse(), try client.readResponse())
    }
    #expect(code.status == 500)
    #expect(code.text == "x")
    #expect(reason.status == 200)
    #expect(reason.reason == "OK")
    #expect(reason.header("X-Injected") == nil)
    await live.stop()
  }

  @Test func closesPromptlyWhenTheEndOfInputCameWithTheRequest() async throws {
    let live = try LiveServer()
    let (response, closed, elapsed) = try await blocking {
      let client = try live.client(timeout: 5)
      try client.send("GET /hello HTTP/1.1\r\nHost: t\r\n\r\n")
      client.closeWrite()
      let started = DispatchTime.now().uptimeNanoseconds
      let response = try client.readResponse()
      let closed = client.isClosedByServer()
      return (response, closed, Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9)
    }
    #expect(response.text == "hello")
    #expect(closed)
    #expect(elapsed < 2, "the server saw the end of input at once, not after the idle timeout (\(elapsed) s)")
    await live.stop()
  }

  @Test func onlyMiddlewareThatPreparedARequestFinishesIt() async throws {
    let finishes = Counter()
    struct Counting: Middleware {
      let counter: Counter
      func finish(_ request: Request, _ response: inout Response) { counter.add() }
    }
    struct Refusing: Middleware {
      let counter: Counter
      func prepare(_ request: inout Request) throws { throw HTTPError.notFound("refused") }
      func finish(_ request: Request, _ response: inout Response) { counter.add(100) }
    }
    let live = try LiveServer(routes: { router in
      router.use(Counting(counter: finishes))
      router.use(Refusing(counter: finishes))
      router.get("/guarded") { _ in .text("never") }
    })
    let status = try await blocking {
      let client = try live.client()
      try client.send("GET /guarded HTTP/1.1\r\nHost: t\r\n\r\n")
      return try client.readResponse().status
    }
    #expect(status == 404)
    #expect(finishes.value == 1)
    await live.stop()
  }

  @Test func shuttingDownAServerThatNeverStartedReturns() async throws {
    let server = try HTTPServer(configuration: .init(port: 0), router: Router(), logger: .discarding)
    await server.shutdown(grace: .seconds(1))
  }
}

/// A counter shared between a test and its handlers.
private final class Counter: @unchecked Sendable {
  private let lock = NSLock()
  private var count = 0
  func add(_ n: Int = 1) { lock.withLock { count += n } }
  var value: Int { lock.withLock { count } }
}

/// Resident memory of this process, from /proc.
private func residentBytes() -> Int {
  let fields = ((try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8)) ?? "").split(separator: " ")
  return (fields.count > 1 ? Int(fields[1]) ?? 0 : 0) * Int(sysconf(Int32(_SC_PAGESIZE)))
}

/// A late-bound reference to a server, for handlers that act on their own server.
private final class ServerBox: @unchecked Sendable {
  var server: HTTPServer?
}

/// A flag set from one task and read from another.
private final class Flag: @unchecked Sendable {
  private let lock = NSLock()
  private var value = false
  func set() { lock.withLock { value = true } }
  var isSet: Bool { lock.withLock { value } }
}
