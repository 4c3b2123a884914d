import Foundation
import Jobs
import SQLite
import SQLiteStore
import Synchronization
import TestSupport
import Testing

/// What only the SQLite store promises: durability across opens, constraints in the schema, group commit.
@Suite struct SQLiteJobStoreTests {
  let t0 = Date(millisecondsSince1970: 1_800_000_000_000)

  func newJob() -> Job {
    Job(
      owner: "app", path: "/media/enhance", sealedRequest: [9], requestDigest: UUID().uuidString, submittedAt: t0,
      retention: .seconds(86400), deadline: nil)
  }

  @Test func jobs_surviveClosingAndReopening() async throws {
    let path = try makeTemporaryDirectory("ferry-sqlite") + "/ferry.db"
    var job = newJob()
    do {
      let store = try SQLiteJobStore(path: path)
      _ = try await store.submit(job, duplicateSince: t0)
      job = try #require(try await store.claim(worker: "w", now: t0, lease: .seconds(30)))
    }
    let reopened = try SQLiteJobStore(path: path)
    #expect(try reopened.job(id: job.id) == job)
    #expect(try reopened.expiredLeases(now: .distantFuture) == [job.id])
  }

  @Test func schema_refusesImpossibleRowsWrittenBehindTheStoresBack() throws {
    let path = try makeTemporaryDirectory("ferry-sqlite") + "/ferry.db"
    _ = try SQLiteJobStore(path: path)
    let database = try SQLiteDatabase(path: path)
    #expect(try database.scalar("PRAGMA user_version") == 4)
    let valid = """
      INSERT INTO jobs (id, owner, path, request, request_digest, status, phase, progress, bytes_done, duration,
        submitted_ms, expires_ms, not_before_ms, attempt, attempts, cancel_requested%@)
      VALUES ('x%@', 'a', '/media/enhance', x'00', 'd', '%@', 'queued', 0, 0, 0, 1, 2, 1, 0, '[]', 0%@)
      """
    func insert(_ id: String, status: String, extraColumns: String = "", extraValues: String = "") throws {
      let sql = String(format: valid, extraColumns, id, status, extraValues)
      try database.execute(sql)
    }
    try insert("ok", status: "Pending")
    let impossible: [(String, String, String, String)] = [
      ("1", "Done", "", ""),  // no such status
      ("2", "Success", "", ""),  // success without result, completion or start
      ("3", "Running", "", ""),  // running without a lease
      ("4", "Failed", ", completed_ms", ", 5"),  // failed without an error
      ("5", "Pending", ", completed_ms", ", 5"),  // pending with a completion time
      ("6", "Pending", ", result", ", 'not json'"),
    ]
    for (id, status, columns, values) in impossible {
      #expect(throws: SQLiteError.self, "row \(id)") {
        try insert(id, status: status, extraColumns: columns, extraValues: values)
      }
    }
  }

  @Test func concurrentSubmissions_shareCommits() async throws {
    let store = try SQLiteJobStore(path: try makeTemporaryDirectory("ferry-sqlite") + "/ferry.db")
    let before = store.commits
    try await withThrowingTaskGroup(of: Void.self) { group in
      for _ in 0..<200 {
        group.addTask { _ = try await store.submit(self.newJob(), duplicateSince: self.t0) }
      }
      try await group.waitForAll()
    }
    let commits = store.commits - before
    #expect(try store.list(JobQuery(owner: "app", limit: 500)).jobs.count == 200)
    // Every submission was committed before it returned, yet far fewer transactions than submissions ran.
    #expect(commits < 100, "\(commits) commits for 200 submissions")
  }

  @Test func aNewerSchema_isRefusedRatherThanMisread() throws {
    let path = try makeTemporaryDirectory("ferry-sqlite") + "/ferry.db"
    let database = try SQLiteDatabase(path: path)
    try database.execute("PRAGMA user_version = 99")
    #expect(throws: JobStoreError.self) { try SQLiteJobStore(path: path) }
  }
}

/// `runBlocking`, the one way a plain thread waits for a store write, must not need the concurrency pool: a
/// worker thread has to store its job's outcome even while every task thread is blocked.
@Suite struct RunBlockingTests {
  @Test func aStoreWriteFromAPlainThread_finishesWhileEveryTaskThreadIsBlocked() throws {
    let path = try makeTemporaryDirectory("ferry-blocking") + "/ferry.db"
    let store = try SQLiteJobStore(path: path)
    let job = Job(
      owner: "app", path: "/media/enhance", sealedRequest: [9], requestDigest: "d", submittedAt: Date(),
      retention: .seconds(86400), deadline: nil)

    // Fill the pool: more blocked tasks than it has threads (the test's own thread may be one of them).
    let release = DispatchSemaphore(value: 0)
    let started = DispatchSemaphore(value: 0)
    let width = ProcessInfo.processInfo.activeProcessorCount + 2
    for _ in 0..<width {
      Task.detached {
        started.signal()
        release.wait()
      }
    }
    defer { for _ in 0..<width { release.signal() } }
    var running = 0
    while running < width, started.wait(timeout: .now() + 0.5) == .success { running += 1 }
    #expect(running < width, "the pool has room left: this test shows nothing")

    let stored = Mutex<Result<Submission, any Error>?>(nil)
    let done = DispatchSemaphore(value: 0)
    let thread = Thread {
      stored.withLock { $0 = Result { try runBlocking { try await store.submit(job, duplicateSince: .distantPast) } } }
      done.signal()
    }
    thread.start()
    #expect(done.wait(timeout: .now() + 10) == .success, "the write waited for a task thread")
    #expect(try stored.withLock { $0 }?.get() == .created(job))
  }
}
