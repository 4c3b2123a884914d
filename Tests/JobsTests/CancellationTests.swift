import Crypto
import Foundation
import Jobs
import SQLiteStore
import SigV4
import Synchronization
import TestSupport
import Testing

/// A cancel stops a job wherever it is, within 2 s, and leaves nothing behind: no child process, no open
/// multipart upload, no work files.
@Suite(.serialized) struct CancellationTests {
  /// Cancels `id` and returns how long the work took to stop once the cancel was stored, by the job's own
  /// completion time: neither the test's polling nor the store's commits (an fsync can take seconds while
  /// the rest of the suite writes files on the same disk) count.
  func cancel(_ harness: PoolHarness, _ id: UUID) async throws -> Double {
    _ = try await harness.pool.cancel(id: id)
    let requested = Date()
    let job = try await harness.wait(for: id, timeout: 30)
    #expect(job.status == .cancelled)
    return (job.completedAt ?? .distantFuture).timeIntervalSince(requested)
  }

  @Test func queued() async throws {
    let server = try FaultServer { _, _ in .stall(body: testBytes(count: 10), seconds: 20) }
    defer { server.stop() }
    let harness = try PoolHarness(concurrency: 1)
    try harness.pool.start()
    defer { harness.pool.stop() }
    let busy = try await harness.submit(copyRequest(server.base + "/a", server.base + "/out"))
    _ = try await harness.wait(for: busy.id) { $0.status == .running }
    let waiting = try await harness.submit(copyRequest(server.base + "/b", server.base + "/out"))
    let (result, job) = try await harness.pool.cancel(id: waiting.id)
    #expect(result == .cancelled && job.status == .cancelled)
    #expect(try await cancel(harness, busy.id) < 2)
    // Cancelling again changes nothing and says so.
    let (again, _) = try await harness.pool.cancel(id: waiting.id)
    #expect(again == .alreadyEnded(.cancelled))
  }

  @Test func downloading() async throws {
    let server = try FaultServer { _, _ in .stall(body: testBytes(count: 10), seconds: 20) }
    defer { server.stop() }
    let harness = try PoolHarness()
    try harness.pool.start()
    defer { harness.pool.stop() }
    let job = try await harness.submit(copyRequest(server.base + "/in", server.base + "/out"))
    _ = try await harness.wait(for: job.id) { $0.phase == .downloading }
    #expect(try await cancel(harness, job.id) < 2)
    #expect(!server.requests.contains { $0.method == "PUT" })
    #expect(try FileManager.default.contentsOfDirectory(atPath: harness.dataDirectory + "/work").isEmpty)
  }

  @Test func processing_killsTheChildProcess() async throws {
    let child = Mutex<Int32>(0)
    let harness = try PoolHarness { _ in
      RecordingWork { context in
        context.report(phase: .processing, progress: 50)
        var pid: pid_t = 0
        let argv: [UnsafeMutablePointer<CChar>?] = [strdup("/bin/sleep"), strdup("60"), nil]
        defer { argv.forEach { free($0) } }
        guard posix_spawn(&pid, "/bin/sleep", nil, nil, argv, environ) == 0 else { return "{}" }
        let spawned = pid
        child.withLock { $0 = spawned }
        let registration = context.onCancel { kill(spawned, SIGKILL) }
        var status: Int32 = 0
        waitpid(pid, &status, 0)
        registration.cancel()
        try context.checkCancelled()
        return "{}"
      }
    }
    try harness.pool.start()
    defer { harness.pool.stop() }
    let job = try await harness.submit("{}")
    _ = try await harness.wait(for: job.id) { $0.phase == .processing }
    #expect(try await cancel(harness, job.id) < 2)
    let pid = child.withLock { $0 }
    #expect(pid > 0 && kill(pid, 0) != 0, "the child process is gone")
  }

  @Test func uploading() async throws {
    let input = testBytes(count: 4096)
    let server = try FaultServer { request, _ in
      request.method == "GET" ? .serve(body: input) : .stall(body: Array("ok".utf8), seconds: 20)
    }
    defer { server.stop() }
    let harness = try PoolHarness()
    try harness.pool.start()
    defer { harness.pool.stop() }
    let job = try await harness.submit(copyRequest(server.base + "/in", server.base + "/out"))
    _ = try await harness.wait(for: job.id) { $0.phase == .uploading }
    #expect(try await cancel(harness, job.id) < 2)
  }

