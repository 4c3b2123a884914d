import Foundation
import JSON
import Jobs
import Locations
import Log
import Media
import SQLiteStore
import Storage
import TestSupport
import Transfer

/// A worker pool on a real SQLite store in a temporary data dir, with the copy step or a test's own work.
final class PoolHarness: Sendable {
  let dataDirectory: String
  let store: any JobStore
  let pool: WorkerPool
  let service: JobService
  let storage: LocalStorage
  let copy: CopyOperation?
  let logs = MemoryLogSink()
  static let cipher = RequestCipher(masterKey: [UInt8](repeating: 42, count: 32))

  /// Transfers allowed to loopback only (the tests' peers), one attempt per request unless told otherwise.
  static func transfers(storage: TemporaryStorage, s3Endpoint: String? = nil, attempts: Int = 1) -> JobTransfers {
    let client = TransferClient(
      policy: try! NetworkPolicy(allow: ["127.0.0.0/8"]),
      settings: TransferSettings(
        connectTimeout: .seconds(10), lowSpeedTimeout: .seconds(20), maxAttempts: attempts,
        initialBackoff: .milliseconds(10)))
    let requests = LocationRequests(s3: S3Requests(addressing: S3Addressing(endpoint: s3Endpoint, pathStyle: true)))
    return JobTransfers(
      client: client, requests: requests, storage: storage, multipartThreshold: 5 << 20, partSize: 5 << 20,
      parallelParts: 2)
  }

  init(
    concurrency: Int = 2, maxAttempts: Int = 3, lease: Duration = .seconds(30), dataDirectory: String? = nil,
    store: (any JobStore)? = nil, s3Endpoint: String? = nil, sweepInterval: Duration = .seconds(3600),
    pollInterval: Duration = .milliseconds(100), temporaryStorage: TemporaryStorage? = nil, singleNode: Bool = true,
    clock: ManualClock? = nil, perAppLimit: Int? = nil, work makeWork: ((JobTransfers) -> any JobWork)? = nil
  ) throws {
    // The pool's and the service's wall clock: the system's, or a test's that moves only when told.
    let now: @Sendable () -> Date
    if let clock { now = clock.now } else { now = { Date() } }
    let directory = try dataDirectory ?? makeTemporaryDirectory("ferry-pool")
    self.dataDirectory = directory
    self.store = try store ?? SQLiteJobStore(path: directory + "/ferry.db")
    storage = LocalStorage(root: directory + "/storage")
    let transfers = Self.transfers(storage: temporaryStorage ?? .local(storage), s3Endpoint: s3Endpoint)
    // By default jobs are copies, admitted as the API admits them; a test's own work gets its body as it is.
    copy = makeWork == nil ? CopyOperation(path: "/media/copy-test", transfers: transfers) : nil
    let work = makeWork?(transfers) ?? OperationRouter([copy!])
    pool = WorkerPool(
      store: self.store, work: work, cipher: Self.cipher,
      settings: .init(
        concurrency: concurrency, lease: lease, maxAttempts: maxAttempts, workRoot: directory + "/work",
        pollInterval: pollInterval, retryBackoff: .milliseconds(50), reportInterval: .milliseconds(50),
        singleNode: singleNode, sweepInterval: sweepInterval, perAppLimit: perAppLimit),
      now: now, logger: Logger(level: .debug, sink: logs))
    service = JobService(
      store: self.store, pool: pool, cipher: Self.cipher,
      admission: AdmissionControl(concurrency: concurrency, margin: .seconds(60)), estimator: pool.estimator,
      retention: .seconds(31 * 86400), now: now)
  }

  /// Submits a request body as `owner`.
  @discardableResult
  func submit(_ body: String, owner: String = "app", deadline: Date? = nil, key: String? = nil) async throws -> Job {
    var request = try copy?.admit(JSONValue.parse(Data(body.utf8))) ?? AdmittedRequest(payload: Array(body.utf8))
    if let deadline { request.deadline = deadline }
    return try await service.submit(
      owner: owner, path: "/media/copy-test", body: Array(body.utf8), request: request, idempotencyKey: key
    ).job
  }

  /// Waits (at most `timeout` seconds) until every worker is idle, waiting for a wake-up or its poll.
  func waitUntilIdle(timeout: Double = 10) async throws {
    let deadline = Date() + timeout
    while pool.idleCount < pool.settings.concurrency {
      guard Date() < deadline else {
        throw HarnessError(
          description: "\(pool.idleCount) of \(pool.settings.concurrency) workers idle after \(timeout) s")
      }
      try await Task.sleep(for: .milliseconds(5))
    }
  }

  /// Waits (at most `timeout` seconds) until the job satisfies `condition`; returns it as stored then.
  func wait(for id: UUID, timeout: Double = 10, until condition: (Job) -> Bool = { $0.status.isFinal }) async throws
    -> Job
  {
    let deadline = Date() + timeout
    while Date() < deadline {
      if let job = try store.job(id: id), condition(job) { return job }
      try await Task.sleep(for: .milliseconds(20))
    }
    let job = try store.job(id: id)
    // The engine's log says why: a test that fails on a busy machine should explain itself.
    let log = logs.all.suffix(12).joined(separator: "\n")
    throw HarnessError(
      description: "job \(id) did not get there in \(timeout) s; it is \(String(describing: job?.status)) "
        + "(error \(String(describing: job?.error)), attempts \(String(describing: job?.attempts)))\nlog:\n\(log)")
  }

  struct HarnessError: Error, CustomStringConvertible { var description: String }
}

/// A JSON copy request from `input` to `output`.
func copyRequest(_ input: String, _ output: String) -> String {
  #"{"input": "\#(input)", "output": "\#(output)"}"#
}
