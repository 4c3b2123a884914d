import Foundation
import Jobs
import Testing

@testable import API

@Suite struct VerifiedTokensTests {
  @Test func valuesSharingTheirHashedTailAreStillToldApart() {
    // Only the last 16 bytes are hashed: two values ending alike land in one bucket and must not be confused.
    let tail = String(repeating: "s", count: 16)
    let tokens = VerifiedTokens()
    let now = Date()
    tokens.remember("Bearer a." + tail, app: "app-a", expiry: now + 60)
    tokens.remember("Bearer b." + tail, app: "app-b", expiry: now + 60)
    tokens.remember("Bearer old." + tail, app: "app-c", expiry: now - 1)
    #expect(tokens.app(for: "Bearer a." + tail, now: now) == "app-a")
    #expect(tokens.app(for: "Bearer b." + tail, now: now) == "app-b")
    #expect(tokens.app(for: "Bearer c." + tail, now: now) == nil)
    #expect(tokens.app(for: "Bearer old." + tail, now: now) == nil, "expired")
    #expect(tokens.app(for: "short", now: now) == nil)
  }
}

@Suite struct JobEnvelopeTests {
  @Test func uuidText_isFoundationsLowercaseForm_andParsesBack() {
    for _ in 0..<100 {
      let id = UUID()
      #expect(id.text == id.uuidString.lowercased())
      #expect(UUID(text: id.text) == id && UUID(text: id.uuidString) == id)
    }
    #expect(UUID(text: "not-a-uuid") == nil && UUID(text: "f47ac10b58cc4372a5670e02b2c3d47900000") == nil)
    #expect(UUID(text: "g47ac10b-58cc-4372-a567-0e02b2c3d479") == nil)
  }

  @Test func theStatusEnvelope_isValidJSONWithEveryField() throws {
    var job = Job(
      owner: "app", path: "/media/enhance", sealedRequest: [1], requestDigest: "d", submittedAt: Date(),
      retention: .seconds(60), deadline: nil)
    try job.claim(worker: "w", now: Date(), lease: .seconds(30))
    let error = JobError(type: "/problems/input-file-access", title: "Input \"x\"", detail: "line\nbreak \\ and \u{01}")
    try job.finish(.retry(error, delay: .zero), worker: "w", now: Date(), maxAttempts: 1)
    let delivery = Delivery(
      jobID: job.id, owner: "app", target: .onComplete, createdAt: Date(),
      attempts: [
        DeliveryAttempt(at: Date(), url: "https://hooks.example/x?token=REDACTED", status: nil, error: "timed \"out\""),
        DeliveryAttempt(at: Date() + 1, url: "https://hooks.example/x?token=REDACTED", status: 200),
      ])
    let bytes = JobStatusView(job, deliveries: [delivery]).envelope
    let object = try #require(try JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any])
    #expect(object["status"] as? String == "Failed" && object["api_version"] as? String == "v1.1.2")
    #expect(object["job_id"] as? String == job.id.text && object["bytes_total"] is NSNull)
    let shown = try #require(object["error"] as? [String: Any])
    // Retries ran out (one attempt allowed): the detail says so.
    let detail = error.detail + "; gave up after 1 attempt"
    #expect(shown["detail"] as? String == detail && shown["details"] as? String == detail)
    #expect(shown["title"] as? String == "Input \"x\"")
    #expect((object["attempts"] as? [[String: Any]])?.first?["attempt"] as? Int == 1)
    let deliveries = try #require(object["deliveries"] as? [[String: Any]])
    #expect(
      deliveries.count == 2 && deliveries[0]["status"] is NSNull && deliveries[0]["error"] as? String == "timed \"out\""
    )
    #expect(deliveries[1]["status"] as? Int == 200 && deliveries[1]["error"] == nil)
    #expect(deliveries[1]["url"] as? String == "https://hooks.example/x?token=REDACTED")
    // A webhook's payload leaves the field out: every attempt of a delivery sends the same body.
    let payload = try #require(
      try JSONSerialization.jsonObject(with: Data(JobStatusView(job, deliveries: nil).envelope)) as? [String: Any])
    #expect(payload["deliveries"] == nil && payload["job_id"] as? String == job.id.text)

    var done = Job(
      owner: "app", path: "/media/analyze", sealedRequest: [1], requestDigest: "d", submittedAt: Date(),
      retention: .seconds(60), deadline: nil)
    try done.claim(worker: "w", now: Date(), lease: .seconds(30))
    try done.finish(.success(result: #"{"a":[1,2],"b":"c"}"#), worker: "w", now: Date(), maxAttempts: 1)
    let ok = try #require(
      try JSONSerialization.jsonObject(with: Data(JobStatusView(done, deliveries: []).envelope)) as? [String: Any])
    #expect((ok["result"] as? [String: Any])?["b"] as? String == "c" && ok["progress"] as? Int == 100)
  }

  @Test func aRenderedEnvelope_isReusedOnlyWhileTheJobIsUnchanged() throws {
    let rendered = RenderedEnvelopes()
    var job = Job(
      owner: "app", path: "/media/enhance", sealedRequest: [1], requestDigest: "d", submittedAt: Date(),
      retention: .seconds(60), deadline: nil)
    let first = rendered.envelope(of: job)
    #expect(rendered.envelope(of: job) == first)
    try job.claim(worker: "w", now: Date(), lease: .seconds(30))
    try job.report(
      worker: "w", now: Date(), lease: .seconds(30), phase: .downloading, progress: 7, bytesDone: 1, bytesTotal: 9)
    let second = rendered.envelope(of: job)
    #expect(second != first && second == JobStatusView(job, deliveries: []).envelope)
    let object = try #require(try JSONSerialization.jsonObject(with: Data(second)) as? [String: Any])
    #expect(object["progress"] as? Int == 7 && object["status"] as? String == "Running")
  }
}
