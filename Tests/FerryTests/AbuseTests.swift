import Foundation
import Synchronization
import TestSupport
import Testing

/// Every JSON endpoint fed garbage answers a 4xx problem, never a 5xx, and the server stays healthy; and
/// many keep-alive clients polling while jobs run see no error and lose no job.
@Suite(.serialized) struct AbuseTests {
  @Test func everyEndpoint_answersGarbageWithA4xxProblem_andStaysHealthy() async throws {
    let server = try APITestServer()
    defer { Task { await server.stop() } }
    let token = try await server.token(key: "app-a", secret: "secret-a")
    let endpoints = [
      ("POST", "/media/copy"), ("POST", "/media/enhance"), ("POST", "/media/analyze"), ("POST", "/media/transcode"),
      ("POST", "/media/diagnose"), ("POST", "/media/input"), ("POST", "/media/output"), ("POST", "/media/webhooks"),
      ("PUT", "/media/webhooks"), ("POST", "/media/jobs/cancel?job_id=00000000-0000-0000-0000-000000000000"),
    ]
    let deep = String(repeating: "[", count: 5000) + String(repeating: "]", count: 5000)
    var bodies: [(String, [UInt8])] = [
      ("malformed", Array(#"{"input": "dlb://a", "output": "#.utf8)), ("empty", []),
      ("not an object", Array("[1, 2]".utf8)),
      ("null", Array("null".utf8)), ("a string", Array(#""dlb://a""#.utf8)),
      (
        "wrong types",
        Array(#"{"input": 42, "output": [true], "inputs": "x", "outputs": {}, "url": 7, "callback": 1}"#.utf8)
      ),
      ("deep nesting", Array(deep.utf8)),
      (
        "deep object",
        Array((String(repeating: #"{"a":"#, count: 3000) + "1" + String(repeating: "}", count: 3000)).utf8)
      ),
      (
        "invalid UTF-8",
        Array(#"{"input": "dlb://"#.utf8) + [0xC3, 0x28, 0xFF] + Array(#"", "output": "dlb://b"}"#.utf8)
      ),
      ("unknown fields only", Array(#"{"surprise": {"nested": [1, 2, {"x": null}]}, "__proto__": {}}"#.utf8)),
      (
        "huge number",
        Array(#"{"input": "dlb://a", "output": "dlb://b", "audio": {"loudness": {"target_level": 1e999}}}"#.utf8)
      ),
      ("NUL in a key", Array(#"{"input": "dlb://a\u0000b", "output": "dlb://b"}"#.utf8)),
    ]
    bodies.append(("huge body", Array(repeating: UInt8(ascii: " "), count: 2 << 20) + Array("{}".utf8)))
    for (method, path) in endpoints {
      for (name, body) in bodies {
        var head = "\(method) \(path) HTTP/1.1\r\nHost: t\r\nConnection: close\r\nAuthorization: Bearer \(token)\r\n"
        head += "Content-Type: application/json\r\nContent-Length: \(body.count)\r\n\r\n"
        let (port, request) = (server.port, head)
        let answer = try await blocking {
          let client = try RawHTTPClient(port: port)
          try client.send(request)
          // The server may answer (413) and stop reading before the whole body arrived.
          try? client.send(body)
          return try client.readResponse()
        }
        #expect((400..<500).contains(answer.status), "\(method) \(path) with \(name): \(answer.status) \(answer.text)")
        #expect(answer.header("Content-Type") == "application/problem+json", "\(method) \(path) with \(name)")
      }
    }
    let health = try await server.request("GET", "/health")
    #expect(health.status == 200)
    let listing = try await server.request("GET", "/media/jobs", headers: ["Authorization": "Bearer \(token)"])
    #expect(listing.status == 200 && listing.json["count"] as? Int == 0, "nothing garbage was stored as a job")
  }

  /// `make soak` (FERRY_SOAK=1) runs it longer: 2,000 clients, 60 polls each, 100 jobs.
  @Test func fiveHundredKeepAliveClients_pollWhileJobsRun_withoutAnErrorOrALostJob() async throws {
    let soak = ProcessInfo.processInfo.environment["FERRY_SOAK"] == "1"
    raiseOpenFileLimit()
    let input = testBytes(count: 200_000)
    // Inputs trickle in for a while, so the jobs run while the clients poll.
    let peer = try FaultServer { request, _ in
      request.method == "GET" ? .stall(body: input, seconds: 0.5) : .status(200)
    }
    defer { peer.stop() }
    // Every client has the same address here, as behind a proxy: the per-address cap is the whole cap.
    let server = try APITestServer(extraEnvironment: ["FERRY_SERVER_MAX_CONNECTIONS_PER_ADDRESS": "4096"])
    defer { Task { await server.stop() } }
    let token = try await server.token(key: "app-a", secret: "secret-a")
    var jobs: [String] = []
    for index in 0..<(soak ? 100 : 20) {
      let posted = try await server.request(
        "POST", "/media/copy", headers: ["Authorization": "Bearer \(token)"],
        body: #"{"input": "\#(peer.base)/in-\#(index)", "output": "\#(peer.base)/out-\#(index)"}"#)
      jobs.append(try #require(posted.json["job_id"] as? String))
    }
    let port = server.port
    let ids = jobs
    let errors = Mutex<[String]>([])
    let answered = Mutex(0)
    let clients = soak ? 2000 : 500
    let rounds = soak ? 60 : 6
    try await blocking {
      let group = DispatchGroup()
      for client in 0..<clients {
        group.enter()
        let thread = Thread {
          defer { group.leave() }
          do {
            let connection = try RawHTTPClient(port: port)
            for round in 0..<rounds {
              let job = ids[(client + round) % ids.count]
              try connection.send(
                "GET /media/copy?job_id=\(job) HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer \(token)\r\n\r\n")
              let response = try connection.readResponse()
              if response.status != 200 {
                errors.withLock { $0.append("client \(client): \(response.status) \(response.text)") }
              }
              answered.withLock { $0 += 1 }
              Thread.sleep(forTimeInterval: 0.05)
            }
          } catch {
            errors.withLock { $0.append("client \(client): \(error)") }
          }
        }
        thread.stackSize = 256 * 1024
        thread.start()
      }
      group.wait()
    }
    #expect(errors.withLock { $0 }.isEmpty, "\(errors.withLock { $0.prefix(5) })")
    #expect(answered.withLock { $0 } == clients * rounds)
    for job in jobs {
      let ended = try await server.waitForEnd(job, token: token, timeout: 60)
      #expect(ended["status"] as? String == "Success", "\(job): \(ended)")
    }
  }
}
