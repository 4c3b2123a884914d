import Foundation
import Jobs
import PostgresStore
import SQLiteStore
import TestSupport
import Testing

/// The stores under test; every conformance test runs against each.
enum StoreKind: String, CaseIterable, CustomTestStringConvertible {
  case memory, sqlite, postgres

  var testDescription: String { rawValue }

  func make() async throws -> any JobStore {
    switch self {
    case .memory: return InMemoryJobStore()
    case .sqlite: return try SQLiteJobStore(path: try makeTemporaryDirectory("ferry-jobs") + "/ferry.db")
    case .postgres:
      // One cluster for the test process (started on first use, stopped at exit), a fresh database per store.
      // Starting it blocks for a second or two: off the concurrency pool.
      return try await blocking { try PostgresJobStore(url: try PostgresPeer.shared().makeDatabase()) }
    }
  }
}

/// One suite, every `JobStore`: the behaviour the scheduler, workers and API rely on.
@Suite struct JobStoreConformanceTests {
  let t0 = Date(millisecondsSince1970: 1_800_000_000_000)

  func newJob(
    owner: String = "app", path: String = "/media/enhance", digest: String = UUID().uuidString, key: String? = nil,
    at: Date? = nil, deadline: Date? = nil
  ) -> Job {
    Job(
      owner: owner, path: path, sealedRequest: Array("sealed".utf8), requestDigest: digest, idempotencyKey: key,
      submittedAt: at ?? t0, retention: .seconds(31 * 86400), deadline: deadline)
  }

  @discardableResult
  func submit(_ store: any JobStore, _ job: Job) async throws -> Job {
    try await store.submit(job, duplicateSince: job.submittedAt - 600).job
  }

  @Test(arguments: StoreKind.allCases)
  func submit_thenRead_roundTripsEveryField(kind: StoreKind) async throws {
    let store = try await kind.make()
    var job = newJob(key: "k-1", deadline: t0 + 3600)
    job.duration = 12.5
    #expect(try await store.submit(job, duplicateSince: t0) == .created(job))
    #expect(try store.job(id: job.id) == job)

    // Every field a run changes survives the store too.
    let error = JobError(type: "/problems/input-file-access", title: "Input not readable", detail: "answered 503")
    try await store.update(id: job.id) { job in
      try job.claim(worker: "w", now: self.t0 + 1, lease: .seconds(30))
      try job.report(
        worker: "w", now: self.t0 + 2, lease: .seconds(30), phase: .downloading, progress: 10, bytesDone: 7,
        bytesTotal: 70)
    }
    job = try #require(try store.job(id: job.id))
    #expect(job.status == .running && job.phase == .downloading && job.bytesTotal == 70 && job.bytesDone == 7)
    #expect(job.lease == JobLease(holder: "w", expiresAt: t0 + 32))
    try await store.update(id: job.id) {
      try $0.finish(.retry(error, delay: .seconds(5)), worker: "w", now: self.t0 + 3, maxAttempts: 3)
    }
    let retried = try #require(try store.job(id: job.id))
    #expect(retried.status == .pending && retried.notBefore == t0 + 8)
    #expect(retried.attempts == [JobAttempt(at: t0 + 3, attempt: 1, error: "answered 503")])

    try await store.update(id: job.id) { job in
      try job.claim(worker: "w2", now: self.t0 + 9, lease: .seconds(30))
      #expect(job.cancel(now: self.t0 + 10) == .requested)
    }
    #expect(try store.job(id: job.id)?.cancelRequested == true)
    try await store.update(id: job.id) { try $0.finish(.cancelled, worker: "w2", now: self.t0 + 11, maxAttempts: 3) }
    let cancelled = try #require(try store.job(id: job.id))
    #expect(cancelled.status == .cancelled && cancelled.completedAt == t0 + 11 && cancelled.attempt == 2)
    #expect(cancelled.startedAt == t0 + 1)
  }

