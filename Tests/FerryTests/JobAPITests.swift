import Foundation
import TestSupport
import Testing

/// The job API over real HTTP: tokens, submission, polling, isolation between apps, idempotency, admission
/// control and cancel, with the copy operation doing real transfers to a loopback fault server.
@Suite(.serialized) struct JobAPITests {
  @Test func tokens_areIssuedForTheRightSecretOnly() async throws {
    let server = try APITestServer()
    defer { Task { await server.stop() } }
    let token = try await server.token(key: "app-a", secret: "secret-a")
    #expect(token.split(separator: ".").count == 3)
    let basic = Data("app-a:wrong".utf8).base64EncodedString()
    let refused = try await server.request(
      "POST", "/v1/auth/token",
      headers: ["Authorization": "Basic \(basic)", "Content-Type": "application/x-www-form-urlencoded"],
      body: "grant_type=client_credentials")
    #expect(refused.status == 401 && refused.header("WWW-Authenticate") != nil)
    #expect(!refused.text.contains("secret-a"))
    let legacy = Data("app-a:secret-a".utf8).base64EncodedString()
    let noGrant = try await server.request(
      "POST", "/media/oauth2/token",
      headers: ["Authorization": "Basic \(legacy)", "Content-Type": "application/x-www-form-urlencoded"],
      body: "grant_type=password")
    #expect(noGrant.status == 400 && noGrant.text.contains("grant_type"))
    let long = try await server.request(
      "POST", "/v1/auth/token",
      headers: ["Authorization": "Basic \(legacy)", "Content-Type": "application/x-www-form-urlencoded"],
      body: "grant_type=client_credentials&expires_in=999999")
    #expect(long.json["expires_in"] as? Int == 86400 && long.json["token_type"] as? String == "Bearer")
    // Found by schemathesis: a number past Int's range was refused (400) instead of shortened.
    let huge = try await server.request(
      "POST", "/v1/auth/token",
      headers: ["Authorization": "Basic \(legacy)", "Content-Type": "application/x-www-form-urlencoded"],
      body: "grant_type=client_credentials&expires_in=3401482977496188583936")
    #expect(huge.status == 200 && huge.json["expires_in"] as? Int == 86400, "\(huge.text)")
  }

  @Test func theBearerScheme_isCaseInsensitive_andAnythingElseIsRefused() async throws {
    let server = try APITestServer()
    defer { Task { await server.stop() } }
    let token = try await server.token(key: "app-a", secret: "secret-a")
    for header in ["Bearer \(token)", "bearer \(token)", "BEARER  \(token)", "bEaReR \t\(token)"] {
      let answer = try await server.request("GET", "/media/jobs", headers: ["Authorization": header])
      #expect(answer.status == 200, "\(header.prefix(12))")
    }
    for header in ["Basic \(token)", "Bearer", "Bearer ", "Bearerx \(token)", "Bear \(token)", token] {
      let answer = try await server.request("GET", "/media/jobs", headers: ["Authorization": header])
      #expect(answer.status == 401 && answer.header("WWW-Authenticate") != nil, "\(header.prefix(12))")
    }
  }

