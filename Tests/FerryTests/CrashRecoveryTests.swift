import Foundation
import TestSupport
import Testing

/// The promise of a 2xx job POST, tested the hard way: the real `ferry serve` process is killed with
/// SIGKILL three times while it works through 50 enhance jobs whose inputs are served slowly; after each
/// kill it is restarted on the same data dir. Every job must end `Success` with a correct output.
@Suite(.serialized) struct CrashRecoveryTests {
  @Test(.timeLimit(.minutes(5)))
  func everyAcceptedJobSucceedsThroughThreeKills() async throws {
    let work = try makeTemporaryDirectory("ferry-crash")
    let input = try LiveNode.tone(work + "/tone.wav")
    let peer = try FaultServer { request, _ in
      request.method == "GET" ? .stall(body: input, seconds: 0.4) : .status(200)
    }
    defer { peer.stop() }

    let environment = [
      "FERRY_SERVER_PORT": "0", "FERRY_DATA_DIR": work + "/data", "FERRY_NETWORK_ALLOW": #"["127.0.0.0/8"]"#,
      "FERRY_AUTH_APPS": #"[{"key": "crash-app", "secret": "crash-secret"}]"#, "FERRY_WORKERS_CONCURRENCY": "2",
      "FERRY_JOBS_MAX_ATTEMPTS": "6", "FERRY_AUTH_RATE_LIMIT_PER_S": "100000", "FERRY_AUTH_RATE_LIMIT_BURST": "100000",
    ]
    var ferry = try FerryProcess(["serve"], environment: environment)
    var port = try ferry.waitForPort()
    defer { ferry.terminate() }

    let token = try await LiveNode.token(port: port, key: "crash-app", secret: "crash-secret")
    var ids: [String] = []
    for index in 0..<50 {
      let body =
        #"{"input": "\#(peer.base)/in/\#(index).wav", "output": "\#(peer.base)/out/\#(index).wav", "content": {"type": "podcast"}}"#
      let answer = try await LiveNode.send(port: port, "POST", "/media/enhance", token: token, body: body)
      #expect(answer.status == 200, "\(answer.text)")
      ids.append(try #require(answer.json["job_id"] as? String))
    }

    var takenBack = 0
    for _ in 0..<3 {
      try await Task.sleep(for: .milliseconds(Int.random(in: 500...2500)))
      ferry.send(SIGKILL)
      #expect(ferry.waitForExit(timeout: 10) != nil)
      ferry = try FerryProcess(["serve"], environment: environment)
      port = try ferry.waitForPort()
      takenBack += ferry.logLines.filter { $0.contains("job taken back") }.count
    }
    #expect(takenBack > 0, "at least one kill landed while a job ran")

    // Every job ends, and ends well (bounded: two workers, about 0.6 s a job, plus restarts).
    var statuses: [String: String] = [:]
    let deadline = Date() + 150
    while Date() < deadline {
      for id in ids where statuses[id] == nil || ["Pending", "Running"].contains(statuses[id]!) {
        let answer = try await LiveNode.send(port: port, "GET", "/media/enhance?job_id=\(id)", token: token)
        statuses[id] = answer.json["status"] as? String
      }
      if statuses.values.allSatisfy({ !["Pending", "Running"].contains($0) }) { break }
      try await Task.sleep(for: .milliseconds(200))
    }
    #expect(statuses.count == 50 && statuses.values.allSatisfy { $0 == "Success" }, "\(statuses.values.sorted())")

    // Each output's last upload is a whole 2 s, 48 kHz, 16-bit mono WAV.
    let puts = peer.requests.filter { $0.method == "PUT" }
    for index in 0..<50 {
      let body = try #require(puts.last { $0.target == "/out/\(index).wav" }?.body, "output \(index)")
      #expect(body.count > 190_000 && body.count < 194_000, "output \(index) has \(body.count) bytes")
      #expect(body.starts(with: Array("RIFF".utf8)) && Array(body[8..<12]) == Array("WAVE".utf8))
    }
  }
}
