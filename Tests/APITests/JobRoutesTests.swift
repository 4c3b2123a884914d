import API
import Foundation
import Testing

/// The job and auth routes through the router, no socket: tokens, the Bearer scheme, validation before
/// anything is stored, isolation between apps, idempotency, admission control and cancel. (Jobs that run end
/// to end are FerryTests' JobAPITests.)
@Suite struct JobRoutesTests {
  @Test func tokens_areIssuedForTheRightSecretOnly() async throws {
    let server = try APIHarness()
    let token = try await server.token(key: "app-a", secret: "secret-a")
    #expect(token.split(separator: ".").count == 3)
    let basic = Data("app-a:wrong".utf8).base64EncodedString()
    let refused = await server.request(
      "POST", "/v1/auth/token",
      headers: ["Authorization": "Basic \(basic)", "Content-Type": "application/x-www-form-urlencoded"],
      body: "grant_type=client_credentials")
    #expect(refused.status == 401 && refused.header("WWW-Authenticate") != nil)
    #expect(!refused.text.contains("secret-a"))
    let legacy = Data("app-a:secret-a".utf8).base64EncodedString()
    let noGrant = await server.request(
      "POST", "/media/oauth2/token",
      headers: ["Authorization": "Basic \(legacy)", "Content-Type": "application/x-www-form-urlencoded"],
      body: "grant_type=password")
    #expect(noGrant.status == 400 && noGrant.text.contains("grant_type"))
    let long = await server.request(
      "POST", "/v1/auth/token",
      headers: ["Authorization": "Basic \(legacy)", "Content-Type": "application/x-www-form-urlencoded"],
      body: "grant_type=client_credentials&expires_in=999999")
    #expect(long.json["expires_in"] as? Int == 86400 && long.json["token_type"] as? String == "Bearer")
    // Found by schemathesis: a number past Int's range was refused (400) instead of shortened.
    let huge = await server.request(
      "POST", "/v1/auth/token",
      headers: ["Authorization": "Basic \(legacy)", "Content-Type": "application/x-www-form-urlencoded"],
      body: "grant_type=client_credentials&expires_in=3401482977496188583936")
    #expect(huge.status == 200 && huge.json["expires_in"] as? Int == 86400, "\(huge.text)")
  }

  @Test func theBearerScheme_isCaseInsensitive_andAnythingElseIsRefused() async throws {
    let server = try APIHarness()
    let token = try await server.token(key: "app-a", secret: "secret-a")
    for header in ["Bearer \(token)", "bearer \(token)", "BEARER  \(token)", "bEaReR \t\(token)"] {
      let answer = await server.request("GET", "/media/jobs", headers: ["Authorization": header])
      #expect(answer.status == 200, "\(header.prefix(12))")
    }
    for header in ["Basic \(token)", "Bearer", "Bearer ", "Bearerx \(token)", "Bear \(token)", token] {
      let answer = await server.request("GET", "/media/jobs", headers: ["Authorization": header])
      #expect(answer.status == 401 && answer.header("WWW-Authenticate") != nil, "\(header.prefix(12))")
    }
  }

  @Test func anExpiredToken_getsTheTypeDolbysBrowserSamplesRenewOn_andABadOneDoesNot() async throws {
    let server = try APIHarness()
    // Issued two hours ago for one hour: signed by this server, and expired.
    let expired = server.tokens.issue(app: "app-a", lifetime: 3600, now: Date() - 7200)
    for (method, path) in [("GET", "/media/jobs"), ("POST", "/media/copy")] {
      let answer = await server.request(
        method, path, headers: ["Authorization": "Bearer \(expired)"], body: method == "POST" ? "{}" : nil)
      #expect(answer.status == 401, "\(path)")
      #expect(answer.json["type"] as? String == "/problems/access-token-expired", "\(path)")
      #expect(answer.json["title"] as? String == "Access token expired")
      #expect(answer.header("WWW-Authenticate")?.contains(#"error="invalid_token""#) == true)
    }
    // Tokens that were never good stay plain unauthorized, expired or not: a forged signature, another
    // server's key, an app that is not configured.
    let forged = String(expired.dropLast(2)) + "xx"
    let foreign = TokenIssuer(masterKey: [UInt8](repeating: 1, count: 32))
      .issue(app: "app-a", lifetime: 3600, now: Date() - 7200)
    let unknownApp = server.tokens.issue(app: "gone", lifetime: 3600, now: Date() - 7200)
    for token in [forged, foreign, unknownApp, "not-a-token"] {
      let answer = await server.request("GET", "/media/jobs", headers: ["Authorization": "Bearer \(token)"])
      #expect(answer.status == 401 && answer.json["type"] as? String == "/problems/unauthorized")
    }
    // A fresh one from the same app works.
    let fresh = try await server.token(key: "app-a", secret: "secret-a")
    #expect(await server.request("GET", "/media/jobs", headers: ["Authorization": "Bearer \(fresh)"]).status == 200)
  }

