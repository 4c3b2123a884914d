import Foundation

/// The one writing connection of a database, on its own thread, with group commit: writes that arrive while
/// a commit is being made to disk wait and then share the next transaction (and its fsync). Each write runs
/// in its own savepoint, so one that fails rolls back alone.
public final class SQLiteWriter: @unchecked Sendable {
  // `queue` and `stopped` are guarded by `condition`; `database` is used only on the writer thread.
  private let condition = NSCondition()
  private var queue: [any PendingWrite] = []
  private var stopped = false
  private var committed = 0
  private let database: SQLiteDatabase

  /// Starts the writer thread on an open connection (the writer owns it from now on).
  public init(database: SQLiteDatabase, name: String) {
    self.database = database
    let thread = Thread { [self] in self.loop() }
    thread.name = name
    thread.start()
  }

  /// Runs `body` in the next transaction and returns its value once that transaction is committed.
  /// `committed` sees the outcome first, on the writer thread and in commit order (keep it short): what must
  /// follow the commits' order, such as a cache of their rows, goes there, not after the `await`.
  public func write<T: Sendable>(
    _ body: @escaping @Sendable (SQLiteDatabase) throws -> T,
    committed: @escaping @Sendable (Result<T, any Error>) -> Void = { _ in }
  ) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
      enqueue(
        Write(body: body) { outcome in
          committed(outcome)
          continuation.resume(with: outcome)
        })
    }
  }

  private func enqueue<T>(_ write: Write<T>) {
    condition.withLock {
      guard !stopped else {
        write.completion(.failure(SQLiteError(code: 21, message: "the database is closed")))
        return
      }
      queue.append(write)
      condition.signal()
    }
  }

  /// Transactions committed so far (each write batch is one): with `writes`, shows how much group commit
  /// saves.
  public var commits: Int { condition.withLock { committed } }

  /// Stops the thread after the writes already queued.
  public func stop() {
    condition.withLock {
      stopped = true
      condition.signal()
    }
  }

  private func loop() {
    while true {
      let batch: [any PendingWrite] = condition.withLock {
        while queue.isEmpty && !stopped { condition.wait() }
        defer { queue.removeAll(keepingCapacity: true) }
        return queue
      }
      if batch.isEmpty { return }
      var commitError: SQLiteError?
      do {
        try database.execute("BEGIN IMMEDIATE")
        for write in batch {
          // After a disk or memory error SQLite may have rolled the whole transaction back: the writes left
          // must not run as transactions of their own, and none of the batch was stored.
          guard database.isInTransaction else {
            throw SQLiteError(code: 4, message: "the transaction was rolled back by SQLite")
          }
          write.run(on: database)
        }
        database.resetStatements()
        guard database.isInTransaction else {
          throw SQLiteError(code: 4, message: "the transaction was rolled back by SQLite")
        }
        try database.execute("COMMIT")
        condition.withLock { committed += 1 }
      } catch {
        try? database.execute("ROLLBACK")
        commitError = error as? SQLiteError ?? SQLiteError(code: 1, message: String(describing: error))
      }
      for write in batch { write.complete(commitError) }
    }
  }
}

private protocol PendingWrite: AnyObject {
  /// Runs the write in a savepoint of the open transaction, keeping its outcome.
  func run(on database: SQLiteDatabase)
  /// Answers the caller: the kept outcome, or `commitError` when the transaction did not commit.
  func complete(_ commitError: SQLiteError?)
}

private final class Write<T: Sendable>: PendingWrite {
  let body: @Sendable (SQLiteDatabase) throws -> T
  let completion: @Sendable (Result<T, any Error>) -> Void
  var outcome: Result<T, any Error>?

  init(
    body: @escaping @Sendable (SQLiteDatabase) throws -> T,
    completion: @escaping @Sendable (Result<T, any Error>) -> Void
  ) {
    self.body = body
    self.completion = completion
  }

  func run(on database: SQLiteDatabase) {
    do {
      try database.execute("SAVEPOINT write")
      do {
        outcome = .success(try body(database))
        try database.execute("RELEASE write")
      } catch {
        try? database.execute("ROLLBACK TO write")
        try? database.execute("RELEASE write")
        throw error
      }
    } catch {
      outcome = .failure(error)
    }
  }

  func complete(_ commitError: SQLiteError?) {
    if let commitError {
      completion(.failure(commitError))
    } else {
      completion(outcome ?? .failure(SQLiteError(code: 1, message: "write did not run")))
    }
  }
}
