import Dispatch
import Ferry
import Foundation
import HTTPServer
import Log
import Synchronization
import TestSupport
import Testing

/// The path `ferry serve` takes on SIGTERM, in-process: a real signal caught by `SignalTrap`, then the
/// server's graceful shutdown, while a slow request is in flight. (`FerryProcessTests` checks the process
/// around it: SIGTERM and SIGINT end `ferry serve` with status 0.)
@Suite(.serialized) struct SignalShutdownTests {
  @Test func sigtermDuringASlowRequestFinishesItBeforeTheServerStops() async throws {
    var router = Router()
    router.get("/slow") { _ in
      try await Task.sleep(for: .milliseconds(800))
      return .text("finished")
    }
    let server = try HTTPServer(
      configuration: HTTPServerConfiguration(host: "127.0.0.1", port: 0), router: router, logger: .discarding)
    try server.start()
    let port = server.port
    let stopped = StoppedFlag()
    let trap = SignalTrap(signals: [SIGTERM]) { _ in
      Task {
        await server.shutdown(grace: .seconds(5))
        stopped.set()
      }
    }
    defer {
      trap.cancel()
      signal(SIGTERM, SIG_DFL)
    }
    let response = try await withCheckedThrowingContinuation { continuation in
      DispatchQueue.global().async {
        continuation.resume(
          with: Result {
            let client = try RawHTTPClient(port: port)
            try client.send("GET /slow HTTP/1.1\r\nHost: t\r\n\r\n")
            usleep(200_000)
            kill(getpid(), SIGTERM)
            return try client.readResponse()
          })
      }
    }
    #expect(response.status == 200)
    #expect(String(decoding: response.body, as: UTF8.self) == "finished")
    #expect(response.header("Connection") == "close")
    // Await rather than block: the shutdown task needs a thread of the (two-thread) concurrency pool, which
    // other suites' synchronous tests may be holding for a while.
    for _ in 0..<300 where !stopped.isSet { try await Task.sleep(for: .milliseconds(100)) }
    #expect(stopped.isSet)
    #expect(throws: (any Error).self) { try RawHTTPClient(port: port) }
  }
}

/// Set once by the shutdown task, read by the test.
private final class StoppedFlag: Sendable {
  private let value = Mutex(false)
  func set() { value.withLock { $0 = true } }
  var isSet: Bool { value.withLock { $0 } }
}
