import Crypto
import Foundation
import TestSupport
import Testing

/// Ferry attacked the way a hostile client would: URLs that point inside the network in many spellings, and
/// secrets that must never come back out. Every server here is on loopback.
@Suite(.serialized) struct HardeningTests {
  /// Puts `bytes` at `dlb://key` of app-a, straight into the server's storage.
  func put(_ server: APITestServer, key: String, _ bytes: [UInt8]) throws {
    let path = "\(server.dataDirectory)/storage/\(SHA256.hex("app-a"))/\(key)"
    try FileManager.default.createDirectory(
      atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
    try Data(bytes).write(to: URL(fileURLWithPath: path))
  }

  @Test func inputsOutputsAndWebhooks_aimedInside_neverReachTheCanary() async throws {
    // The canaries stand where a refused URL would land; the redirector is on the one allowed address.
    let canary = try FaultServer { _, _ in .serve(body: testBytes(count: 100)) }
    defer { canary.stop() }
    let canary6 = try FaultServer(host: "::1") { _, _ in .serve(body: testBytes(count: 100)) }
    defer { canary6.stop() }
    let redirector = try FaultServer(host: "127.0.0.2") { _, _ in
      .status(302, headers: [("Location", "\(canary.base)/moved")])
    }
    defer { redirector.stop() }
    // One attempt per transfer and per job: a refused or redirected upload is retried by the job after a
    // backoff of up to 5 s, then 10 s (the same request again, 5-11 s of waiting in this test).
    let server = try APITestServer(extraEnvironment: [
      "FERRY_NETWORK_ALLOW": #"["127.0.0.2/32"]"#, "FERRY_TRANSFER_MAX_ATTEMPTS": "1", "FERRY_JOBS_MAX_ATTEMPTS": "1",
      "FERRY_WEBHOOKS_INITIAL_BACKOFF_S": "0.05",
    ])
    defer { Task { await server.stop() } }
    let token = try await server.token(key: "app-a", secret: "secret-a")
    try put(server, key: "in/source", testBytes(count: 100))
    let (p, q) = (canary.port, canary6.port)
    let spellings = [
      "http://127.0.0.1:\(p)/a", "http://2130706433:\(p)/a", "http://0177.0.0.1:\(p)/a", "http://0x7f.0.0.1:\(p)/a",
      "http://0x7f000001:\(p)/a", "http://127.1:\(p)/a", "http://127.000.000.001:\(p)/a",
      "http://[::ffff:127.0.0.1]:\(p)/a", "http://[::ffff:7f00:1]:\(p)/a", "http://0.0.0.0:\(p)/a",
      "http://localhost:\(p)/a", "http://LocalHost:\(p)/a", "http://localhost.:\(p)/a",
      "http://canary.localhost:\(p)/a", "http://user@127.0.0.1:\(p)/a",
      "http://127.0.0.2@127.0.0.1:\(p)/a", "http://%31%32%37.0.0.1:\(p)/a", "http://[::1]:\(q)/a",
      "http://[::]:\(q)/a", "http://[0:0:0:0:0:0:0:1]:\(q)/a", "\(redirector.base)/to-the-canary",
    ]
    var jobs: [(String, String)] = []
    var refusedAtSubmission = 0
    for (index, url) in spellings.enumerated() {
      let bodies = [
        #"{"input": "\#(url)", "output": "dlb://out/\#(index)-a"}"#,
        #"{"input": "dlb://in/source", "output": "\#(url)"}"#,
        #"{"input": "dlb://in/source", "output": "dlb://out/\#(index)-c", "on_complete": {"url": "\#(url)"}}"#,
      ]
      for body in bodies {
        let posted = try await server.request(
          "POST", "/media/copy", headers: ["Authorization": "Bearer \(token)"], body: body)
        if posted.status == 400 {
          refusedAtSubmission += 1
        } else {
          jobs.append((try #require(posted.json["job_id"] as? String, "\(posted.text)"), body))
        }
      }
    }
    for (job, body) in jobs {
      let ended = try await server.waitForEnd(job, token: token, timeout: 30)
      if body.contains("on_complete") {
        // The job itself is fine; its callback is refused and given up.
        #expect(ended["status"] as? String == "Success", "\(body)")
        var shown: [[String: Any]] = []
        for _ in 0..<200 {
          let answer = try await server.request(
            "GET", "/media/copy?job_id=\(job)", headers: ["Authorization": "Bearer \(token)"])
          shown = answer.json["deliveries"] as? [[String: Any]] ?? []
          if !shown.isEmpty { break }
          try await Task.sleep(for: .milliseconds(20))
        }
        // Refused without connecting, or (the allowed redirector) answered 302, which is not followed.
        let redirected = body.contains(redirector.base)
        #expect(shown.count == 1, "\(body): \(shown)")
        #expect(redirected ? shown.first?["status"] as? Int == 302 : shown.first?["status"] is NSNull, "\(shown)")
      } else {
        #expect(ended["status"] as? String == "Failed", "\(body): \(ended)")
      }
    }
    #expect(jobs.count + refusedAtSubmission == spellings.count * 3)
    #expect(canary.connectionCount == 0 && canary6.connectionCount == 0)
    // The allowed first hop was really tried, and its redirect refused.
    #expect(redirector.requests.count >= 1)
  }

  @Test func secretsInRequests_neverAppearInLogsAnswersPayloadsOrTheDataDirectory() async throws {
    let canaries = [
      "AKIACANARY0000KEY", "canary-s3-secret-0001", "canary-session-token-0002", "canary-basic-pass-0003",
      "canarysig0004", "canary-hook-token-0005", "canary-registered-0006", "canary-userinfo-0007",
    ]
    let input = testBytes(count: 2000)
    let peer = try FaultServer { request, _ in
      // Whoever sends the right password gets the media; pre-signed and s3 requests are refused.
      if request.method == "GET", request.target.hasPrefix("/basic"),
        request.header("Authorization") == "Basic " + Data("u:canary-basic-pass-0003".utf8).base64EncodedString()
      {
        return .serve(body: input)
      }
      return request.method == "PUT" ? .status(200) : .status(403, body: "<Error><Code>AccessDenied</Code></Error>")
    }
    defer { peer.stop() }
    let receiver = try FaultServer { _, _ in .status(200) }
    defer { receiver.stop() }
    let server = try APITestServer(extraEnvironment: [
      "FERRY_S3_ENDPOINT": peer.base, "FERRY_S3_PATH_STYLE": "true", "FERRY_TRANSFER_MAX_ATTEMPTS": "1",
      "FERRY_WEBHOOKS_INITIAL_BACKOFF_S": "0.05",
    ])
    let token = try await server.token(key: "app-a", secret: "secret-a")
    let auth = ["Authorization": "Bearer \(token)"]
    var answers: [String] = []
    let registered = try await server.request(
      "POST", "/media/webhooks", headers: auth,
      body: #"{"callback": {"url": "\#(receiver.base)/hook", "headers": {"X-Secret": "canary-registered-0006"}}}"#)
    let webhookID = try #require(registered.json["webhook_id"] as? String)
    answers.append(registered.text)
    let presigned =
      "\(peer.base)/bucket/in.wav?X-Amz-Algorithm=AWS4-HMAC-SHA256"
      + "&X-Amz-Credential=AKIACANARY0000KEY%2F20261129%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20261129T000000Z"
      + "&X-Amz-Expires=604800&X-Amz-SignedHeaders=host&X-Amz-Signature=canarysig0004"
    let bodies = [
      // s3:// with keys and a session token (the store refuses them).
      #"{"input": {"url": "s3://bucket/in.wav", "auth": {"key": "AKIACANARY0000KEY", "secret": "canary-s3-secret-0001", "token": "canary-session-token-0002"}}, "output": "dlb://out/1"}"#,
      // A pre-signed URL (refused).
      #"{"input": "\#(presigned)", "output": "dlb://out/2"}"#,
      // Basic auth in the location and in the URL; the first succeeds and calls back with a secret header.
      #"{"input": {"url": "\#(peer.base)/basic", "auth": {"username": "u", "password": "canary-basic-pass-0003"}}, "output": "dlb://out/3", "on_complete": {"url": "\#(receiver.base)/done", "headers": {"Authorization": "Bearer canary-hook-token-0005"}}}"#,
      #"{"input": "http://u:canary-userinfo-0007@127.0.0.1:\#(peer.port)/userinfo", "output": "dlb://out/4"}"#,
      // An output with keys (signed with them; the peer takes it).
      #"{"input": {"url": "\#(peer.base)/basic", "auth": {"username": "u", "password": "canary-basic-pass-0003"}}, "output": {"url": "s3://bucket/out.wav", "auth": {"key": "AKIACANARY0000KEY", "secret": "canary-s3-secret-0001"}}}"#,
    ]
    var jobs: [String] = []
    for body in bodies {
      let posted = try await server.request("POST", "/media/copy", headers: auth, body: body)
      answers.append(posted.text)
      // User-info in a URL is refused at the door (the answer says how to pass credentials instead).
      if body.contains("canary-userinfo") {
        #expect(posted.status == 400)
        continue
      }
      jobs.append(try #require(posted.json["job_id"] as? String, "\(posted.text)"))
    }
    var statuses: [String] = []
    for job in jobs {
      let ended = try await server.waitForEnd(job, token: token, timeout: 30)
      statuses.append(ended["status"] as? String ?? "")
    }
    #expect(statuses == ["Failed", "Failed", "Success", "Success"])
    // Every job calls the registered webhook; the third calls its own on_complete too.
    let deadline = Date() + 10
    while receiver.requests.count < jobs.count + 1 && Date() < deadline { try await Task.sleep(for: .milliseconds(20)) }
    #expect(receiver.requests.count == jobs.count + 1)
    for job in jobs {
      answers.append(try await server.request("GET", "/media/copy?job_id=\(job)", headers: auth).text)
    }
    answers.append(try await server.request("GET", "/media/jobs", headers: auth).text)
    answers.append(try await server.request("GET", "/media/webhooks?id=\(webhookID)", headers: auth).text)
    answers.append(try await server.request("GET", "/metrics").text)
    await server.stop()

    let payloads = receiver.requests.map { String(decoding: $0.body, as: UTF8.self) }
    let logs = server.logs.all.joined(separator: "\n")
    var files: [(String, Data)] = []
    if let walker = FileManager.default.enumerator(atPath: server.dataDirectory) {
      while let name = walker.nextObject() as? String {
        let path = server.dataDirectory + "/" + name
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue,
          let data = FileManager.default.contents(atPath: path)
        {
          files.append((name, data))
        }
      }
    }
    #expect(files.contains { $0.0 == "ferry.db" } && !logs.isEmpty)
    for canary in canaries + [token, "secret-a"] {
      #expect(!logs.contains(canary), "\(canary) in the logs")
      for answer in answers { #expect(!answer.contains(canary), "\(canary) in an answer: \(answer)") }
      for payload in payloads { #expect(!payload.contains(canary), "\(canary) in a webhook payload") }
      for (name, data) in files { #expect(data.range(of: Data(canary.utf8)) == nil, "\(canary) in \(name)") }
    }
  }
}
