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

  @Test func registrations_areOnePerApp_checked_andInvisibleToOtherApps() async throws {
    let server = try APITestServer()
    defer { Task { await server.stop() } }
    let a = ["Authorization": "Bearer \(try await server.token(key: "app-a", secret: "secret-a"))"]
    let b = ["Authorization": "Bearer \(try await server.token(key: "app-b", secret: "secret-b"))"]
    let first = try await server.request(
      "POST", "/media/webhooks", headers: a,
      body: #"{"callback": {"url": "https://hooks.example/a?sig=s3cr3t", "headers": {"X-Key": "k3y"}}}"#)
    let id = try #require(first.json["webhook_id"] as? String)
    // A second registration replaces the first and keeps its id.
    let again = try await server.request(
      "POST", "/media/webhooks", headers: a, body: #"{"callback": {"url": "https://hooks.example/b?sig=s3cr3t"}}"#)
    #expect(again.json["webhook_id"] as? String == id)
    let shown = try await server.request("GET", "/media/webhooks?id=\(id)", headers: a)
    #expect(shown.status == 200 && shown.json["webhook_id"] as? String == id)
    #expect((shown.json["callback"] as? [String: Any])?["url"] as? String == "https://hooks.example/b?sig=REDACTED")
    let put = try await server.request(
      "PUT", "/media/webhooks?id=\(id)", headers: a,
      body: #"{"callback": {"url": "https://hooks.example/c", "headers": {"X-Key": "k3y"}}}"#)
    #expect(put.status == 200 && put.json["webhook_id"] as? String == id)
    let putShown = try await server.request("GET", "/media/webhooks?id=\(id)", headers: a)
    #expect(!putShown.text.contains("k3y") && putShown.text.contains("X-Key"))

    // Another app: 404 for every use of A's id.
    #expect(try await server.request("GET", "/media/webhooks?id=\(id)", headers: b).status == 404)
    #expect(try await server.request("DELETE", "/media/webhooks?id=\(id)", headers: b).status == 404)
    let foreignPut = try await server.request(
      "PUT", "/media/webhooks?id=\(id)", headers: b, body: #"{"callback": {"url": "https://evil.example/"}}"#)
    #expect(foreignPut.status == 404)

    // Validation names the field.
    let cases: [(String, String)] = [
      (#"{}"#, "callback is required"),
      (#"{"callback": {}}"#, "callback.url is required"),
      (#"{"callback": {"url": "ftp://h/x"}}"#, #"callback.url: unsupported scheme "ftp" (http or https)"#),
      (
        #"{"callback": {"url": "https://h/", "headers": {"webhook-signature": "x"}}}"#,
        "callback.headers.webhook-signature is set by Ferry"
      ),
      (
        #"{"callback": {"url": "https://h/", "headers": {"X-A": "a\nb"}}}"#,
        "callback.headers.X-A: must be at most 4096 bytes without control characters"
      ),
      (
        #"{"callback": {"url": "https://h/", "headers": ["x-other"]}}"#,
        "callback.headers[0]: Ferry fills in only x-job-id"
      ),
    ]
    for (body, detail) in cases {
      let answer = try await server.request("POST", "/media/webhooks", headers: a, body: body)
      #expect(answer.status == 400 && answer.json["detail"] as? String == detail, "\(body): \(answer.text)")
    }
    let badJob = try await server.request(
      "POST", "/media/copy", headers: a,
      body: #"{"input": "dlb://in", "output": "dlb://out", "on_complete": {"url": "https://h/", "headers": [1]}}"#)
    #expect(
      badJob.status == 400
        && badJob.json["detail"] as? String == "on_complete.headers[0]: expected a string, got a number")
    #expect(try await server.request("GET", "/media/webhooks", headers: a).status == 400)

    let deleted = try await server.request("DELETE", "/media/webhooks?id=\(id)", headers: a)
    #expect(deleted.status == 200 && deleted.json["webhook_id"] as? String == id)
    #expect(try await server.request("GET", "/media/webhooks?id=\(id)", headers: a).status == 404)
    #expect(try await server.request("DELETE", "/media/webhooks?id=\(id)", headers: a).status == 404)
  }
}
