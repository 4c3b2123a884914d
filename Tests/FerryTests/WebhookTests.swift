import Crypto
import Foundation
import Synchronization
import TestSupport
import Testing

/// Webhooks over real HTTP: registration, per-job `on_complete`, signed Standard Webhooks deliveries retried
/// from the durable outbox, the network policy at delivery, and restarts. Receivers are loopback fault
/// servers; jobs are copy jobs between loopback peers.
@Suite(.serialized) struct WebhookTests {
  /// Fast retries, so a test sees several attempts in well under a second.
  static let fastRetries = ["FERRY_WEBHOOKS_INITIAL_BACKOFF_S": "0.05"]

  /// Posts a copy job between two paths of `peer`, with `extra` members in the body; returns its id.
  func postCopy(_ server: APITestServer, token: String, peer: FaultServer, extra: String = "") async throws -> String {
    let posted = try await server.request(
      "POST", "/media/copy", headers: ["Authorization": "Bearer \(token)"],
      body: #"{"input": "\#(peer.base)/in", "output": "\#(peer.base)/out"\#(extra)}"#)
    #expect(posted.status == 200, "\(posted.text)")
    return try #require(posted.json["job_id"] as? String)
  }

  /// Waits (bounded) until `receiver` has seen `count` requests.
  func waitForRequests(_ receiver: FaultServer, count: Int, timeout: Double = 10) async throws {
    let deadline = Date() + timeout
    while receiver.requests.count < count && Date() < deadline { try await Task.sleep(for: .milliseconds(20)) }
  }

  /// Checks the Standard Webhooks signature of a received delivery against the app's secret.
  func signatureIsValid(_ request: FaultServer.Received, secret: String) -> Bool {
    guard let id = request.header("webhook-id"), let timestamp = request.header("webhook-timestamp"),
      let signature = request.header("webhook-signature")
    else { return false }
    let expected = HMAC.sha256(key: Array(secret.utf8), data: Array("\(id).\(timestamp).".utf8) + request.body)
    return signature == "v1," + Data(expected).base64EncodedString()
  }

  /// The job's `deliveries` once `count` attempts show (bounded wait).
  func deliveries(_ server: APITestServer, job: String, token: String, count: Int) async throws -> [[String: Any]] {
    let deadline = Date() + 10
    var shown: [[String: Any]] = []
    while Date() < deadline {
      let answer = try await server.request(
        "GET", "/media/copy?job_id=\(job)", headers: ["Authorization": "Bearer \(token)"])
      shown = answer.json["deliveries"] as? [[String: Any]] ?? []
      if shown.count >= count { break }
      try await Task.sleep(for: .milliseconds(20))
    }
    return shown
  }

  @Test func aReceiverThatFailsTwice_getsExactlyOneAcceptedDelivery_signedWithTheAppsSecret() async throws {
    let peer = try FaultServer { request, _ in
      request.method == "GET" ? .serve(body: testBytes(count: 1000)) : .status(200)
    }
    defer { peer.stop() }
    let receiver = try FaultServer { _, connection in connection <= 2 ? .status(503) : .status(204) }
    defer { receiver.stop() }
    let server = try APITestServer(extraEnvironment: Self.fastRetries)
    defer { Task { await server.stop() } }
    let token = try await server.token(key: "app-a", secret: "secret-a")
    let registered = try await server.request(
      "POST", "/media/webhooks", headers: ["Authorization": "Bearer \(token)"],
      body:
        #"{"callback": {"url": "\#(receiver.base)/hook?token=t0ps3cret", "headers": {"Authorization": "Bearer receiver-secret"}}}"#
    )
    #expect(registered.status == 200 && registered.header("Content-Type") == "application/json")
    let webhookID = try #require(registered.json["webhook_id"] as? String)

    let job = try await postCopy(server, token: token, peer: peer)
    _ = try await server.waitForEnd(job, token: token)
    try await waitForRequests(receiver, count: 3)
    // Once the accepted attempt shows on the job, the delivery is stored as delivered and is never taken again:
    // nothing more can arrive (WebhookRetryTests checks that on a moved clock).
    let shown = try await deliveries(server, job: job, token: token, count: 3)
    let received = receiver.requests
    try #require(received.count == 3, "\(server.logs.all.filter { $0.contains("webhook") })")
    #expect(Set(received.compactMap { $0.header("webhook-id") }).count == 1, "one delivery, tried three times")
    for request in received {
      #expect(request.method == "POST" && request.target == "/hook?token=t0ps3cret")
      #expect(request.header("Authorization") == "Bearer receiver-secret")
      #expect(request.header("Content-Type") == "application/json")
      #expect(signatureIsValid(request, secret: "secret-a"))
      #expect(!signatureIsValid(request, secret: "secret-b"))
    }
    let payload = try #require(try JSONSerialization.jsonObject(with: Data(received[2].body)) as? [String: Any])
    #expect(payload["job_id"] as? String == job && payload["status"] as? String == "Success")
    #expect(payload["path"] as? String == "/media/copy" && payload["deliveries"] == nil)
    #expect(received[0].body == received[2].body, "every attempt sends the same body")

    // The attempts show on the job, redacted.
    #expect(shown.map { $0["status"] as? Int } == [503, 503, 204])
    #expect(shown.allSatisfy { ($0["url"] as? String) == "\(receiver.base)/hook?token=REDACTED" })
    let page = try await server.request(
      "GET", "/media/copy?job_id=\(job)", headers: ["Authorization": "Bearer \(token)"])
    #expect(!page.text.contains("t0ps3cret") && !page.text.contains("receiver-secret"))
    let metrics = try await server.request("GET", "/metrics")
    #expect(metrics.text.contains(#"ferry_webhook_attempts_total{outcome="delivered"} 1"#))
    #expect(metrics.text.contains(#"ferry_webhook_attempts_total{outcome="retrying"} 2"#))
    _ = webhookID
  }

  @Test func aReceiverOnARefusedAddress_isNeverContacted() async throws {
    let peer = try FaultServer { request, _ in
      request.method == "GET" ? .serve(body: testBytes(count: 100)) : .status(200)
    }
    defer { peer.stop() }
    // Only 127.0.0.1 is allowed; the receiver listens on 127.0.0.2.
    let receiver = try FaultServer(host: "127.0.0.2") { _, _ in .status(200) }
    defer { receiver.stop() }
    let server = try APITestServer(
      extraEnvironment: Self.fastRetries.merging(["FERRY_NETWORK_ALLOW": #"["127.0.0.1/32"]"#]) { $1 })
    defer { Task { await server.stop() } }
    let token = try await server.token(key: "app-a", secret: "secret-a")
    // Registration checks the syntax only; the policy applies when a delivery is sent.
    let registered = try await server.request(
      "POST", "/media/webhooks", headers: ["Authorization": "Bearer \(token)"],
      body: #"{"callback": {"url": "\#(receiver.base)/hook"}}"#)
    #expect(registered.status == 200)
    let job = try await postCopy(
      server, token: token, peer: peer, extra: #", "on_complete": {"url": "http://169.254.169.254/latest/meta-data"}"#)
    #expect(try await server.waitForEnd(job, token: token)["status"] as? String == "Success")
    let shown = try await deliveries(server, job: job, token: token, count: 2)
    #expect(shown.count == 2)
    for attempt in shown {
      #expect(attempt["status"] is NSNull)
      #expect((attempt["error"] as? String)?.hasPrefix("refused by the network policy") == true, "\(attempt)")
    }
    // Given up at once, never retried: WebhookRetryTests checks that on a moved clock.
    #expect(receiver.connectionCount == 0)
  }

  @Test func deliveriesPendingAtARestart_areSentAfterIt() async throws {
    let peer = try FaultServer { request, _ in
      request.method == "GET" ? .serve(body: testBytes(count: 100)) : .status(200)
    }
    defer { peer.stop() }
    let accepting = Mutex(false)
    let receiver = try FaultServer { _, _ in accepting.withLock { $0 } ? .status(200) : .status(500) }
    defer { receiver.stop() }
    // Retries a second apart: the first server stops between two of them.
    let environment = ["FERRY_WEBHOOKS_INITIAL_BACKOFF_S": "1"]
    let first = try APITestServer(extraEnvironment: environment)
    let token = try await first.token(key: "app-a", secret: "secret-a")
    let job = try await postCopy(
      first, token: token, peer: peer,
      extra: #", "on_complete": {"url": "\#(receiver.base)/done", "headers": ["x-job-id"]}"#)
    _ = try await first.waitForEnd(job, token: token)
    try await waitForRequests(receiver, count: 1)
    await first.stop()
    let failedBefore = receiver.requests.count
    #expect(failedBefore >= 1)

    accepting.withLock { $0 = true }
    let second = try APITestServer(extraEnvironment: environment, dataDirectory: first.dataDirectory)
    defer { Task { await second.stop() } }
    try await waitForRequests(receiver, count: failedBefore + 1)
    let received = receiver.requests
    #expect(received.count == failedBefore + 1)
    #expect(Set(received.compactMap { $0.header("webhook-id") }).count == 1)
    #expect(received.last?.header("x-job-id") == job && received.last?.target == "/done")
    let token2 = try await second.token(key: "app-a", secret: "secret-a")
    let shown = try await deliveries(second, job: job, token: token2, count: failedBefore + 1)
    #expect(shown.last?["status"] as? Int == 200)
  }

  @Test func onComplete_sendsItsOwnBody_andEachCallbackIsItsOwnDelivery() async throws {
    let peer = try FaultServer { request, _ in
      request.method == "GET" ? .serve(body: testBytes(count: 100)) : .status(200)
    }
    defer { peer.stop() }
    let receiver = try FaultServer { _, _ in .status(200) }
    defer { receiver.stop() }
    let server = try APITestServer(extraEnvironment: Self.fastRetries)
    defer { Task { await server.stop() } }
    let token = try await server.token(key: "app-b", secret: "secret-b")
    _ = try await server.request(
      "POST", "/media/webhooks", headers: ["Authorization": "Bearer \(token)"],
      body: #"{"callback": {"url": "\#(receiver.base)/registered"}}"#)
    let job = try await postCopy(
      server, token: token, peer: peer,
      extra:
        #", "on_complete": {"url": "\#(receiver.base)/own", "headers": {"X-Trace": "t-1"}, "body": {"done": true}}"#)
    _ = try await server.waitForEnd(job, token: token)
    try await waitForRequests(receiver, count: 2)
    let byTarget = Dictionary(receiver.requests.map { ($0.target, $0) }, uniquingKeysWith: { a, _ in a })
    let own = try #require(byTarget["/own"])
    let registered = try #require(byTarget["/registered"])
    #expect(String(decoding: own.body, as: UTF8.self) == #"{"done":true}"# && own.header("X-Trace") == "t-1")
    #expect(signatureIsValid(own, secret: "secret-b") && signatureIsValid(registered, secret: "secret-b"))
    #expect(own.header("webhook-id") != registered.header("webhook-id"))
    #expect(
      (try JSONSerialization.jsonObject(with: Data(registered.body)) as? [String: Any])?["job_id"] as? String == job)
  }

}
