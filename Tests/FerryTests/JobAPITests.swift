import Foundation
import TestSupport
import Testing

/// The job API over real HTTP: tokens, submission, polling, isolation between apps, idempotency, admission
/// control and cancel, with the copy operation doing real transfers to a loopback fault server.
@Suite(.serialized) struct JobAPITests {
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
