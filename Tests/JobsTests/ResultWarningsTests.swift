import Foundation
import Jobs
import TestSupport
import Testing

/// A result's `warnings`: added by the engine from `JobContext.warn`, absent when there is nothing to say.
@Suite struct ResultWarningsTests {
  @Test func noWarnings_leaveTheResultAsItIs() {
    #expect(ResultWarnings.adding([], to: #"{"b":1,"a":[1.5]}"#) == #"{"b":1,"a":[1.5]}"#)
  }

  @Test func warnings_areAddedToTheResultObject_once() {
    let added = ResultWarnings.adding(["input: cut short"], to: #"{"outputs":[]}"#)
    #expect(added == #"{"outputs":[],"warnings":["input: cut short"]}"#)
    // Already there (an operation that wrote its result file with them): the very same text.
    #expect(ResultWarnings.adding(["input: cut short"], to: added) == added)
    // New ones go after those already listed.
    #expect(
      ResultWarnings.adding(["b", "a"], to: #"{"warnings":["a"]}"#) == #"{"warnings":["a","b"]}"#)
    // Not an object (no operation answers that): left alone.
    #expect(ResultWarnings.adding(["a"], to: "[]") == "[]")
  }

  @Test func aRunsWarnings_reachTheStoredResult() async throws {
    let harness = try PoolHarness(concurrency: 1) { _ in
      RecordingWork { context in
        context.warn("input: the file looks truncated")
        context.warn("input: the file looks truncated")
        return #"{"done":true}"#
      }
    }
    try harness.pool.start()
    defer { harness.pool.stop() }
    let job = try await harness.submit("{}")
    let done = try await harness.wait(for: job.id)
    #expect(done.status == .success)
    #expect(done.result == #"{"done":true,"warnings":["input: the file looks truncated"]}"#)
  }
}