  @Test(.enabled(if: S3Peers.unavailable == nil, "S3 peers unavailable"))
  func uploadingInParts_abortsTheMultipartUpload() async throws {
    let credentials = AWSCredentials(accessKeyID: "AKIDCANCEL", secretAccessKey: "cancel/secret")
    let peers = try S3Peers(key: credentials.accessKeyID, secret: credentials.secretAccessKey)
    defer { peers.stop() }
    try peers.createBucket("cancel-bucket")
    let input = testBytes(count: 23 << 20)
    let server = try FaultServer { _, _ in .serve(body: input) }
    defer { server.stop() }
    // The cancel lands as soon as the first part's bytes are reported: from then on every step of the upload
    // must notice it, at the latest when the lease is confirmed before completing.
    let directory = try makeTemporaryDirectory("ferry-pool")
    let store = cancelOnceUploading(try SQLiteJobStore(path: directory + "/ferry.db"))
    let harness = try PoolHarness(dataDirectory: directory, store: store, s3Endpoint: peers.proxyEndpoint)
    try harness.pool.start()
    defer { harness.pool.stop() }
    let output =
      #"{"url": "s3://cancel-bucket/out/big.bin", "auth": {"key": "AKIDCANCEL", "secret": "cancel/secret"}}"#
    let job = try await harness.submit(#"{"input": "\#(server.base)/in", "output": \#(output)}"#)
    let done = try await harness.wait(for: job.id, timeout: 30)
    #expect(done.status == .cancelled)
    let moto = try RawHTTPClient(port: peers.motoPort)
    try moto.send("GET /cancel-bucket?uploads HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
    let listing = try moto.readResponse().text
    #expect(!listing.contains("<Upload>"), "no multipart upload left open")
    #expect(peers.proxyLog.contains("DELETE"), "the upload was aborted")
    let head = try RawHTTPClient(port: peers.motoPort)
    try head.send("HEAD /cancel-bucket/out/big.bin HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
    #expect(try head.readResponse(head: true).status == 404)
  }
}

/// A job store that forwards everything to `base`, with hooks around updates: `before` may answer an update
/// itself (with an error), `after` may change the job once the update's own change is applied.
struct InterceptingStore: JobStore {
  let base: any JobStore
  var before: @Sendable (Job) -> (any Error)? = { _ in nil }
  var after: @Sendable (inout Job) -> Void = { _ in }

  func update<T: Sendable>(id: UUID, _ change: @escaping @Sendable (inout Job) throws -> T) async throws -> T {
    if let job = try? base.job(id: id), let error = before(job) { throw error }
    return try await base.update(id: id) { [after] job in
      let value = try change(&job)
      after(&job)
      return value
    }
  }

  func submit(_ job: Job, duplicateSince: Date) async throws -> Submission {
    try await base.submit(job, duplicateSince: duplicateSince)
  }
  func claim(worker: String, now: Date, lease: Duration, skipping owners: Set<String>) async throws -> Job? {
    try await base.claim(worker: worker, now: now, lease: lease, skipping: owners)
  }
  func deleteExpired(now: Date) async throws -> [UUID] { try await base.deleteExpired(now: now) }
  func duplicate(of job: Job, since: Date) throws -> Job? { try base.duplicate(of: job, since: since) }
  func job(id: UUID) throws -> Job? { try base.job(id: id) }
  func list(_ query: JobQuery) throws -> JobPage { try base.list(query) }
  func expiredLeases(now: Date) throws -> [UUID] { try base.expiredLeases(now: now) }
  func counts() throws -> [JobStatus: Int] { try base.counts() }
  func queueAhead(of deadline: Date?, atMost limit: Int) throws -> Int {
    try base.queueAhead(of: deadline, atMost: limit)
  }
  func webhook(owner: String) throws -> Webhook? { try base.webhook(owner: owner) }
  func saveWebhook(_ webhook: Webhook) async throws { try await base.saveWebhook(webhook) }
  func deleteWebhook(id: UUID, owner: String) async throws -> Bool {
    try await base.deleteWebhook(id: id, owner: owner)
  }
  func claimDeliveries(now: Date, holdUntil: Date, limit: Int, skipping owners: Set<String>) async throws
    -> [Delivery]
  {
    try await base.claimDeliveries(now: now, holdUntil: holdUntil, limit: limit, skipping: owners)
  }
  func recordDelivery(id: UUID, attempt: DeliveryAttempt, state: Delivery.State, next: Date?) async throws {
    try await base.recordDelivery(id: id, attempt: attempt, state: state, next: next)
  }
  func deliveries(job id: UUID) throws -> [Delivery] { try base.deliveries(job: id) }
}

/// A store that requests a cancel the first time a job reports upload progress.
func cancelOnceUploading(_ base: any JobStore) -> InterceptingStore {
  InterceptingStore(
    base: base,
    after: { job in
      if job.status == .running && job.phase == .uploading && job.bytesDone > 0 && !job.cancelRequested {
        _ = job.cancel(now: Date())
      }
    })
}

/// True once `setOnce` was called; `setOnce` answers true the first time only.
final class LockedFlag: Sendable {
  private let value = Mutex(false)
  func setOnce() -> Bool {
    value.withLock { value in
      defer { value = true }
      return !value
    }
  }
}

struct StoreUnavailable: Error {}

@Suite(.serialized) struct StoreTroubleTests {
  @Test func aStoreThatFailsOnce_retriesTheJob_neverCancelsIt() async throws {
    let input = testBytes(count: 2048)
    let server = try FaultServer { request, _ in request.method == "GET" ? .serve(body: input) : .status(200) }
    defer { server.stop() }
    let directory = try makeTemporaryDirectory("ferry-pool")
    // The first update made while the job is uploading (the lease check before the final write) fails with
    // an error of the database, not of the job's state.
    let failed = LockedFlag()
    let store = InterceptingStore(
      base: try SQLiteJobStore(path: directory + "/ferry.db"),
      before: { job in
        job.status == .running && job.phase == .uploading && failed.setOnce() ? StoreUnavailable() : nil
      })
    let harness = try PoolHarness(dataDirectory: directory, store: store)
    try harness.pool.start()
    defer { harness.pool.stop() }
    let job = try await harness.submit(copyRequest(server.base + "/in", server.base + "/out"))
    let done = try await harness.wait(for: job.id, timeout: 15)
    #expect(failed.setOnce() == false, "the failure happened")
    #expect(done.status == .success && done.attempt == 2, "\(done.status) after \(done.attempt) attempts")
    #expect(done.attempts.first?.error.contains("job store") == true)
  }
}
