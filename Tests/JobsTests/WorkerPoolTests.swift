import Foundation
import Jobs
import Locations
import SigV4
import Storage
import Synchronization
import TestSupport
import Testing
import Transfer

/// The engine end to end in one process: real SQLite, real transfers to fault servers on loopback.
@Suite(.serialized) struct WorkerPoolTests {
  @Test func copyJob_runsToSuccess_andLeavesNoWorkFiles() async throws {
    let input = testBytes(count: 300_000)
    let server = try FaultServer { request, _ in
      request.method == "GET" ? .serve(body: input) : .status(200, headers: [("ETag", "\"e\"")])
    }
    defer { server.stop() }
    let harness = try PoolHarness()
    try harness.pool.start()
    defer { harness.pool.stop() }
    let job = try await harness.submit(copyRequest(server.base + "/in.wav", server.base + "/out.wav"))
    let done = try await harness.wait(for: job.id)
    #expect(done.status == .success && done.progress == 100 && done.result == "{}" && done.attempt == 1)
    let put = try #require(server.requests.first { $0.method == "PUT" })
    #expect(put.target == "/out.wav" && put.body == input)
    #expect(try FileManager.default.contentsOfDirectory(atPath: harness.dataDirectory + "/work").isEmpty)
    // The line is written just after the outcome is stored.
    var logged = false
    for _ in 0..<100 where !logged {
      logged = harness.logs.all.contains { $0.contains("\"job ended\"") && $0.contains(job.id.uuidString.lowercased()) }
      if !logged { try await Task.sleep(for: .milliseconds(20)) }
    }
    #expect(logged)
  }

  @Test func aSubmission_wakesAnIdleWorkerAtOnce() async throws {
    // Workers that only polled would take up to 10 s here.
    let harness = try PoolHarness(concurrency: 2, pollInterval: .seconds(10)) { _ in RecordingWork { _ in "{}" } }
    try harness.pool.start()
    defer { harness.pool.stop() }
    for round in 0..<5 {
      try await harness.waitUntilIdle()
      let job = try await harness.submit("job \(round)")
      let done = try await harness.wait(for: job.id, timeout: 5)
      let waited = try #require(done.startedAt).timeIntervalSince(job.submittedAt)
      // Far below the 10 s poll; loose enough for a machine busy with the rest of the suite.
      #expect(waited < 8, "round \(round): started \(waited) s after submission")
    }
  }

  @Test func workers_takeJobsEarliestDeadlineFirst() async throws {
    let order = Mutex<[String]>([])
    let harness = try PoolHarness(concurrency: 1) { _ in
      RecordingWork { context in
        order.withLock { $0.append(String(decoding: context.request, as: UTF8.self)) }
        return "{}"
      }
    }
    let now = Date()
    let jobs = [
      try await harness.submit("none"), try await harness.submit("late", deadline: now + 7200),
      try await harness.submit("early", deadline: now + 3600),
    ]
    try harness.pool.start()
    defer { harness.pool.stop() }
    for job in jobs { _ = try await harness.wait(for: job.id) }
    #expect(order.withLock { $0 } == ["early", "late", "none"])
  }

