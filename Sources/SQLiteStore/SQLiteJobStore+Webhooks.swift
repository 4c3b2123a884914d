import Foundation
import Jobs
import SQLite

/// Webhook registrations and the delivery outbox (schema version 3).
extension SQLiteJobStore {
  public func webhook(owner: String) throws -> Webhook? {
    try read { database in try Self.webhook(owner: owner, in: database) }
  }

  /// The owner's webhook; the statement is run to its end (one left on a row would hold its snapshot).
  static func webhook(owner: String, in database: SQLiteDatabase) throws -> Webhook? {
    let statement = try database.statement("SELECT id, callback FROM webhooks WHERE owner = ?1")
    try statement.bind(.text(owner))
    var webhook: Webhook?
    if try statement.step(), let id = UUID(text: statement.text(0)) {
      webhook = Webhook(id: id, owner: owner, sealedCallback: statement.blob(1))
    }
    while try statement.step() {}
    return webhook
  }

  public func saveWebhook(_ webhook: Webhook) async throws {
    try await writer.write(
      { database in
        try database.statement("INSERT OR REPLACE INTO webhooks (owner, id, callback) VALUES (?1, ?2, ?3)")
          .bind(.text(webhook.owner), .text(webhook.id.text), .blob(webhook.sealedCallback)).run()
      })
  }

  public func deleteWebhook(id: UUID, owner: String) async throws -> Bool {
    try await writer.write(
      { database in
        try database.statement("DELETE FROM webhooks WHERE owner = ?1 AND id = ?2").bind(.text(owner), .text(id.text))
          .run()
        return database.changes > 0
      })
  }

  public func claimDeliveries(now: Date, holdUntil: Date, limit: Int, skipping owners: Set<String>) async throws
    -> [Delivery]
  {
    let skipped = JobRows.skipping(owners, from: 4) { "?\($0)" }
    return try await writer.write(
      { database in
        // The partial index deliveries_due holds exactly the pending deliveries in this order.
        let statement = try database.statement(
          """
          UPDATE deliveries SET next_attempt_ms = ?2 WHERE id IN (
            SELECT id FROM deliveries WHERE state = 'pending' AND next_attempt_ms <= ?1\(skipped.clause)
            ORDER BY next_attempt_ms, seq LIMIT ?3)
          RETURNING \(Self.deliveryColumns)
          """)
        try statement.bind(
          [.int(now.millisecondsSince1970), .int(holdUntil.millisecondsSince1970), .int(Int64(max(0, limit)))]
            + skipped.owners.map { .text($0) })
        var claimed: [Delivery] = []
        while try statement.step() { claimed.append(try Self.delivery(statement)) }
        return claimed.sorted { $0.createdAt < $1.createdAt }
      })
  }

  public func recordDelivery(id: UUID, attempt: DeliveryAttempt, state: Delivery.State, next: Date?) async throws {
    let encoded = Result { String(decoding: try Self.encoder.encode(attempt), as: UTF8.self) }
    try await writer.write(
      { database in
        try database.statement(
          """
          UPDATE deliveries SET attempts = json_insert(attempts, '$[#]', json(?2)), state = ?3,
            next_attempt_ms = coalesce(?4, next_attempt_ms)
          WHERE id = ?1
          """
        ).bind(
          .text(id.text), .text(try encoded.get()), .text(state.rawValue), .optionalInt(next?.millisecondsSince1970)
        )
        .run()
      })
  }

  public func deliveries(job id: UUID) throws -> [Delivery] {
    try read { database in
      let statement = try database.statement(
        "SELECT \(Self.deliveryColumns) FROM deliveries WHERE job_id = ?1 ORDER BY seq")
      try statement.bind(.text(id.text))
      var found: [Delivery] = []
      while try statement.step() { found.append(try Self.delivery(statement)) }
      return found
    }
  }

  // MARK: Rows

  static let deliveryColumns = JobRows.deliveryColumns

  /// Adds the deliveries `job` owes now that it ended (called in the write that ends it).
  static func addDeliveries(owedBy job: Job, in database: SQLiteDatabase) throws {
    for delivery in Delivery.owed(by: job, webhook: try webhook(owner: job.owner, in: database)) {
      try database.statement(
        "INSERT INTO deliveries (\(deliveryColumns)) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, '[]')"
      ).bind(JobRows.values(delivery, of: job)).run()
    }
  }

  static func delivery(_ row: SQLiteStatement) throws -> Delivery {
    try JobRows.delivery(Row(statement: row))
  }
}