  @Test func anotherApp_cannotSeeOrCancelTheJob() async throws {
    let server = try APIHarness()
    let a = try await server.token(key: "app-a", secret: "secret-a")
    let b = try await server.token(key: "app-b", secret: "secret-b")
    let posted = await server.request(
      "POST", "/media/copy", headers: ["Authorization": "Bearer \(a)"],
      body: #"{"input": "http://127.0.0.1:9/in", "output": "http://127.0.0.1:9/out"}"#)
    let jobID = try #require(posted.json["job_id"] as? String)
    let seen = await server.request("GET", "/media/copy?job_id=\(jobID)", headers: ["Authorization": "Bearer \(b)"])
    #expect(seen.status == 404 && seen.header("Content-Type") == "application/problem+json")
    let cancel = await server.request(
      "POST", "/media/jobs/cancel?job_id=\(jobID)", headers: ["Authorization": "Bearer \(b)"], body: "{}")
    #expect(cancel.status == 404)
    let listing = await server.request("GET", "/media/jobs", headers: ["Authorization": "Bearer \(b)"])
    #expect(listing.json["count"] as? Int == 0)
    let mine = await server.request(
      "POST", "/media/jobs/cancel?job_id=\(jobID)", headers: ["Authorization": "Bearer \(a)"], body: "{}")
    #expect(mine.status == 200 && mine.json["job_id"] as? String == jobID)
    // No worker runs here: the pending job ends at once (a running job's cancel is CancellationTests').
    let ended = await server.request("GET", "/media/copy?job_id=\(jobID)", headers: ["Authorization": "Bearer \(a)"])
      .json
    #expect(ended["status"] as? String == "Cancelled")
  }

  @Test func requests_areCheckedBeforeAnythingIsStored() async throws {
    let server = try APIHarness()
    let token = try await server.token(key: "app-a", secret: "secret-a")
    let auth = ["Authorization": "Bearer \(token)"]
    let noAuth = await server.request("POST", "/media/copy", body: "{}")
    #expect(noAuth.status == 401 && noAuth.header("WWW-Authenticate") != nil)
    let forged = await server.request(
      "GET", "/media/jobs", headers: ["Authorization": "Bearer \(token.dropLast(2))xx"])
    #expect(forged.status == 401)
    let scheme = await server.request(
      "POST", "/media/copy", headers: auth, body: #"{"input": "ftp://h/x", "output": "dlb://out"}"#)
    #expect(
      scheme.status == 400
        && scheme.json["detail"] as? String == #"input: unsupported scheme "ftp"; use http, https, s3 or dlb"#)
    let secret = await server.request(
      "POST", "/media/copy", headers: auth,
      body: #"{"input": "dlb://in", "output": {"url": "s3://bucket/k", "auth": {"key": "AK"}}}"#)
    #expect(secret.status == 400 && (secret.json["detail"] as? String)?.hasPrefix("output.auth.secret") == true)
    let type = await server.request(
      "POST", "/media/copy", headers: auth.merging(["Content-Type": "text/plain"]) { $1 }, body: "input=dlb://a")
    #expect(type.status == 415)
    let notJSON = await server.request("POST", "/media/copy", headers: auth, body: "{input")
    #expect(notJSON.status == 400)
    let missing = await server.request("GET", "/media/copy", headers: auth)
    #expect(missing.status == 400 && (missing.json["detail"] as? String)?.hasPrefix("job_id") == true)
    let listing = await server.request("GET", "/media/jobs", headers: auth)
    #expect(listing.json["count"] as? Int == 0)
  }

  @Test func aJSONBody_isReadWhateverItsDeclaredType_andOnlyABodyThatIsNotJSONIs415() async throws {
    let server = try APIHarness()
    let auth = ["Authorization": "Bearer \(try await server.token(key: "app-a", secret: "secret-a"))"]
    func post(_ path: String, type: String?, _ body: String) async -> APIResponse {
      await server.request(
        "POST", path, headers: type.map { auth.merging(["Content-Type": $0]) { $1 } } ?? auth, body: body)
    }
    // `curl --data` (Dolby's docs) declares a form; scripts declare text/plain or nothing at all.
    let job = #"{"input": "dlb://in/a.wav", "output": "dlb://out/a.wav"}"#
    for type in ["application/x-www-form-urlencoded", "text/plain; charset=utf-8", "application/json", nil] {
      let posted = await post("/media/copy", type: type, job)
      #expect(posted.status == 200 && posted.json["job_id"] is String, "\(type ?? "no type"): \(posted.text)")
      let hook = await post("/media/webhooks", type: type, #"{"callback": {"url": "https://hooks.example/x"}}"#)
      #expect(hook.status == 200 && hook.json["webhook_id"] is String, "\(type ?? "no type"): \(hook.text)")
    }
    // A form that is a form, or a file: 415, naming the type it came as.
    for path in ["/media/copy", "/media/webhooks"] {
      let form = await post(path, type: "application/x-www-form-urlencoded", "input=dlb%3A%2F%2Fin&output=x")
      #expect(form.status == 415 && form.json["type"] as? String == "/problems/unsupported-media-type", "\(path)")
      #expect((form.json["detail"] as? String)?.contains("application/x-www-form-urlencoded") == true)
      #expect(form.header("Content-Type") == "application/problem+json")
    }
    // Declared as JSON (or not declared) but broken: a 400 that says where, as before.
    for type in ["application/json", nil] {
      let broken = await post("/media/copy", type: type, #"{"input": "dlb://in/a.wav","#)
      #expect(broken.status == 400 && (broken.json["detail"] as? String)?.contains("not valid JSON") == true)
    }
    // JSON under another type is JSON: its faults are 400s naming the field.
    let twice = await post(
      "/media/copy", type: "text/plain", #"{"input": "dlb://a", "input": "dlb://b", "output": "dlb://c"}"#)
    #expect(twice.status == 400 && (twice.json["detail"] as? String)?.hasPrefix("input is given twice") == true)
    let array = await post("/media/copy", type: "application/x-www-form-urlencoded", "[1]")
    #expect(array.status == 400 && array.json["detail"] as? String == "the body must be a JSON object")
    let missing = await post("/media/copy", type: "application/x-www-form-urlencoded", #"{"output": "dlb://c"}"#)
    #expect(missing.status == 400 && (missing.json["detail"] as? String)?.hasPrefix("input") == true)
  }

  @Test func aRetriedPost_returnsTheSameJob() async throws {
    let server = try APIHarness()
    let token = try await server.token(key: "app-a", secret: "secret-a")
    let body = #"{"input": "dlb://missing.wav", "output": "dlb://out.wav"}"#
    let auth = ["Authorization": "Bearer \(token)"]
    let first = await server.request("POST", "/media/copy", headers: auth, body: body)
    let again = await server.request("POST", "/media/copy", headers: auth, body: body)
    #expect(first.json["job_id"] as? String == again.json["job_id"] as? String)
    let keyedBody = #"{"input": "dlb://a", "output": "dlb://b"}"#
    let keyed = await server.request(
      "POST", "/media/copy", headers: auth.merging(["Idempotency-Key": "k-1"]) { $1 }, body: keyedBody)
    let keyedAgain = await server.request(
      "POST", "/media/copy", headers: auth.merging(["Idempotency-Key": "k-1"]) { $1 }, body: keyedBody)
    #expect(keyed.json["job_id"] as? String == keyedAgain.json["job_id"] as? String)
    #expect(keyed.json["job_id"] as? String != first.json["job_id"] as? String)
    // The same key with another body is the client's mistake: 422, and nothing stored.
    let reused = await server.request(
      "POST", "/media/copy", headers: auth.merging(["Idempotency-Key": "k-1"]) { $1 },
      body: #"{"input": "dlb://other", "output": "dlb://b"}"#)
    #expect(reused.status == 422 && reused.json["type"] as? String == "/problems/idempotency-key-reused")
    let detail = reused.json["detail"] as? String ?? ""
    #expect(detail.contains(keyed.json["job_id"] as? String ?? "?") && detail.hasPrefix("Idempotency-Key:"))
    let listing = await server.request("GET", "/media/jobs", headers: auth)
    #expect(listing.json["count"] as? Int == 2)
  }

  @Test func theSameBody_afterItsJobWasCancelled_isANewJob() async throws {
    let server = try APIHarness()
    let token = try await server.token(key: "app-a", secret: "secret-a")
    let auth = ["Authorization": "Bearer \(token)"]
    let body = #"{"input": "dlb://in.wav", "output": "dlb://out.wav"}"#
    let first = try #require(
      await server.request("POST", "/media/copy", headers: auth, body: body).json["job_id"] as? String)
    let cancelled = await server.request("POST", "/media/jobs/cancel?job_id=\(first)", headers: auth, body: "{}")
    #expect(cancelled.json["status"] as? String == "Cancelled")
    let again = await server.request("POST", "/media/copy", headers: auth, body: body)
    #expect(again.status == 200 && again.json["job_id"] as? String != first, "a new job, not the cancelled one")
  }

  @Test func outputURLsThatExpireTooSoon_areRefused_withTheLifetimeNeeded() async throws {
    let server = try APIHarness()
    let token = try await server.token(key: "app-a", secret: "secret-a")
    func post(expiresIn seconds: Int) async throws -> (Int, String) {
      let date = Date()
      let formatter = DateFormatter()
      formatter.locale = Locale(identifier: "en_US_POSIX")
      formatter.timeZone = TimeZone(identifier: "UTC")
      formatter.dateFormat = "yyyyMMdd'T'HHmmss'Z'"
      let url =
        "https://bucket.s3.amazonaws.com/out.wav?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AK%2F20261129%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=\(formatter.string(from: date))&X-Amz-Expires=\(seconds)&X-Amz-SignedHeaders=host&X-Amz-Signature=f00d"
      let response = await server.request(
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
    // One token per 1,000 s, on a clock that does not move: nothing refills.
    let server = try APIHarness(ratePerSecond: 0.001, rateBurst: 3)
    var statuses: [Int] = []
    for _ in 0..<5 {
      statuses.append(await server.request("GET", "/media/jobs", headers: ["x-api-key": "legacy-a"]).status)
    }
    #expect(statuses.prefix(3).allSatisfy { $0 == 200 } && statuses.suffix(2).allSatisfy { $0 == 429 }, "\(statuses)")
    let limited = await server.request("GET", "/media/jobs", headers: ["x-api-key": "legacy-a"])
    #expect((limited.header("Retry-After").flatMap(Int.init) ?? 0) > 900)
    #expect(limited.json["type"] as? String == "/problems/too-many-requests")
    // The budget is per app.
    let other = try await server.token(key: "app-b", secret: "secret-b")
    #expect(await server.request("GET", "/media/jobs", headers: ["Authorization": "Bearer \(other)"]).status == 200)
  }
}

/// Webhook registrations through the router, no socket (deliveries are FerryTests' WebhookTests and
/// WebhooksTests').
@Suite struct WebhookRoutesTests {
  @Test func registrations_areOnePerApp_checked_andInvisibleToOtherApps() async throws {
    let server = try APIHarness()
    let a = ["Authorization": "Bearer \(try await server.token(key: "app-a", secret: "secret-a"))"]
    let b = ["Authorization": "Bearer \(try await server.token(key: "app-b", secret: "secret-b"))"]
    let first = await server.request(
      "POST", "/media/webhooks", headers: a,
      body: #"{"callback": {"url": "https://hooks.example/a?sig=s3cr3t", "headers": {"X-Key": "k3y"}}}"#)
    let id = try #require(first.json["webhook_id"] as? String)
    // A second registration replaces the first and keeps its id.
    let again = await server.request(
      "POST", "/media/webhooks", headers: a, body: #"{"callback": {"url": "https://hooks.example/b?sig=s3cr3t"}}"#)
    #expect(again.json["webhook_id"] as? String == id)
    let shown = await server.request("GET", "/media/webhooks?id=\(id)", headers: a)
    #expect(shown.status == 200 && shown.json["webhook_id"] as? String == id)
    #expect((shown.json["callback"] as? [String: Any])?["url"] as? String == "https://hooks.example/b?sig=REDACTED")
    let put = await server.request(
      "PUT", "/media/webhooks?id=\(id)", headers: a,
      body: #"{"callback": {"url": "https://hooks.example/c", "headers": {"X-Key": "k3y"}}}"#)
    #expect(put.status == 200 && put.json["webhook_id"] as? String == id)
    let putShown = await server.request("GET", "/media/webhooks?id=\(id)", headers: a)
    #expect(!putShown.text.contains("k3y") && putShown.text.contains("X-Key"))

    // Another app: 404 for every use of A's id.
    #expect(await server.request("GET", "/media/webhooks?id=\(id)", headers: b).status == 404)
    #expect(await server.request("DELETE", "/media/webhooks?id=\(id)", headers: b).status == 404)
    let foreignPut = await server.request(
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
      let answer = await server.request("POST", "/media/webhooks", headers: a, body: body)
      #expect(answer.status == 400 && answer.json["detail"] as? String == detail, "\(body): \(answer.text)")
    }
    let badJob = await server.request(
      "POST", "/media/copy", headers: a,
      body: #"{"input": "dlb://in", "output": "dlb://out", "on_complete": {"url": "https://h/", "headers": [1]}}"#)
    #expect(
      badJob.status == 400
        && badJob.json["detail"] as? String == "on_complete.headers[0]: expected a string, got a number")
    #expect(await server.request("GET", "/media/webhooks", headers: a).status == 400)

    let deleted = await server.request("DELETE", "/media/webhooks?id=\(id)", headers: a)
    #expect(deleted.status == 200 && deleted.json["webhook_id"] as? String == id)
    #expect(await server.request("GET", "/media/webhooks?id=\(id)", headers: a).status == 404)
    #expect(await server.request("DELETE", "/media/webhooks?id=\(id)", headers: a).status == 404)
  }
}
