import Foundation
import JSON
import Jobs
import Locations
import Log
import SQLiteStore
import Storage
import TestSupport
import Transfer

@testable import Media

/// One worker on a real SQLite store with the given operations, `dlb://` storage for inputs and outputs,
/// and real ffmpeg: what the media job tests share.
struct MediaHarness: Sendable {
  let directory: String
  let store: SQLiteJobStore
  let storage: LocalStorage
  let pool: WorkerPool
  let service: JobService
  let operations: [String: any JobOperation]
  let tools: MediaTools
  /// What the worker logged (jobs' lines included).
  let logs = MemoryLogSink()

  /// `s3Endpoint` sets `s3.endpoint` (trusted, as operators' endpoints are). `database` starts from a copy of
  /// that job store; `start` false leaves the workers to the test (`pool.start()`). `client` replaces the
  /// transfer client (one that may reach a test's own servers on loopback); the multipart settings are
  /// `transfer.*`'s.
  init(
    _ name: String, s3Endpoint: String? = nil, database: String? = nil, start: Bool = true,
    tools: MediaTools = MediaTools(), concurrency: Int = 1, client: TransferClient? = nil,
    multipartThreshold: Int64 = 1 << 30, partSize: Int64 = 1 << 24, parallelParts: Int = 1,
    operations: (JobTransfers, MediaTools) -> [any JobOperation]
  ) throws {
    self.tools = tools
    directory = try makeTemporaryDirectory("ferry-\(name)")
    if let database { try FileManager.default.copyItem(atPath: database, toPath: directory + "/ferry.db") }
    store = try SQLiteJobStore(path: directory + "/ferry.db")
    storage = LocalStorage(root: directory + "/storage")
    let transfers = JobTransfers(
      client: client ?? TransferClient(policy: NetworkPolicy()),
      requests: LocationRequests(s3: S3Requests(addressing: S3Addressing(endpoint: s3Endpoint))),
      storage: .local(storage),
      multipartThreshold: multipartThreshold, partSize: partSize, parallelParts: parallelParts)
    let cipher = RequestCipher(masterKey: [UInt8](repeating: 4, count: 32))
    let router = OperationRouter(operations(transfers, tools))
    self.operations = router.operations
    pool = WorkerPool(
      store: store, work: router, cipher: cipher,
      settings: .init(
        concurrency: concurrency, workRoot: directory + "/work", pollInterval: .milliseconds(100),
        retryBackoff: .milliseconds(20)),
      logger: Logger(level: .info, sink: logs))
    service = JobService(
      store: store, pool: pool, cipher: cipher, admission: AdmissionControl(concurrency: 1, margin: .seconds(60)),
      estimator: pool.estimator, retention: .seconds(86400))
    if start { try pool.start() }
  }

  /// Makes `dlb://<key>` of the test app with ffmpeg (`arguments` go before the output path).
  @discardableResult
  func fixture(_ key: String, _ arguments: [String]) async throws -> String {
    let path = storage.path(owner: "app", key: key)
    try FileManager.default.createDirectory(
      atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
    let exit = try await blocking {
      try ProcessRunner().run("ffmpeg", ["-hide_banner", "-loglevel", "error", "-y"] + arguments + [path])
    }
    guard exit.status == 0 else { throw RawHTTPClient.ClientError(description: "fixture failed: \(exit.stderr)") }
    return path
  }

  /// Submits `body` to `path` as the test app, validated by the operation as the API does.
  func submit(_ path: String, _ body: String) async throws -> Job {
    guard let operation = operations[path] else {
      throw RawHTTPClient.ClientError(description: "no operation serves \(path)")
    }
    let request = try operation.admit(try JSONValue.parse(Data(body.utf8)))
    return try await service.submit(
      owner: "app", path: path, body: Array(body.utf8), request: request, idempotencyKey: nil
    ).job
  }

  /// Submits `body` to `path` as the test app and waits (at most 60 s) for the job to end.
  func run(_ path: String, _ body: String) async throws -> Job {
    let job = try await submit(path, body)
    for _ in 0..<1200 {
      if let stored = try store.job(id: job.id), stored.status.isFinal { return stored }
      try await Task.sleep(for: .milliseconds(50))
    }
    throw RawHTTPClient.ClientError(description: "the job did not end in 60 s")
  }

  /// ffprobe's view of `dlb://<key>`.
  func probe(_ key: String) async throws -> MediaInfo? {
    let path = storage.path(owner: "app", key: key)
    return try await blocking { [tools] in try MediaProbe(tools: tools).probe(path) }
  }
}
