import Foundation
import Jobs
import Postgres
import PostgresStore
import Synchronization
import TestSupport
import Testing

/// What only the PostgreSQL store promises: several nodes on one database. Each test's "nodes" are
/// `PostgresJobStore`s on one fresh database of the shared test cluster; they work on Dispatch threads, as
/// workers do.
@Suite struct PostgresJobStoreTests {
  let t0 = Date(millisecondsSince1970: 1_800_000_000_000)

  func newJob(owner: String = "app") -> Job {
    Job(
      owner: owner, path: "/media/enhance", sealedRequest: [1, 0, 255], requestDigest: UUID().uuidString,
      submittedAt: t0, retention: .seconds(86400), deadline: nil)
  }

  /// A fresh database on the shared cluster.
  func makeDatabase() async throws -> String {
    try await blocking { try PostgresPeer.shared().makeDatabase() }
  }

  @Test func twoNodes_claimingConcurrently_neverTakeTheSameJob() async throws {
    let url = try await makeDatabase()
    let nodes = try await blocking { [try PostgresJobStore(url: url), try PostgresJobStore(url: url)] }
    for _ in 0..<50 { _ = try await nodes[0].submit(newJob(), duplicateSince: t0) }
    let claimed = try await withThrowingTaskGroup(of: [UUID].self) { group in
      // Four workers per node, each taking jobs until none is left.
      for (index, node) in nodes.enumerated() {
        for worker in 0..<4 {
          group.addTask {
            try await blocking {
              var mine: [UUID] = []
              while let job = try runBlocking({
                try await node.claim(worker: "n\(index)-w\(worker)", now: self.t0, lease: .seconds(30))
              }) {
                mine.append(job.id)
              }
              return mine
            }
          }
        }
      }
      return try await group.reduce(into: []) { $0 += $1 }
    }
    #expect(claimed.count == 50)
    #expect(Set(claimed).count == 50)
    #expect(try nodes[1].counts() == [.running: 50])
  }

  @Test func updates_fromTwoNodesAtOnce_loseNoWrite() async throws {
    let url = try await makeDatabase()
    let nodes = try await blocking { [try PostgresJobStore(url: url), try PostgresJobStore(url: url)] }
    let job = try await nodes[0].submit(newJob(), duplicateSince: t0).job
    // Each update reads the job and writes it back one higher: a lost write would show as a lower total.
    try await withThrowingTaskGroup(of: Void.self) { group in
      for node in nodes {
        for _ in 0..<20 {
          group.addTask { try await node.update(id: job.id) { $0.duration += 1 } }
        }
      }
      try await group.waitForAll()
    }
    #expect(try nodes[1].job(id: job.id)?.duration == 40)
  }

  @Test func deliveries_claimedByTwoNodesAtOnce_goToOneEach() async throws {
    let url = try await makeDatabase()
    let nodes = try await blocking { [try PostgresJobStore(url: url), try PostgresJobStore(url: url)] }
    try await nodes[0].saveWebhook(Webhook(id: UUID(), owner: "app", sealedCallback: [7]))
    for _ in 0..<30 {
      let job = try await nodes[0].submit(newJob(), duplicateSince: t0).job
      try await nodes[0].update(id: job.id) { _ = $0.cancel(now: self.t0) }
    }
    let taken = try await withThrowingTaskGroup(of: [UUID].self) { group in
      for node in nodes {
        for _ in 0..<3 {
          group.addTask {
            try await blocking {
              var mine: [UUID] = []
              while true {
                let batch = try runBlocking {
                  try await node.claimDeliveries(now: self.t0, holdUntil: self.t0 + 600, limit: 4)
                }
                if batch.isEmpty { return mine }
                mine += batch.map(\.id)
              }
            }
          }
        }
      }
      return try await group.reduce(into: []) { $0 += $1 }
    }
    #expect(taken.count == 30)
    #expect(Set(taken).count == 30)
  }

  @Test func manyNodesStartingTogether_migrateTheSchemaOnce() async throws {
    let url = try await makeDatabase()
    // Without the advisory lock, concurrent CREATE TABLEs on a fresh database fail ("already exists").
    let started = try await withThrowingTaskGroup(of: Bool.self) { group in
      for _ in 0..<6 {
        group.addTask {
          _ = try await blocking { try PostgresJobStore(url: url, connections: 2) }
          return true
        }
      }
      return try await group.reduce(into: 0) { $0 += $1 ? 1 : 0 }
    }
    #expect(started == 6)
    let version = try await blocking {
      try PostgresConnection(url: url).execute("SELECT version FROM ferry_schema").first?.int(0)
    }
    #expect(version == 2)
  }