  @Test func aRetryableFailure_isRetried_andTheAttemptLogSaysWhy() async throws {
    let input = testBytes(count: 1000)
    let server = try FaultServer { request, index in
      if request.method == "PUT" { return .status(200) }
      return index == 1 ? .status(503, body: "busy") : .serve(body: input)
    }
    defer { server.stop() }
    let harness = try PoolHarness()
    try harness.pool.start()
    defer { harness.pool.stop() }
    let job = try await harness.submit(copyRequest(server.base + "/in", server.base + "/out"))
    let done = try await harness.wait(for: job.id)
    #expect(done.status == .success && done.attempt == 2, "\(done.attempts)")
    #expect(
      done.attempts.count == 1 && done.attempts[0].attempt == 1 && done.attempts[0].error.contains("503"),
      "\(done.attempts)")
  }

  @Test func anInputThatRedirectsForever_failsAtOnce_sayingSo() async throws {
    let server = try FaultServer { request, _ in .status(302, headers: [("Location", request.target + "x")]) }
    defer { server.stop() }
    let harness = try PoolHarness(maxAttempts: 2)
    try harness.pool.start()
    defer { harness.pool.stop() }
    let job = try await harness.submit(copyRequest(server.base + "/in", server.base + "/out"))
    let done = try await harness.wait(for: job.id)
    #expect(done.status == .failed && done.attempt == 1, "a redirect loop is not retried: it will not end")
    #expect(done.error?.type == "/problems/input-file-access" && done.error?.title == "Input not readable")
    #expect(
      done.error?.detail
        == "input (\(server.base)/in): more than 5 redirects: the server keeps redirecting (a loop, or a chain "
        + "longer than Ferry follows)")
  }

  @Test func aFinalFailure_endsFailed_withARedactedDetail() async throws {
    let server = try FaultServer { _, _ in .status(403, body: "AccessDenied") }
    defer { server.stop() }
    let harness = try PoolHarness()
    try harness.pool.start()
    defer { harness.pool.stop() }
    let signed =
      "\(server.base)/in?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20261129%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=\(amzDate(Date()))&X-Amz-Expires=3600&X-Amz-SignedHeaders=host&X-Amz-Signature=deadbeefcafe"
    let job = try await harness.submit(copyRequest(signed, server.base + "/out"))
    let done = try await harness.wait(for: job.id)
    #expect(done.status == .failed && done.error?.type == "/problems/input-file-access")
    #expect(done.error?.detail.contains("403") == true)
    #expect(done.error?.detail.contains("deadbeefcafe") == false)
    #expect(done.attempt == 1, "a 403 is not retried")
    #expect(!harness.logs.all.joined().contains("deadbeefcafe"))
  }

  @Test func anInputOnARefusedAddress_failsWithTheNetworkPolicyProblem() async throws {
    let canary = try FaultServer(host: "127.0.0.1") { _, _ in .status(200) }
    defer { canary.stop() }
    let harness = try PoolHarness()
    try harness.pool.start()
    defer { harness.pool.stop() }
    let job = try await harness.submit(copyRequest("http://169.254.169.254/latest/meta-data", canary.base + "/out"))
    let done = try await harness.wait(for: job.id)
    #expect(done.status == .failed && done.error?.type == "/problems/network-policy")
    #expect(canary.connectionCount == 0)
  }

  /// A pre-signed PUT URL on `base` that expired a minute ago: nothing may be sent to it.
  private func expiredOutputURL(_ base: String) -> String {
    "\(base)/out/talk.wav?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AK%2F20261129%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=\(amzDate(Date() - 120))&X-Amz-Expires=60&X-Amz-SignedHeaders=host&X-Amz-Signature=abc"
  }

  @Test func anExpiredOutputURL_keepsTheResultInTemporaryStorage() async throws {
    let input = testBytes(count: 5000)
    let server = try FaultServer { _, _ in .serve(body: input) }
    defer { server.stop() }
    let harness = try PoolHarness()
    try harness.pool.start()
    defer { harness.pool.stop() }
    let expired = expiredOutputURL(server.base)
    // Admitted as if its URL had not expired yet (admission would refuse it now).
    let job = try await harness.submit(copyRequest(server.base + "/in", expired), deadline: .distantFuture)
    let done = try await harness.wait(for: job.id)
    let key = "ferry-kept/\(job.id.uuidString.lowercased())/talk.wav"
    #expect(done.status == .failed && done.error?.type == "/problems/output-url-expired")
    #expect(done.error?.detail.contains("dlb://\(key)") == true)
    #expect(FileManager.default.contents(atPath: harness.storage.path(owner: "app", key: key)) == Data(input))
    #expect(!server.requests.contains { $0.method == "PUT" })
  }

  @Test(.enabled(if: S3Peers.unavailable == nil, "S3 peers unavailable"))
  func anExpiredOutputURL_keepsTheResultInS3TemporaryStorage() async throws {
    let input = testBytes(count: 5000)
    let server = try FaultServer { _, _ in .serve(body: input) }
    defer { server.stop() }
    let peers = try S3Peers(key: "AKIDKEPT", secret: "kept/secret")
    defer { peers.stop() }
    try peers.createBucket("kept")
    let s3 = S3Storage(
      bucket: "kept", prefix: "tmp/",
      credentials: AWSCredentials(accessKeyID: "AKIDKEPT", secretAccessKey: "kept/secret"),
      region: nil, addressing: S3Addressing(endpoint: peers.proxyEndpoint),
      client: TransferClient(policy: NetworkPolicy()))
    let harness = try PoolHarness(temporaryStorage: .s3(s3))
    try harness.pool.start()
    defer { harness.pool.stop() }
    let expired = expiredOutputURL(server.base)
    // Admitted as if its URL had not expired yet (admission would refuse it now).
    let job = try await harness.submit(copyRequest(server.base + "/in", expired), deadline: .distantFuture)
    let done = try await harness.wait(for: job.id)
    let key = "ferry-kept/\(job.id.uuidString.lowercased())/talk.wav"
    #expect(done.status == .failed && done.error?.type == "/problems/output-url-expired")
    #expect(done.error?.detail.contains("dlb://\(key)") == true)
    #expect(try await blocking { try s3.exists(owner: "app", key: key) })
    #expect(!server.requests.contains { $0.method == "PUT" })
  }

  @Test func dlbLocations_readAndWriteTheOwnersTemporaryStorage() async throws {
    let harness = try PoolHarness()
    let source = harness.storage.path(owner: "app", key: "in/a b.wav")
    try FileManager.default.createDirectory(
      atPath: (source as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
    FileManager.default.createFile(atPath: source, contents: Data("media".utf8))
    try harness.pool.start()
    defer { harness.pool.stop() }
    let job = try await harness.submit(copyRequest("dlb://in/a b.wav", "dlb://out/copy.wav"))
    #expect(try await harness.wait(for: job.id).status == .success)
    #expect(
      FileManager.default.contents(atPath: harness.storage.path(owner: "app", key: "out/copy.wav"))
        == Data("media".utf8))
    // Another app's job cannot see the first app's keys.
    let other = try await harness.submit(copyRequest("dlb://in/a b.wav", "dlb://x"), owner: "other")
    let failed = try await harness.wait(for: other.id)
    #expect(failed.status == .failed && failed.error?.detail.contains("does not exist") == true)
  }

  @Test func atStart_jobsLeftRunningByACrash_runAgain() async throws {
    let directory = try makeTemporaryDirectory("ferry-pool")
    let input = testBytes(count: 2000)
    let server = try FaultServer { request, _ in request.method == "GET" ? .serve(body: input) : .status(200) }
    defer { server.stop() }
    // A "previous process" claimed the job and died.
    let id: UUID
    do {
      let crashed = try PoolHarness(dataDirectory: directory)
      id = try await crashed.submit(copyRequest(server.base + "/in", server.base + "/out")).id
      _ = try await crashed.store.claim(worker: "dead/w1", now: Date(), lease: .seconds(3600))
      try FileManager.default.createDirectory(atPath: directory + "/work/\(id)", withIntermediateDirectories: true)
    }
    let harness = try PoolHarness(dataDirectory: directory)
    try harness.pool.start()
    defer { harness.pool.stop() }
    let done = try await harness.wait(for: id)
    #expect(done.status == .success && done.attempt == 2)
    #expect(done.attempts.count == 1 && done.attempts[0].error.contains("interrupted"))
  }

  @Test func aJobInterruptedTooOften_endsFailedWithItsAttemptLog() async throws {
    let directory = try makeTemporaryDirectory("ferry-pool")
    var id = UUID()
    for round in 1...3 {
      let crashed = try PoolHarness(maxAttempts: 3, dataDirectory: directory)
      if round == 1 { id = try await crashed.submit(copyRequest("http://127.0.0.1:9/in", "http://127.0.0.1:9/out")).id }
      try await crashed.store.update(id: id) { job in
        if job.status == .running { try job.expireLease(now: Date(), maxAttempts: 3, force: true) }
      }
      _ = try await crashed.store.claim(worker: "dead/\(round)", now: Date(), lease: .seconds(3600))
    }
    let harness = try PoolHarness(maxAttempts: 3, dataDirectory: directory)
    try harness.pool.start()
    defer { harness.pool.stop() }
    let done = try await harness.wait(for: id)
    #expect(done.status == .failed && done.attempts.count == 3)
    #expect(done.error?.detail.contains("interrupted 3 times") == true)
  }

  @Test func jobsPastTheirRetention_areDeleted_atTheSweepAfterTheirTime() async throws {
    let clock = ManualClock()
    let harness = try PoolHarness(concurrency: 0, sweepInterval: .seconds(3600), clock: clock)
    let old = Job(
      owner: "app", path: "/media/copy-test", sealedRequest: [1], requestDigest: "old",
      submittedAt: clock.date - 32 * 86400, retention: .seconds(31 * 86400), deadline: nil)
    _ = try await harness.store.submit(old, duplicateSince: .distantPast)
    try await harness.store.update(id: old.id) { _ = $0.cancel(now: clock.date - 32 * 86400) }
    let recent = try await harness.submit(copyRequest("http://127.0.0.1:9/in", "http://127.0.0.1:9/out"))
    try await harness.store.update(id: recent.id) { _ = $0.cancel(now: clock.date) }
    harness.pool.heartbeat()
    #expect(try harness.store.job(id: old.id) == nil)
    #expect(try harness.store.job(id: recent.id) != nil)
    // The recent job goes at the first sweep after its retention, not before.
    clock.advance(by: 31 * 86400 - 1800)
    harness.pool.heartbeat()
    #expect(try harness.store.job(id: recent.id) != nil, "a sweep ran half an hour before it expires")
    clock.advance(by: 1800)
    harness.pool.heartbeat()
    #expect(try harness.store.job(id: recent.id) != nil, "expired now, but the next sweep is not due yet")
    clock.advance(by: 1800)
    harness.pool.heartbeat()
    #expect(try harness.store.job(id: recent.id) == nil)
  }

  @Test func aLeaseThatRanOut_isTakenBackByAnotherNode_atItsNextLeaseCheck() async throws {
    let clock = ManualClock()
    let harness = try PoolHarness(concurrency: 0, lease: .seconds(30), singleNode: false, clock: clock)
    let job = try await harness.submit(copyRequest("http://127.0.0.1:9/in", "http://127.0.0.1:9/out"))
    // Another node claimed the job and stopped renewing its lease.
    _ = try await harness.store.claim(worker: "other/w1", now: clock.date, lease: .seconds(30))
    clock.advance(by: 29)
    harness.pool.heartbeat()
    let held = try #require(try harness.store.job(id: job.id))
    #expect(held.status == .running && held.lease?.holder == "other/w1", "the lease has a second left")
    // Leases are checked every third of a lease (10 s here): the next check after the lease ran out takes it.
    clock.advance(by: 1)
    harness.pool.heartbeat()
    #expect(try harness.store.job(id: job.id)?.status == .running, "not checked again yet")
    clock.advance(by: 9)
    harness.pool.heartbeat()
    let back = try #require(try harness.store.job(id: job.id))
    #expect(back.status == .pending && back.lease == nil && back.attempt == 1)
    #expect(back.attempts.count == 1 && back.attempts[0].error.contains("interrupted"), "\(back.attempts)")
  }

  @Test func theHeartbeat_renewsTheLeasesOfRunningJobs_everyThirdOfALease() async throws {
    let clock = ManualClock()
    let release = Mutex(false)
    let started = Mutex(false)
    let harness = try PoolHarness(concurrency: 1, lease: .seconds(30), clock: clock) { _ in
      RecordingWork { _ in
        started.withLock { $0 = true }
        // Runs until the test lets it end (bounded: 30 s of real time).
        for _ in 0..<3000 where !release.withLock({ $0 }) { Thread.sleep(forTimeInterval: 0.01) }
        return "{}"
      }
    }
    defer { release.withLock { $0 = true } }
    try harness.pool.start()
    defer { harness.pool.stop() }
    let job = try await harness.submit("long")
    let running = try await harness.wait(for: job.id) { $0.status == .running }
    // Claimed is not yet running here: the heartbeat renews only runs the pool has registered, which the work
    // starting shows (bounded: 10 s of real time).
    for _ in 0..<1000 where !started.withLock({ $0 }) { try await Task.sleep(for: .milliseconds(10)) }
    try #require(started.withLock { $0 })
    #expect(running.lease?.expiresAt == clock.date + 30)
    // Whatever the heartbeat thread did before, a renewal is due once a third of the lease has passed.
    clock.advance(by: 10)
    harness.pool.heartbeat()
    #expect(try harness.store.job(id: job.id)?.lease?.expiresAt == clock.date + 30)
    // Past the lease, it still holds: this worker renewed it, and no one took it back.
    clock.advance(by: 25)
    harness.pool.heartbeat()
    let renewed = try #require(try harness.store.job(id: job.id))
    #expect(renewed.status == .running && renewed.lease?.expiresAt == clock.date + 30 && renewed.attempt == 1)
    release.withLock { $0 = true }
    #expect(try await harness.wait(for: job.id).status == .success)
  }

  @Test func stopping_givesRunningJobsBack_withoutSpendingAnAttempt() async throws {
    let server = try FaultServer { _, _ in .stall(body: testBytes(count: 100), seconds: 20) }
    defer { server.stop() }
    let directory = try makeTemporaryDirectory("ferry-pool")
    let harness = try PoolHarness(dataDirectory: directory)
    try harness.pool.start()
    let job = try await harness.submit(copyRequest(server.base + "/in", server.base + "/out"))
    _ = try await harness.wait(for: job.id) { $0.phase == .downloading }
    let started = Date()
    harness.pool.stop()
    #expect(Date().timeIntervalSince(started) < 3)
    let released = try #require(try harness.store.job(id: job.id))
    #expect(released.status == .pending && released.attempt == 0 && released.attempts.isEmpty)
  }

  @Test func oneAppsSlowInputsOnEveryWorker_leaveAWorkerForAnotherApp() async throws {
    // App a's inputs arrive at 1 KB/s (200 s each); app b's is quick.
    let slow = try FaultServer { request, _ in
      request.method == "PUT" ? .status(200) : .trickle(body: testBytes(count: 200_000), bytesPerSecond: 1000)
    }
    let quick = try FaultServer { request, _ in
      request.method == "PUT" ? .status(200) : .serve(body: testBytes(count: 1000))
    }
    defer {
      slow.stop()
      quick.stop()
    }
    let harness = try PoolHarness(concurrency: 2, perAppLimit: 1)
    var slowJobs: [Job] = []
    for index in 0..<3 {
      slowJobs.append(
        try await harness.submit(copyRequest(slow.base + "/in\(index)", slow.base + "/out\(index)"), owner: "a"))
    }
    try harness.pool.start()
    defer { harness.pool.stop(timeout: .seconds(5)) }
    _ = try await harness.wait(for: slowJobs[0].id, until: { $0.phase == .downloading })

    let job = try await harness.submit(copyRequest(quick.base + "/in", quick.base + "/out"), owner: "b")
    let done = try await harness.wait(for: job.id, timeout: 5)
    #expect(done.status == .success)
    let waited = try #require(done.startedAt).timeIntervalSince(job.submittedAt)
    #expect(waited < 5, "app b's job started \(waited) s after submission")
    let running = try harness.store.list(JobQuery(owner: "a", status: .running)).jobs
    #expect(running.count == 1, "app a runs one job at a time on two workers: \(running.count)")
  }
}