  @Test(arguments: StoreKind.allCases)
  func reads_seeEveryWriteCommittedBeforeThem(kind: StoreKind) async throws {
    let store = try await kind.make()
    for round in 1...3 {
      // Each read leaves nothing open that would pin an older snapshot for the next one.
      _ = try store.queueAhead(of: nil, atMost: 1000)
      _ = try store.list(JobQuery(owner: "app", limit: 1))
      let job = try await submit(store, newJob())
      #expect(try store.queueAhead(of: nil, atMost: 1000) == round)
      #expect(try store.list(JobQuery(owner: "app", limit: 1)).jobs.first?.id == job.id)
      #expect(try store.job(id: job.id) == job)
    }
  }

  @Test(arguments: StoreKind.allCases)
  func submit_withAKnownIdempotencyKey_returnsTheFirstJob(kind: StoreKind) async throws {
    let store = try await kind.make()
    let first = try await submit(store, newJob(key: "same"))
    let again = try await store.submit(newJob(key: "same", at: t0 + 86400), duplicateSince: t0 + 86000)
    #expect(again == .existing(first))
    // The key names a job on one path: the same key on another path is another job.
    let analyze = newJob(path: "/media/analyze", key: "same")
    #expect(try await store.submit(analyze, duplicateSince: t0) == .created(analyze))
    // The key is the owner's own: another app's identical key is another job.
    let other = newJob(owner: "other", key: "same")
    #expect(try await store.submit(other, duplicateSince: t0) == .created(other))
  }

  @Test(arguments: StoreKind.allCases)
  func submit_ofAnIdenticalBody_returnsTheJobOnlyWithinTheWindow(kind: StoreKind) async throws {
    let store = try await kind.make()
    let first = try await submit(store, newJob(digest: "body"))
    #expect(try await store.submit(newJob(digest: "body", at: t0 + 599), duplicateSince: t0 - 1) == .existing(first))
    // Another path with the same body is another job, and so is the same body after the window.
    let analyze = newJob(path: "/media/analyze", digest: "body")
    #expect(try await store.submit(analyze, duplicateSince: t0 - 1) == .created(analyze))
    let later = newJob(digest: "body", at: t0 + 601)
    #expect(try await store.submit(later, duplicateSince: t0 + 1) == .created(later))
  }

  @Test(arguments: StoreKind.allCases)
  func submit_ofAnIdenticalBody_neverReturnsAJobThatEndedInFailure(kind: StoreKind) async throws {
    let store = try await kind.make()
    let cancelled = try await submit(store, newJob(digest: "cancelled body"))
    try await store.update(id: cancelled.id) { _ = $0.cancel(now: self.t0) }
    let again = newJob(digest: "cancelled body")
    #expect(try await store.submit(again, duplicateSince: t0 - 1) == .created(again))
    #expect(try store.duplicate(of: newJob(digest: "cancelled body"), since: t0 - 1)?.id == again.id)

    let failed = try await submit(store, newJob(digest: "failed body", deadline: t0))
    _ = try await store.claim(worker: "w", now: t0, lease: .seconds(30))
    try await store.update(id: failed.id) {
      try $0.finish(.failed(JobError(.inputFileAccess, detail: "403")), worker: "w", now: self.t0, maxAttempts: 1)
    }
    #expect(try store.duplicate(of: newJob(digest: "failed body"), since: t0 - 1) == nil)
    let retry = newJob(digest: "failed body")
    #expect(try await store.submit(retry, duplicateSince: t0 - 1) == .created(retry))
  }

  @Test(arguments: StoreKind.allCases)
  func claim_takesTheEarliestDeadlineFirst_thenSubmissionOrder(kind: StoreKind) async throws {
    let store = try await kind.make()
    let none1 = try await submit(store, newJob())
    let late = try await submit(store, newJob(deadline: t0 + 7200))
    let none2 = try await submit(store, newJob())
    let early = try await submit(store, newJob(deadline: t0 + 600))
    let lateToo = try await submit(store, newJob(deadline: t0 + 7200))
    var order: [UUID] = []
    while let job = try await store.claim(worker: "w", now: t0, lease: .seconds(30)) { order.append(job.id) }
    #expect(order == [early.id, late.id, lateToo.id, none1.id, none2.id])
  }