  @Test func aJob_isAccepted_runs_andEndsInTheDolbyEnvelope() async throws {
    let input = testBytes(count: 100_000)
    let peer = try FaultServer { request, _ in request.method == "GET" ? .serve(body: input) : .status(200) }
    defer { peer.stop() }
    let server = try APITestServer()
    defer { Task { await server.stop() } }
    let token = try await server.token(key: "app-a", secret: "secret-a")
    let posted = try await server.request(
      "POST", "/media/copy", headers: ["Authorization": "Bearer \(token)"],
      body: #"{"input": "\#(peer.base)/in.wav", "output": "\#(peer.base)/out.wav"}"#)
    #expect(posted.status == 200 && posted.header("Content-Type") == "application/json")
    let jobID = try #require(posted.json["job_id"] as? String)
    let done = try await server.waitForEnd(jobID, token: token)
    #expect(done["status"] as? String == "Success")
    #expect(done["progress"] as? Int == 100 && done["api_version"] as? String == "v1.1.2")
    #expect(done["path"] as? String == "/media/copy" && done["result"] is [String: Any])
    #expect(peer.requests.first { $0.method == "PUT" }?.body == input)
    // The legacy x-api-key sees the same job; the listing has it with its times.
    let listed = try await server.request("GET", "/media/jobs", headers: ["x-api-key": "legacy-a"])
    let jobs = try #require(listed.json["jobs"] as? [[String: Any]])
    #expect(listed.json["count"] as? Int == 1 && jobs.first?["job_id"] as? String == jobID)
    #expect((jobs.first?["time_completed"] as? String)?.hasSuffix("Z") == true)
  }

  @Test func anotherApp_cannotSeeOrCancelTheJob() async throws {
    let peer = try FaultServer { _, _ in .stall(body: [1], seconds: 20) }
    defer { peer.stop() }
    let server = try APITestServer()
    defer { Task { await server.stop() } }
    let a = try await server.token(key: "app-a", secret: "secret-a")
    let b = try await server.token(key: "app-b", secret: "secret-b")
    let posted = try await server.request(
      "POST", "/media/copy", headers: ["Authorization": "Bearer \(a)"],
      body: #"{"input": "\#(peer.base)/in", "output": "\#(peer.base)/out"}"#)
    let jobID = try #require(posted.json["job_id"] as? String)
    let seen = try await server.request("GET", "/media/copy?job_id=\(jobID)", headers: ["Authorization": "Bearer \(b)"])
    #expect(seen.status == 404 && seen.header("Content-Type") == "application/problem+json")
    let cancel = try await server.request(
      "POST", "/media/jobs/cancel?job_id=\(jobID)", headers: ["Authorization": "Bearer \(b)"], body: "{}")
    #expect(cancel.status == 404)
    let listing = try await server.request("GET", "/media/jobs", headers: ["Authorization": "Bearer \(b)"])
    #expect(listing.json["count"] as? Int == 0)
    let mine = try await server.request(
      "POST", "/media/jobs/cancel?job_id=\(jobID)", headers: ["Authorization": "Bearer \(a)"], body: "{}")
    #expect(mine.status == 200 && mine.json["job_id"] as? String == jobID)
    let ended = try await server.waitForEnd(jobID, token: a, timeout: 5)
    #expect(ended["status"] as? String == "Cancelled")
  }

  @Test func requests_areCheckedBeforeAnythingIsStored() async throws {
    let server = try APITestServer()
    defer { Task { await server.stop() } }
    let token = try await server.token(key: "app-a", secret: "secret-a")
    let auth = ["Authorization": "Bearer \(token)"]
    let noAuth = try await server.request("POST", "/media/copy", body: "{}")
    #expect(noAuth.status == 401 && noAuth.header("WWW-Authenticate") != nil)
    let forged = try await server.request(
      "GET", "/media/jobs", headers: ["Authorization": "Bearer \(token.dropLast(2))xx"])
    #expect(forged.status == 401)
    let scheme = try await server.request(
      "POST", "/media/copy", headers: auth, body: #"{"input": "ftp://h/x", "output": "dlb://out"}"#)
    #expect(
      scheme.status == 400
        && scheme.json["detail"] as? String == #"input: unsupported scheme "ftp"; use http, https, s3 or dlb"#)
    let secret = try await server.request(
      "POST", "/media/copy", headers: auth,
      body: #"{"input": "dlb://in", "output": {"url": "s3://bucket/k", "auth": {"key": "AK"}}}"#)
    #expect(secret.status == 400 && (secret.json["detail"] as? String)?.hasPrefix("output.auth.secret") == true)
    let type = try await server.request(
      "POST", "/media/copy", headers: auth.merging(["Content-Type": "text/plain"]) { $1 }, body: "{}")
    #expect(type.status == 415)
    let notJSON = try await server.request("POST", "/media/copy", headers: auth, body: "{input")
    #expect(notJSON.status == 400)
    let missing = try await server.request("GET", "/media/copy", headers: auth)
    #expect(missing.status == 400 && (missing.json["detail"] as? String)?.hasPrefix("job_id") == true)
    let listing = try await server.request("GET", "/media/jobs", headers: auth)
    #expect(listing.json["count"] as? Int == 0)
  }

  @Test func aRetriedPost_returnsTheSameJob() async throws {
    let server = try APITestServer()
    defer { Task { await server.stop() } }
    let token = try await server.token(key: "app-a", secret: "secret-a")
    let body = #"{"input": "dlb://missing.wav", "output": "dlb://out.wav"}"#
    let auth = ["Authorization": "Bearer \(token)"]
    let first = try await server.request("POST", "/media/copy", headers: auth, body: body)
    let again = try await server.request("POST", "/media/copy", headers: auth, body: body)
    #expect(first.json["job_id"] as? String == again.json["job_id"] as? String)
    let keyed = try await server.request(
      "POST", "/media/copy", headers: auth.merging(["Idempotency-Key": "k-1"]) { $1 },
      body: #"{"input": "dlb://a", "output": "dlb://b"}"#)
    let keyedAgain = try await server.request(
      "POST", "/media/copy", headers: auth.merging(["Idempotency-Key": "k-1"]) { $1 },
      body: #"{"input": "dlb://other", "output": "dlb://b"}"#)
    #expect(keyed.json["job_id"] as? String == keyedAgain.json["job_id"] as? String)
    #expect(keyed.json["job_id"] as? String != first.json["job_id"] as? String)
  }

  @Test func outputURLsThatExpireTooSoon_areRefused_withTheLifetimeNeeded() async throws {
    let server = try APITestServer()
    defer { Task { await server.stop() } }
    let token = try await server.token(key: "app-a", secret: "secret-a")
    func post(expiresIn seconds: Int) async throws -> (Int, String) {
      let date = Date()
      let formatter = DateFormatter()
      formatter.locale = Locale(identifier: "en_US_POSIX")
      formatter.timeZone = TimeZone(identifier: "UTC")
      formatter.dateFormat = "yyyyMMdd'T'HHmmss'Z'"
      let url =
        "https://bucket.s3.amazonaws.com/out.wav?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AK%2F20261129%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=\(formatter.string(from: date))&X-Amz-Expires=\(seconds)&X-Amz-SignedHeaders=host&X-Amz-Signature=f00d"
      let response = try await server.request(
        "POST", "/media/copy", headers: ["Authorization": "Bearer \(token)"],
        body: #"{"input": "dlb://in.wav", "output": "\#(url)"}"#)
      return (
        response.status, (response.json["type"] as? String ?? "") + " " + (response.json["detail"] as? String ?? "")
      )
    }
    let fiveSeconds = try await post(expiresIn: 5)
    #expect(fiveSeconds.0 == 400 && fiveSeconds.1.hasPrefix("/problems/output-url-expires-too-soon"))
    #expect(fiveSeconds.1.contains("pre-sign it for at least"))
    #expect(!fiveSeconds.1.contains("f00d"))
    #expect(try await post(expiresIn: 60).0 == 400)
    #expect(try await post(expiresIn: 3600).0 == 200)
  }
}

@Suite struct RateLimitTests {
  @Test func anAppOverItsRate_gets429WithRetryAfter_andOtherAppsDoNot() async throws {
    let server = try APITestServer(extraEnvironment: [
      // One token per 1,000 s: nothing refills while the test runs, however slow the machine.
      "FERRY_AUTH_RATE_LIMIT_PER_S": "0.001", "FERRY_AUTH_RATE_LIMIT_BURST": "3",
    ])
    defer { Task { await server.stop() } }
    var statuses: [Int] = []
    for _ in 0..<5 {
      statuses.append(try await server.request("GET", "/media/jobs", headers: ["x-api-key": "legacy-a"]).status)
    }
    #expect(statuses.prefix(3).allSatisfy { $0 == 200 } && statuses.suffix(2).allSatisfy { $0 == 429 }, "\(statuses)")
    let limited = try await server.request("GET", "/media/jobs", headers: ["x-api-key": "legacy-a"])
    #expect((limited.header("Retry-After").flatMap(Int.init) ?? 0) > 900)
    #expect(limited.json["type"] as? String == "/problems/too-many-requests")
    // The budget is per app.
    let other = try await server.token(key: "app-b", secret: "secret-b")
    #expect(try await server.request("GET", "/media/jobs", headers: ["Authorization": "Bearer \(other)"]).status == 200)
  }
}

@Suite struct MetricsTests {
  @Test func metrics_countRequestsJobsAndRefusals_withoutNamingAnApp() async throws {
    let server = try APITestServer()
    defer { Task { await server.stop() } }
    let token = try await server.token(key: "app-a", secret: "secret-a")
    let posted = try await server.request(
      "POST", "/media/copy", headers: ["Authorization": "Bearer \(token)"],
      body: #"{"input": "dlb://missing", "output": "dlb://out"}"#)
    let jobID = try #require(posted.json["job_id"] as? String)
    _ = try await server.waitForEnd(jobID, token: token)
    _ = try await server.request("GET", "/no/such/path/\(UUID())")
    // A known path with the wrong method counts under that path; storage URLs under one label.
    #expect(try await server.request("DELETE", "/metrics").status == 405)
    _ = try await server.request("GET", "/storage/v1/app-a/in/x.wav?sig=1")
    let metrics = try await server.request("GET", "/metrics")
    #expect(metrics.status == 200 && metrics.header("Content-Type")?.hasPrefix("text/plain") == true)
    let text = metrics.text
    #expect(text.contains(#"ferry_http_requests_total{route="/media/copy",status="200"}"#))
    #expect(text.contains(#"ferry_http_requests_total{route="other",status="404"}"#))
    #expect(text.contains(#"ferry_http_requests_total{route="/metrics",status="405"} 1"#))
    #expect(text.contains(#"ferry_http_requests_total{route="/storage/v1",status="#))
    #expect(text.contains(#"ferry_jobs{status="Failed"} 1"#))
    #expect(text.contains(#"ferry_job_runs_total{status="Failed"} 1"#))
    #expect(text.contains("ferry_queue_depth 0"))
    for secret in ["app-a", "secret-a", "legacy-a", token] { #expect(!text.contains(secret)) }
  }

  @Test func metrics_addUpPhaseTimesAndTheBytesJobsMoved() async throws {
    let input = testBytes(count: 300_000)
    // The input arrives slowly enough for the downloading phase to show.
    let peer = try FaultServer { request, _ in
      request.method == "GET" ? .stall(body: input, seconds: 0.3) : .status(200)
    }
    defer { peer.stop() }
    let server = try APITestServer()
    defer { Task { await server.stop() } }
    let token = try await server.token(key: "app-a", secret: "secret-a")
    for index in 0..<2 {
      let posted = try await server.request(
        "POST", "/media/copy", headers: ["Authorization": "Bearer \(token)"],
        body: #"{"input": "\#(peer.base)/in-\#(index)", "output": "\#(peer.base)/out-\#(index)"}"#)
      let jobID = try #require(posted.json["job_id"] as? String)
      #expect(try await server.waitForEnd(jobID, token: token)["status"] as? String == "Success")
    }
    let text = try await server.request("GET", "/metrics").text
    func value(_ name: String) -> Double? {
      text.split(separator: "\n").first { $0.hasPrefix(name + " ") }.flatMap { Double($0.split(separator: " ").last!) }
    }
    // Two jobs, each downloading and uploading 300,000 bytes.
    #expect(value("ferry_transfer_bytes_total") == 1_200_000, "\(text)")
    #expect((value(#"ferry_job_phase_seconds_total{phase="downloading"}"#) ?? 0) >= 0.5)
    #expect(value(#"ferry_job_phase_seconds_total{phase="uploading"}"#) != nil)
    #expect(value(#"ferry_job_phase_seconds_total{phase="queued"}"#) != nil)
  }
}
