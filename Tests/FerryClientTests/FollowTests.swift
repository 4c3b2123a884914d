import Foundation
import Synchronization
import TestSupport
import Testing

@testable import FerryClient

/// Waiting for a job survives a server that cannot answer for a while (a restart, a node switch): the job
/// is stored and keeps running, so the client keeps polling for up to a minute before it gives up.
@Suite struct FollowTests {
  @Test func aServerThatIsUnreachableForAFewSeconds_doesNotEndTheWait() throws {
    // The runner's clock moves only when it sleeps (2 s between polls that cannot reach the server), so the
    // outage passes without waiting it out; the API client's own quick retries still wait in real time.
    let clock = Mutex(0.0)
    let polls = Mutex(0)
    let server = try FaultServer { request, _ in
      if request.target.hasPrefix("/v1/auth/token") {
        return .status(200, body: #"{"access_token": "t", "token_type": "Bearer", "expires_in": 1800}"#)
      }
      polls.withLock { $0 += 1 }
      // Three seconds of 503s: more than the API client's own three quick attempts.
      if clock.withLock({ $0 }) < 3 { return .status(503) }
      return .status(200, body: #"{"job_id": "j", "status": "Success", "progress": 100}"#)
    }
    defer { server.stop() }
    let runner = JobRunner(
      api: FerryAPIClient(settings: ClientSettings(server: server.base, key: "k", secret: "s")),
      progress: ProgressReporter(mode: .off, write: { _ in }), pollInterval: 0.1, now: { clock.withLock { $0 } },
      sleep: { seconds in clock.withLock { $0 += seconds } })
    let envelope = try runner.follow("j", operation: .enhance)
    #expect(envelope.object?["status"]?.string == "Success")
    #expect(polls.withLock { $0 } > 3)
    #expect(clock.withLock { $0 } >= 3, "the wait went on through the outage")
  }

  @Test func aServerThatStaysUnreachable_endsTheWaitAfterTheTolerance() throws {
    let server = try FaultServer { request, _ in
      request.target.hasPrefix("/v1/auth/token")
        ? .status(200, body: #"{"access_token": "t", "token_type": "Bearer", "expires_in": 1800}"#) : .status(503)
    }
    defer { server.stop() }
    // A clock that runs 30 s per sleep: the tolerance passes after two polls, without waiting a minute.
    let clock = Mutex(0.0)
    let runner = JobRunner(
      api: FerryAPIClient(settings: ClientSettings(server: server.base, key: "k", secret: "s")),
      progress: ProgressReporter(mode: .off, write: { _ in }), pollInterval: 0.1, now: { clock.withLock { $0 } },
      sleep: { seconds in clock.withLock { $0 += 30 } })
    #expect {
      try runner.follow("j", operation: .enhance)
    } throws: { ($0 as? ClientError)?.exit == .unreachable }
  }
}

@Suite struct PartialNameTests {
  @Test func aLongOutputName_givesAPartialFileNameWithinTheFileSystemsLimit() {
    let long = String(repeating: "ü", count: 127) + ".wav"  // 258 bytes
    let cut = JobRunner.prefix(long, maxBytes: 200)
    #expect(cut.utf8.count == 200 && cut == String(repeating: "ü", count: 100))
    #expect(JobRunner.prefix("talk.wav", maxBytes: 200) == "talk.wav")
    #expect(".\(cut).ferry-12345678.part".utf8.count <= 255)
  }
}