  @Test(arguments: StoreKind.allCases)
  func claim_skipsTheOwnersItIsTold_andTakesTheNextOwnersJob(kind: StoreKind) async throws {
    let store = try await kind.make()
    let a = try await submit(store, newJob(owner: "a", deadline: t0 + 60))
    let b = try await submit(store, newJob(owner: "b", deadline: t0 + 600))
    let c = try await submit(store, newJob(owner: "c's \"app\"", deadline: t0 + 6000))
    #expect(try await store.claim(worker: "w", now: t0, lease: .seconds(30), skipping: ["a"])?.id == b.id)
    #expect(try await store.claim(worker: "w", now: t0, lease: .seconds(30), skipping: ["a", "c's \"app\""]) == nil)
    #expect(try await store.claim(worker: "w", now: t0, lease: .seconds(30), skipping: ["a"])?.id == c.id)
    #expect(try await store.claim(worker: "w", now: t0, lease: .seconds(30), skipping: [])?.id == a.id)
  }

  @Test(arguments: StoreKind.allCases)
  func claimDeliveries_skipsTheOwnersItIsTold(kind: StoreKind) async throws {
    let store = try await kind.make()
    for owner in ["a", "b"] {
      try await store.saveWebhook(Webhook(id: UUID(), owner: owner, sealedCallback: [1]))
      let job = try await submit(store, newJob(owner: owner))
      try await store.update(id: job.id) { _ = $0.cancel(now: self.t0) }
    }
    let taken = try await store.claimDeliveries(now: t0, holdUntil: t0 + 120, limit: 5, skipping: ["a"])
    #expect(taken.map(\.owner) == ["b"])
    #expect(try await store.claimDeliveries(now: t0, holdUntil: t0 + 120, limit: 5, skipping: ["a"]).isEmpty)
    #expect(try await store.claimDeliveries(now: t0, holdUntil: t0 + 120, limit: 5, skipping: []).map(\.owner) == ["a"])
  }

