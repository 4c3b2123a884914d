import Foundation

/// A few connections to one server, opened when first needed. libpq blocks, so each connection serves one
/// thread at a time; a caller past `size` waits for one to come back.
public final class PostgresPool: @unchecked Sendable {
  private let url: String
  /// At most this many connections are open at once.
  public let size: Int
  // Guards `idle` and `open`.
  private let condition = NSCondition()
  private var idle: [PostgresConnection] = []
  private var open = 0

  /// A pool for `url`; nothing connects until the first `withConnection`.
  public init(url: String, size: Int) {
    self.url = url
    self.size = max(1, size)
  }

  /// Runs `body` with a connection of its own, reconnecting first if the last user left it broken or
  /// inside a transaction.
  /// `retry` runs `body` once more on a reopened connection when the connection was lost under it: for
  /// reads, which are safe to repeat (a write may have committed before the loss).
  public func withConnection<T>(retry: Bool = false, _ body: (PostgresConnection) throws -> T) throws -> T {
    let connection = try checkOut()
    defer { checkIn(connection) }
    if !connection.isAlive || !connection.isIdle { try connection.reset() }
    do {
      return try body(connection)
    } catch let error as PostgresError where retry && error.connectionLost {
      try connection.reset()
      return try body(connection)
    }
  }

  private func checkOut() throws(PostgresError) -> PostgresConnection {
    condition.lock()
    while idle.isEmpty && open >= size { condition.wait() }
    if let connection = idle.popLast() {
      condition.unlock()
      return connection
    }
    open += 1
    condition.unlock()
    do {
      return try PostgresConnection(url: url)
    } catch {
      condition.lock()
      open -= 1
      condition.signal()
      condition.unlock()
      throw error
    }
  }

  private func checkIn(_ connection: PostgresConnection) {
    condition.lock()
    idle.append(connection)
    condition.signal()
    condition.unlock()
  }
}