/// A JobWork from a closure.
struct RecordingWork: JobWork {
  let body: @Sendable (JobContext) throws -> String
  init(_ body: @escaping @Sendable (JobContext) throws -> String) { self.body = body }
  func run(_ context: JobContext) throws -> String { try body(context) }
}

/// `X-Amz-Date` for `date`.
func amzDate(_ date: Date) -> String {
  let formatter = DateFormatter()
  formatter.locale = Locale(identifier: "en_US_POSIX")
  formatter.timeZone = TimeZone(identifier: "UTC")
  formatter.dateFormat = "yyyyMMdd'T'HHmmss'Z'"
  return formatter.string(from: date)
}

@Suite struct LocalStorageSweepTests {
  @Test func filesPastRetention_goWithTheFoldersTheyEmptied() throws {
    let storage = LocalStorage(root: try makeTemporaryDirectory("ferry-sweep"))
    let old = storage.path(owner: "app", key: "old/deep/a.wav")
    let fresh = storage.path(owner: "app", key: "new/b.wav")
    for path in [old, fresh] {
      try FileManager.default.createDirectory(
        atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
      FileManager.default.createFile(atPath: path, contents: Data("x".utf8))
    }
    try FileManager.default.setAttributes([.modificationDate: Date() - 49 * 3600], ofItemAtPath: old)
    #expect(storage.sweep(before: Date() - 48 * 3600) == 1)
    #expect(!FileManager.default.fileExists(atPath: old))
    #expect(!FileManager.default.fileExists(atPath: storage.path(owner: "app", key: "old")))
    #expect(FileManager.default.fileExists(atPath: fresh))
  }
}
