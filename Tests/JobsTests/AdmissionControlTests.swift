import Foundation
import Jobs
import TestSupport
import Testing

@Suite struct AdmissionControlTests {
  let now = Date(millisecondsSince1970: 1_800_000_000_000)
  let admission = AdmissionControl(concurrency: 2, margin: .seconds(60))

  @Test func urlsThatExpireIn5sOr1min_areRefused_1h_isAccepted() {
    let run = Duration.seconds(20)
    #expect(admission.refusal(deadline: now + 5, now: now, queueAhead: 0, estimatedRun: run) != nil)
    #expect(admission.refusal(deadline: now + 60, now: now, queueAhead: 0, estimatedRun: run) != nil)
    #expect(admission.refusal(deadline: now + 3600, now: now, queueAhead: 0, estimatedRun: run) == nil)
    #expect(admission.refusal(deadline: nil, now: now, queueAhead: 500, estimatedRun: run) == nil)
  }

  @Test func theQueueAhead_countsInWavesOfTheWorkers() {
    let run = Duration.seconds(100)
    // Two workers: one job ahead leaves a worker free; two ahead mean one wave of waiting, four mean two.
    #expect(admission.refusal(deadline: now + 161, now: now, queueAhead: 1, estimatedRun: run) == nil)
    #expect(admission.refusal(deadline: now + 259, now: now, queueAhead: 2, estimatedRun: run) != nil)
    #expect(admission.refusal(deadline: now + 261, now: now, queueAhead: 2, estimatedRun: run) == nil)
    #expect(admission.refusal(deadline: now + 359, now: now, queueAhead: 4, estimatedRun: run) != nil)
  }

  @Test func theRefusal_saysHowLongTheURLShouldLive() throws {
    let refusal = try #require(
      admission.refusal(deadline: now + 60, now: now, queueAhead: 2, estimatedRun: .seconds(30)))
    #expect(refusal.neededSeconds == 120)
    #expect(refusal.description.contains("expires in 60 s"))
    #expect(refusal.description.contains("30 s waiting for the jobs ahead"))
    #expect(refusal.description.contains("at least 120 s"))
  }

  @Test func theEstimator_followsMeasuredRuns() {
    let estimator = RunTimeEstimator(initial: .seconds(30), weight: 0.5)
    #expect(estimator.estimate == .seconds(30))
    estimator.record(.seconds(10))
    #expect(estimator.estimate == .seconds(20))
  }

  @Test func aClientsRetry_ofAnAcceptedJob_isNeverRefused() async throws {
    // Opaque bodies: the test is of admission, not of any operation's validation.
    let harness = try PoolHarness(concurrency: 1) { _ in RecordingWork { _ in "{}" } }
    let deadline = Date() + 600
    let first = try await harness.submit("same body", deadline: deadline)
    // The queue ahead grew (the estimate is 30 s a job, one worker) until this deadline cannot be met...
    for i in 0..<30 { _ = try? await harness.submit("filler \(i)", deadline: deadline) }
    await #expect(throws: AdmissionRefusal.self) { try await harness.submit("other body", deadline: deadline) }
    // ...yet the retry of the first gets the first job back.
    #expect(try await harness.submit("same body", deadline: deadline).id == first.id)
    #expect(try await harness.submit("new", key: "k1").id != first.id)
    let keyed = try #require(try harness.store.list(.init(owner: "app", limit: 1)).jobs.first)
    await #expect(throws: AdmissionRefusal.self) { try await harness.submit("x", deadline: deadline) }
    #expect(try await harness.submit("new", deadline: deadline, key: "k1").id == keyed.id)
    await #expect(throws: IdempotencyKeyReused.self) {
      try await harness.submit("different body, same key", deadline: deadline, key: "k1")
    }
  }

  @Test func anIdenticalBody_isTheSameJobFor60Seconds_unlessThatJobFailed() async throws {
    let clock = ManualClock()
    let harness = try PoolHarness(concurrency: 1, clock: clock) { _ in RecordingWork { _ in "{}" } }
    let first = try await harness.submit("same body")
    clock.advance(by: 59)
    #expect(try await harness.submit("same body").id == first.id, "a retry after a lost answer")
    clock.advance(by: 2)
    let later = try await harness.submit("same body")
    #expect(later.id != first.id, "61 s later the same body is a new job")
    // A job that ended in failure is never the answer: the client fixed the cause and sends again.
    for end in [JobStatus.failed, .internalError] {
      let harness = try PoolHarness(concurrency: 1, clock: clock) { _ in RecordingWork { _ in "{}" } }
      let failing = try await harness.submit("fails: \(end)")
      #expect(try await harness.store.claim(worker: "w", now: clock.date, lease: .seconds(30))?.id == failing.id)
      try await harness.store.update(id: failing.id) { job in
        let error = JobError(.inputFileAccess, detail: "403")
        try job.finish(
          end == .failed ? .failed(error) : .internalError(error), worker: "w", now: clock.date, maxAttempts: 1)
      }
      #expect(try harness.store.job(id: failing.id)?.status == end)
      #expect(try await harness.submit("fails: \(end)").id != failing.id)
    }
  }
}