  @Test func aNewerSchema_isRefusedRatherThanMisread() async throws {
    let url = try await makeDatabase()
    _ = try await blocking { try PostgresJobStore(url: url) }
    _ = try await blocking { try PostgresConnection(url: url).execute("UPDATE ferry_schema SET version = 99") }
    await #expect(throws: JobStoreError.self) { try await blocking { try PostgresJobStore(url: url) } }
  }

  @Test func schema_refusesImpossibleRowsWrittenBehindTheStoresBack() async throws {
    let url = try await makeDatabase()
    _ = try await blocking { try PostgresJobStore(url: url) }
    let impossible: [(String, String, String)] = [
      ("Done", "", ""),  // no such status
      ("Success", "", ""),  // success without result, completion or start
      ("Running", "", ""),  // running without a lease
      ("Failed", ", completed_ms", ", 5"),  // failed without an error
      ("Pending", ", completed_ms", ", 5"),  // pending with a completion time
      ("Pending", ", result", ", 'not json'"),
    ]
    // Each insert's error, nil when it was stored.
    let outcomes = try await blocking { () -> [String?] in
      let connection = try PostgresConnection(url: url)
      return ([("Pending", "", "")] + impossible).map { status, columns, values -> String? in
        do {
          try connection.execute(
            """
            INSERT INTO jobs (id, owner, path, request, request_digest, status, phase, progress, bytes_done,
              duration, submitted_ms, expires_ms, not_before_ms, attempt, attempts, cancel_requested\(columns))
            VALUES ($1, 'a', '/media/enhance', '\\x00', 'd', $2, 'queued', 0, 0, 0, 1, 2, 1, 0, '[]', false\(values))
            """, [.text(UUID().text), .text(status)])
          return nil
        } catch {
          return String(describing: error)
        }
      }
    }
    #expect(outcomes.first! == nil, "a valid pending row is stored")
    for (index, outcome) in outcomes.dropFirst().enumerated() {
      #expect(outcome != nil, "\(impossible[index])")
    }
  }

  @Test func connectionsTheServerClosed_areReopened_withoutFailingAnOperation() async throws {
    let url = try await makeDatabase()
    let store = try await blocking { try PostgresJobStore(url: url, connections: 3) }
    let job = try await store.submit(newJob(), duplicateSince: t0).job
    #expect(try await blocking { try store.job(id: job.id) } == job)
    // What a server restart or an operator's pg_terminate_backend does to idle pooled connections.
    let database = String(url.split(separator: "/").last!)
    let terminated = try await blocking {
      try PostgresConnection(url: url).execute(
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
        [.text(database)]
      ).first?.int(0)
    }
    #expect(terminated ?? 0 > 0)
    try await Task.sleep(for: .milliseconds(100))
    #expect(try await blocking { try store.job(id: job.id) } == job)
    #expect(try await store.claim(worker: "w", now: t0, lease: .seconds(30))?.id == job.id)
  }

  @Test func connectionErrors_neverQuoteTheURLOrItsPassword() async throws {
    let port = try S3Peers.freePort()  // nothing listens there
    let url = "postgresql://ferry:pw-s3cret-4711@127.0.0.1:\(port)/ferry?connect_timeout=5"
    let refused = try await blocking { () -> String in
      do {
        _ = try PostgresJobStore(url: url)
        return ""
      } catch {
        return String(describing: error)
      }
    }
    #expect(refused.contains("127.0.0.1"), "\(refused)")
    #expect(!refused.contains("pw-s3cret-4711") && !refused.contains(url))
    // A string libpq cannot parse: its own message would quote it.
    let garbled = "host=127.0.0.1 password=pw-s3cret-4711 nonsense"
    #expect(throws: JobStoreError.self) { try PostgresJobStore(url: garbled) }
    do {
      _ = try PostgresJobStore(url: garbled)
    } catch {
      #expect(!String(describing: error).contains("pw-s3cret-4711"))
    }
  }
}
