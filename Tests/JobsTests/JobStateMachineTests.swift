import Foundation
import Jobs
import Testing

/// The job state machine as pure transitions on values.
@Suite struct JobStateMachineTests {
  let t0 = Date(millisecondsSince1970: 1_800_000_000_000)

  func pending(deadline: Date? = nil) -> Job {
    Job(
      owner: "app", path: "/media/enhance", sealedRequest: [1, 2, 3], requestDigest: "d", submittedAt: t0,
      retention: .seconds(31 * 86400), deadline: deadline)
  }

  @Test func newJob_isPendingQueuedWithExpiryAfterRetention() {
    let job = pending()
    #expect(job.status == .pending && job.phase == .queued && job.progress == 0 && job.attempt == 0)
    #expect(job.expiresAt == t0 + 31 * 86400)
    #expect(job.notBefore == t0)
  }

  @Test func claim_startsAnAttemptWithALease() throws {
    var job = pending()
    try job.claim(worker: "w1", now: t0 + 1, lease: .seconds(30))
    #expect(job.status == .running && job.attempt == 1 && job.startedAt == t0 + 1)
    #expect(job.lease == JobLease(holder: "w1", expiresAt: t0 + 31))
    #expect(throws: JobStateError.notAllowed(from: .running, transition: "claim")) {
      try job.claim(worker: "w2", now: t0 + 2, lease: .seconds(30))
    }
  }

  @Test func report_renewsTheLease_andRefusesAnotherWorker() throws {
    var job = pending()
    try job.claim(worker: "w1", now: t0, lease: .seconds(30))
    try job.report(
      worker: "w1", now: t0 + 10, lease: .seconds(30), phase: .downloading, progress: 20, bytesDone: 5, bytesTotal: 10)
    #expect(job.phase == .downloading && job.progress == 20 && job.bytesDone == 5 && job.bytesTotal == 10)
    #expect(job.lease?.expiresAt == t0 + 40)
    let before = job
    #expect(throws: JobStateError.leaseLost(holder: "w2")) {
      try job.report(
        worker: "w2", now: t0 + 11, lease: .seconds(30), phase: .uploading, progress: 90, bytesDone: 0, bytesTotal: nil)
    }
    #expect(job == before)
  }

  @Test func report_keepsProgressUnder100UntilSuccess() throws {
    var job = pending()
    try job.claim(worker: "w", now: t0, lease: .seconds(30))
    try job.report(
      worker: "w", now: t0, lease: .seconds(30), phase: .uploading, progress: 140, bytesDone: -1, bytesTotal: nil)
    #expect(job.progress == 99 && job.bytesDone == 0)
    try job.finish(.success(result: "{}"), worker: "w", now: t0 + 5, maxAttempts: 3)
    #expect(job.status == .success && job.progress == 100 && job.result == "{}" && job.completedAt == t0 + 5)
    #expect(job.lease == nil)
  }

  @Test func finish_byAWorkerThatLostTheLease_isRefused() throws {
    var job = pending()
    try job.claim(worker: "w1", now: t0, lease: .seconds(30))
    try job.expireLease(now: t0 + 31, maxAttempts: 3)
    try job.claim(worker: "w2", now: t0 + 32, lease: .seconds(30))
    #expect(throws: JobStateError.leaseLost(holder: "w1")) {
      try job.finish(.success(result: "{}"), worker: "w1", now: t0 + 33, maxAttempts: 3)
    }
    #expect(job.status == .running && job.lease?.holder == "w2" && job.attempt == 2)
  }

  @Test func retry_requeuesWithBackoffUntilAttemptsRunOut_thenFails() throws {
    var job = pending()
    let error = JobError(type: "/problems/input-file-access", title: "t", detail: "source answered 503")
    for attempt in 1...3 {
      try job.claim(worker: "w", now: job.notBefore, lease: .seconds(30))
      #expect(job.attempt == attempt)
      try job.finish(.retry(error, delay: .seconds(2)), worker: "w", now: job.notBefore + 1, maxAttempts: 3)
    }
    // The last error says that retrying is over, so it does not read as if another attempt were coming.
    #expect(job.status == .failed && job.error?.type == error.type && job.error?.title == error.title)
    #expect(job.error?.detail == "source answered 503; gave up after 3 attempts")
    #expect(job.attempts.map(\.attempt) == [1, 2, 3])
    #expect(job.attempts.allSatisfy { $0.error == "source answered 503" })
  }

  @Test func retry_waitsForTheBackoff() throws {
    var job = pending()
    try job.claim(worker: "w", now: t0, lease: .seconds(30))
    let error = JobError(type: "/problems/output-file-access", title: "t", detail: "d")
    try job.finish(.retry(error, delay: .seconds(4)), worker: "w", now: t0 + 1, maxAttempts: 3)
    #expect(job.status == .pending && job.notBefore == t0 + 5 && job.error == nil && job.lease == nil)
  }

  @Test func failed_andInternalError_endAtOnce() throws {
    var failed = pending()
    try failed.claim(worker: "w", now: t0, lease: .seconds(30))
    let error = JobError(type: "/problems/unsupported-media", title: "t", detail: "not media")
    try failed.finish(.failed(error), worker: "w", now: t0 + 1, maxAttempts: 3)
    #expect(failed.status == .failed && failed.error == error && failed.attempts.count == 1)

    var broken = pending()
    try broken.claim(worker: "w", now: t0, lease: .seconds(30))
    try broken.finish(.internalError(error), worker: "w", now: t0 + 1, maxAttempts: 3)
    #expect(broken.status == .internalError)
  }

  @Test func cancel_pendingEndsAtOnce_runningIsAsked_endedStaysAsItWas() throws {
    var queued = pending()
    #expect(queued.cancel(now: t0 + 1) == .cancelled)
    #expect(queued.status == .cancelled && queued.completedAt == t0 + 1)
    #expect(queued.cancel(now: t0 + 2) == .alreadyEnded(.cancelled))
    #expect(queued.completedAt == t0 + 1)

    var running = pending()
    try running.claim(worker: "w", now: t0, lease: .seconds(30))
    #expect(running.cancel(now: t0 + 1) == .requested)
    #expect(running.status == .running && running.cancelRequested)
    try running.finish(.cancelled, worker: "w", now: t0 + 2, maxAttempts: 3)
    #expect(running.status == .cancelled && !running.cancelRequested && running.error == nil)

    var done = pending()
    try done.claim(worker: "w", now: t0, lease: .seconds(30))
    try done.finish(.success(result: "{}"), worker: "w", now: t0 + 1, maxAttempts: 3)
    #expect(done.cancel(now: t0 + 2) == .alreadyEnded(.success))
    #expect(done.status == .success)
  }

  @Test func expireLease_refusesALiveLease_unlessForced() throws {
    var job = pending()
    try job.claim(worker: "w", now: t0, lease: .seconds(30))
    #expect(throws: JobStateError.self) { try job.expireLease(now: t0 + 29, maxAttempts: 3) }
    try job.expireLease(now: t0 + 1, maxAttempts: 3, force: true)
    #expect(job.status == .pending && job.attempts.count == 1 && job.attempt == 1)
  }

  @Test func expireLease_failsWithTheAttemptLogAtTheLimit() throws {
    var job = pending()
    for round in 0..<3 {
      try job.claim(worker: "w\(round)", now: t0 + Double(round * 100), lease: .seconds(30))
      try job.expireLease(now: t0 + Double(round * 100 + 31), maxAttempts: 3)
    }
    #expect(job.status == .failed && job.attempts.count == 3)
    #expect(job.error?.detail.contains("interrupted 3 times") == true)
  }

  @Test func expireLease_ofACancelledRun_endsCancelled() throws {
    var job = pending()
    try job.claim(worker: "w", now: t0, lease: .seconds(30))
    _ = job.cancel(now: t0 + 1)
    try job.expireLease(now: t0 + 31, maxAttempts: 3)
    #expect(job.status == .cancelled)
  }

  @Test func release_givesTheJobBackWithoutSpendingAnAttempt() throws {
    var job = pending()
    try job.claim(worker: "w", now: t0, lease: .seconds(30))
    try job.release(worker: "w", now: t0 + 1)
    #expect(job.status == .pending && job.attempt == 0 && job.attempts.isEmpty && job.startedAt == t0)
    #expect(throws: JobStateError.notAllowed(from: .pending, transition: "release")) {
      try job.release(worker: "w", now: t0 + 2)
    }
    try job.claim(worker: "w", now: t0 + 3, lease: .seconds(30))
    _ = job.cancel(now: t0 + 4)
    try job.release(worker: "w", now: t0 + 5)
    #expect(job.status == .cancelled && job.completedAt == t0 + 5)
  }

  @Test func retry_ofARunWithAPendingCancel_endsCancelled() throws {
    var job = pending()
    try job.claim(worker: "w", now: t0, lease: .seconds(30))
    _ = job.cancel(now: t0 + 1)
    let error = JobError(type: "/problems/input-file-access", title: "t", detail: "d")
    try job.finish(.retry(error, delay: .seconds(1)), worker: "w", now: t0 + 2, maxAttempts: 3)
    #expect(job.status == .cancelled && !job.cancelRequested)
  }

  /// The same rules the SQLite schema's CHECKs enforce, so the in-memory store refuses what SQLite refuses.
  @Test func invariants_catchImpossibleJobs() {
    let breakers: [(inout Job) -> Void] = [
      { $0.status = .success }, { $0.cancelRequested = true }, { $0.status = .running }, { $0.progress = 101 },
      { $0.error = JobError(type: "/problems/x", title: "t", detail: "d") },
    ]
    #expect(pending().invariantViolation == nil)
    for breakIt in breakers {
      var job = pending()
      breakIt(&job)
      #expect(job.invariantViolation != nil)
    }
  }

}