  @Test(arguments: StoreKind.allCases)
  func openUploads_areStoredWithTheJob_untilClosed(kind: StoreKind) async throws {
    let store = try await kind.make()
    let job = try await submit(store, newJob())
    _ = try await store.claim(worker: "w", now: t0, lease: .seconds(30))
    let first = OpenUpload(bucket: "b", key: "out/a \"b\".wav", uploadID: "u-1")
    let second = OpenUpload(bucket: "b", key: "out/c.wav", uploadID: "u-2")
    for upload in [first, second] {
      try await store.update(id: job.id) { try $0.openUpload(upload, worker: "w", now: self.t0, lease: .seconds(30)) }
    }
    #expect(try store.job(id: job.id)?.openUploads == [first, second])
    try await store.update(id: job.id) { $0.closeUpload(id: "u-1") }
    #expect(try store.job(id: job.id)?.openUploads == [second])
    // Only the lease holder opens one.
    await #expect(throws: JobStateError.self) {
      try await store.update(id: job.id) {
        try $0.openUpload(first, worker: "other", now: self.t0, lease: .seconds(30))
      }
    }
  }

  @Test(arguments: StoreKind.allCases)
  func claim_appliesTheSameTransitionAsJobClaim(kind: StoreKind) async throws {
    let store = try await kind.make()
    let submitted = try await submit(store, newJob(deadline: t0 + 600))
    var expected = submitted
    // A time between milliseconds and a lease that is not whole seconds: the store rounds as Job does.
    try expected.claim(worker: "w1", now: t0 + 1.0004, lease: .milliseconds(1500))
    #expect(try await store.claim(worker: "w1", now: t0 + 1.0004, lease: .milliseconds(1500)) == expected)
    #expect(try store.job(id: submitted.id) == expected)

    // Taken again after a retry: the first start time and the attempt log stay, the counters restart.
    let error = JobError(type: "/problems/input-file-access", title: "t", detail: "d")
    try await store.update(id: submitted.id) { job in
      try job.report(
        worker: "w1", now: self.t0 + 2, lease: .seconds(30), phase: .downloading, progress: 40, bytesDone: 5,
        bytesTotal: 9)
      try job.finish(.retry(error, delay: .zero), worker: "w1", now: self.t0 + 3, maxAttempts: 3)
    }
    expected = try #require(try store.job(id: submitted.id))
    try expected.claim(worker: "w2", now: t0 + 4, lease: .seconds(30))
    #expect(try await store.claim(worker: "w2", now: t0 + 4, lease: .seconds(30)) == expected)
    #expect(try store.job(id: submitted.id) == expected)
  }

  @Test(arguments: StoreKind.allCases)
  func claim_skipsJobsWaitingForTheirBackoff(kind: StoreKind) async throws {
    let store = try await kind.make()
    let job = try await submit(store, newJob(deadline: t0 + 60))
    _ = try await store.claim(worker: "w", now: t0, lease: .seconds(30))
    let error = JobError(type: "/problems/input-file-access", title: "t", detail: "d")
    try await store.update(id: job.id) {
      try $0.finish(.retry(error, delay: .seconds(10)), worker: "w", now: self.t0, maxAttempts: 3)
    }
    let waiting = try await submit(store, newJob())
    #expect(try await store.claim(worker: "w", now: t0 + 5, lease: .seconds(30))?.id == waiting.id)
    #expect(try await store.claim(worker: "w", now: t0 + 5, lease: .seconds(30)) == nil)
    #expect(try await store.claim(worker: "w", now: t0 + 10, lease: .seconds(30))?.id == job.id)
  }

  @Test(arguments: StoreKind.allCases)
  func claim_byConcurrentWorkers_takesEachJobOnce(kind: StoreKind) async throws {
    let store = try await kind.make()
    for _ in 0..<60 { try await submit(store, newJob()) }
    let claimed = try await withThrowingTaskGroup(of: [UUID].self) { group in
      for worker in 0..<6 {
        group.addTask {
          var mine: [UUID] = []
          while let job = try await store.claim(worker: "w\(worker)", now: self.t0, lease: .seconds(30)) {
            mine.append(job.id)
          }
          return mine
        }
      }
      return try await group.reduce(into: []) { $0 += $1 }
    }
    #expect(claimed.count == 60 && Set(claimed).count == 60)
  }

  @Test(arguments: StoreKind.allCases)
  func update_thatThrows_storesNothing(kind: StoreKind) async throws {
    let store = try await kind.make()
    let job = try await submit(store, newJob())
    await #expect(throws: JobStateError.self) {
      try await store.update(id: job.id) { job in
        job.progress = 50
        try job.finish(.success(result: "{}"), worker: "w", now: self.t0, maxAttempts: 3)
      }
    }
    #expect(try store.job(id: job.id) == job)
    let missing = UUID()
    await #expect(throws: JobStoreError.notFound(missing)) { try await store.update(id: missing) { _ in } }
  }

  @Test(arguments: StoreKind.allCases)
  func update_toAnImpossibleJob_isRefused(kind: StoreKind) async throws {
    let store = try await kind.make()
    let job = try await submit(store, newJob())
    await #expect(throws: (any Error).self) { try await store.update(id: job.id) { $0.cancelRequested = true } }
    await #expect(throws: (any Error).self) { try await store.update(id: job.id) { $0.status = .success } }
    #expect(try store.job(id: job.id) == job)
  }

  @Test(arguments: StoreKind.allCases)
  func list_showsOnlyTheOwnersJobs_newestFirst_inPages(kind: StoreKind) async throws {
    let store = try await kind.make()
    var mine: [Job] = []
    for i in 0..<7 {
      mine.append(try await submit(store, newJob(at: t0 + Double(i))))
      try await submit(store, newJob(owner: "other", at: t0 + Double(i)))
    }
    let first = try store.list(JobQuery(owner: "app", limit: 3))
    #expect(first.jobs.map(\.id) == mine.reversed().prefix(3).map(\.id))
    let second = try store.list(JobQuery(owner: "app", cursor: first.nextCursor, limit: 3))
    #expect(second.jobs.map(\.id) == mine.reversed().dropFirst(3).prefix(3).map(\.id))
    let last = try store.list(JobQuery(owner: "app", cursor: second.nextCursor, limit: 3))
    #expect(last.jobs.map(\.id) == [mine[0].id] && last.nextCursor == nil)
    #expect(try store.list(JobQuery(owner: "app", limit: 7)).nextCursor == nil)
    #expect(try store.list(JobQuery(owner: "nobody")).jobs.isEmpty)
  }

  @Test(arguments: StoreKind.allCases)
  func list_filtersByStatusAndInclusiveSubmissionBounds(kind: StoreKind) async throws {
    let store = try await kind.make()
    var jobs: [Job] = []
    for i in 0..<5 { jobs.append(try await submit(store, newJob(at: t0 + Double(i * 10)))) }
    _ = jobs[2].id
    try await store.update(id: jobs[2].id) { _ = $0.cancel(now: self.t0 + 100) }
    let cancelled = try store.list(JobQuery(owner: "app", status: .cancelled))
    #expect(cancelled.jobs.map(\.id) == [jobs[2].id])
    let window = try store.list(JobQuery(owner: "app", submittedAfter: t0 + 10, submittedBefore: t0 + 30))
    #expect(window.jobs.map(\.id) == [jobs[3].id, jobs[2].id, jobs[1].id])
  }

  @Test(arguments: StoreKind.allCases)
  func expiredLeases_findsRunningJobsPastTheirLease(kind: StoreKind) async throws {
    let store = try await kind.make()
    let a = try await submit(store, newJob())
    let b = try await submit(store, newJob())
    _ = try await store.claim(worker: "w", now: t0, lease: .seconds(30))
    _ = try await store.claim(worker: "w", now: t0 + 20, lease: .seconds(30))
    #expect(try store.expiredLeases(now: t0 + 29).isEmpty)
    #expect(try store.expiredLeases(now: t0 + 30) == [a.id])
    #expect(Set(try store.expiredLeases(now: .distantFuture)) == [a.id, b.id])
  }

  @Test(arguments: StoreKind.allCases)
  func queueAhead_countsRunningJobsAndPendingOnesWithAnEarlierDeadline(kind: StoreKind) async throws {
    let store = try await kind.make()
    try await submit(store, newJob(deadline: t0 + 100))
    try await submit(store, newJob(deadline: t0 + 300))
    try await submit(store, newJob())
    _ = try await store.claim(worker: "w", now: t0, lease: .seconds(30))  // takes the t0+100 one
    #expect(try store.queueAhead(of: t0 + 50, atMost: 1000) == 1)
    #expect(try store.queueAhead(of: t0 + 300, atMost: 1000) == 2)
    #expect(try store.queueAhead(of: nil, atMost: 1000) == 3)
    #expect(try store.queueAhead(of: nil, atMost: 2) == 2)
    #expect(try store.counts() == [.pending: 2, .running: 1])
  }

  @Test(arguments: StoreKind.allCases)
  func deleteExpired_removesOnlyEndedJobsPastRetention(kind: StoreKind) async throws {
    let store = try await kind.make()
    let ended = try await submit(store, newJob())
    try await store.update(id: ended.id) { _ = $0.cancel(now: self.t0) }
    let waiting = try await submit(store, newJob())
    let fresh = try await submit(store, newJob(at: t0 + 86400))
    try await store.update(id: fresh.id) { _ = $0.cancel(now: self.t0 + 86400) }
    #expect(try await store.deleteExpired(now: t0 + 31 * 86400 - 1).isEmpty)
    #expect(try await store.deleteExpired(now: t0 + 31 * 86400) == [ended.id])
    #expect(try store.job(id: ended.id) == nil)
    #expect(try store.job(id: waiting.id) != nil && store.job(id: fresh.id) != nil)
  }

  // MARK: Webhooks and the outbox

  @Test(arguments: StoreKind.allCases)
  func webhooks_areOnePerOwner_replaced_andRemovedOnlyByTheirId(kind: StoreKind) async throws {
    let store = try await kind.make()
    let first = Webhook(id: UUID(), owner: "app", sealedCallback: [1])
    try await store.saveWebhook(first)
    let second = Webhook(id: UUID(), owner: "app", sealedCallback: [2])
    try await store.saveWebhook(second)
    try await store.saveWebhook(Webhook(id: UUID(), owner: "other", sealedCallback: [3]))
    #expect(try store.webhook(owner: "app") == second)
    #expect(try await store.deleteWebhook(id: first.id, owner: "app") == false)
    #expect(try await store.deleteWebhook(id: second.id, owner: "other") == false)
    #expect(try await store.deleteWebhook(id: second.id, owner: "app"))
    #expect(try store.webhook(owner: "app") == nil && store.webhook(owner: "other") != nil)
  }

  @Test(arguments: StoreKind.allCases)
  func endingAJob_addsADeliveryPerCallback_inTheSameWrite_once(kind: StoreKind) async throws {
    let store = try await kind.make()
    let webhook = Webhook(id: UUID(), owner: "app", sealedCallback: [9, 9])
    try await store.saveWebhook(webhook)
    var job = newJob()
    job.hasOnComplete = true
    try await submit(store, job)
    let plain = try await submit(store, newJob(owner: "someone-else"))
    // A retry is no end: nothing owed yet.
    let error = JobError(type: "/problems/input-file-access", title: "t", detail: "d")
    try await store.update(id: job.id) { job in
      try job.claim(worker: "w", now: self.t0, lease: .seconds(30))
      try job.finish(.retry(error, delay: .zero), worker: "w", now: self.t0 + 1, maxAttempts: 3)
    }
    #expect(try store.deliveries(job: job.id).isEmpty)
    try await store.update(id: job.id) { job in
      try job.claim(worker: "w", now: self.t0 + 2, lease: .seconds(30))
      try job.finish(.success(result: "{}"), worker: "w", now: self.t0 + 3, maxAttempts: 3)
    }
    // Writing an ended job again owes nothing more.
    try await store.update(id: job.id) { _ = $0.cancel(now: self.t0 + 4) }
    try await store.update(id: plain.id) { _ = $0.cancel(now: self.t0 + 4) }
    let owed = try store.deliveries(job: job.id)
    #expect(owed.count == 2)
    #expect(owed.map(\.target) == [.webhook(webhook.id, sealedCallback: [9, 9]), .onComplete])
    #expect(owed.allSatisfy { $0.state == .pending && $0.createdAt == self.t0 + 3 && $0.owner == "app" })
    #expect(try store.deliveries(job: plain.id).isEmpty)
  }

  @Test(arguments: StoreKind.allCases)
  func deliveries_areTakenWhenDue_heldWhileSent_andRecorded(kind: StoreKind) async throws {
    let store = try await kind.make()
    try await store.saveWebhook(Webhook(id: UUID(), owner: "app", sealedCallback: [1]))
    let job = try await submit(store, newJob())
    try await store.update(id: job.id) { _ = $0.cancel(now: self.t0) }
    let taken = try await store.claimDeliveries(now: t0, holdUntil: t0 + 120, limit: 5)
    #expect(taken.count == 1 && taken.first?.nextAttemptAt == t0 + 120)
    // Held: not taken again until the hold ends.
    #expect(try await store.claimDeliveries(now: t0 + 119, holdUntil: t0 + 300, limit: 5).isEmpty)
    let delivery = try #require(taken.first)
    let failed = DeliveryAttempt(at: t0 + 1, url: "https://h/", status: 503)
    try await store.recordDelivery(id: delivery.id, attempt: failed, state: .pending, next: t0 + 10)
    #expect(try await store.claimDeliveries(now: t0 + 9, holdUntil: t0 + 200, limit: 5).isEmpty)
    #expect(try await store.claimDeliveries(now: t0 + 10, holdUntil: t0 + 200, limit: 5).map(\.id) == [delivery.id])
    let ok = DeliveryAttempt(at: t0 + 11, url: "https://h/", status: 200)
    try await store.recordDelivery(id: delivery.id, attempt: ok, state: .delivered, next: nil)
    #expect(try await store.claimDeliveries(now: t0 + 1000, holdUntil: t0 + 2000, limit: 5).isEmpty)
    let stored = try #require(try store.deliveries(job: job.id).first)
    #expect(stored.state == .delivered && stored.attempts == [failed, ok])

    // Retention takes a job's deliveries with it.
    #expect(try await store.deleteExpired(now: t0 + 31 * 86400) == [job.id])
    #expect(try store.deliveries(job: job.id).isEmpty)
  }
}
