import Foundation
import Jobs
import Postgres

/// Webhook registrations and the delivery outbox.
extension PostgresJobStore {
  public func webhook(owner: String) throws -> Webhook? {
    try read { connection in try Self.webhook(owner: owner, in: connection) }
  }

  static func webhook(owner: String, in connection: PostgresConnection) throws -> Webhook? {
    guard
      let row = try connection.execute("SELECT id, callback FROM webhooks WHERE owner = $1::text", [.text(owner)])
        .first, let id = UUID(text: row.text(0))
    else { return nil }
    return Webhook(id: id, owner: owner, sealedCallback: row.bytes(1))
  }

  public func saveWebhook(_ webhook: Webhook) async throws {
    _ = try await write(
      { connection in
        try connection.execute(
          """
          INSERT INTO webhooks (owner, id, callback) VALUES ($1, $2, $3)
          ON CONFLICT (owner) DO UPDATE SET id = EXCLUDED.id, callback = EXCLUDED.callback
          """, [.text(webhook.owner), .text(webhook.id.text), .bytes(webhook.sealedCallback)])
      })
  }

  public func deleteWebhook(id: UUID, owner: String) async throws -> Bool {
    try await write(
      { connection in
        try connection.execute(
          "DELETE FROM webhooks WHERE owner = $1::text AND id = $2::uuid", [.text(owner), .text(id.text)]
        ).affected > 0
      })
  }

  public func claimDeliveries(now: Date, holdUntil: Date, limit: Int, skipping owners: Set<String>) async throws
    -> [Delivery]
  {
    let skipped = JobRows.skipping(owners, from: 4) { "$\($0)::text" }
    return try await write(
      { connection in
        // The CTE locks the due rows once (a locking CTE is never inlined); SKIP LOCKED leaves rows another
        // node is claiming to that node, so each delivery goes to one sender.
        let rows = try connection.execute(
          """
          WITH due AS (
            SELECT id FROM deliveries WHERE state = 'pending' AND next_attempt_ms <= $1::bigint\(skipped.clause)
            ORDER BY next_attempt_ms, seq LIMIT $3::bigint FOR UPDATE SKIP LOCKED)
          UPDATE deliveries SET next_attempt_ms = $2::bigint FROM due WHERE deliveries.id = due.id
          RETURNING \(Self.qualifiedDeliveryColumns)
          """,
          [.int(now.millisecondsSince1970), .int(holdUntil.millisecondsSince1970), .int(max(0, limit))]
            + skipped.owners.map { .text($0) })
        return try rows.rows.map { try Self.delivery($0) }.sorted { $0.createdAt < $1.createdAt }
      })
  }

  public func recordDelivery(id: UUID, attempt: DeliveryAttempt, state: Delivery.State, next: Date?) async throws {
    let encoded = Result { String(decoding: try JobRows.encoder.encode(attempt), as: UTF8.self) }
    _ = try await write(
      { connection in
        try connection.execute(
          """
          UPDATE deliveries SET attempts = attempts || jsonb_build_array($2::jsonb), state = $3::text,
            next_attempt_ms = coalesce($4::bigint, next_attempt_ms)
          WHERE id = $1::uuid
          """,
          [.text(id.text), .text(try encoded.get()), .text(state.rawValue), .optionalInt(next?.millisecondsSince1970)])
      })
  }

  public func deliveries(job id: UUID) throws -> [Delivery] {
    try read { connection in
      try connection.execute(
        "SELECT \(Self.deliveryColumns) FROM deliveries WHERE job_id = $1::uuid ORDER BY seq", [.text(id.text)]
      ).rows.map { try Self.delivery($0) }
    }
  }

  // MARK: Rows

  static let deliveryColumns = JobRows.deliveryColumns
  /// The same columns named with their table (`deliveries.id, ...`), for a RETURNING next to a join.
  static let qualifiedDeliveryColumns = deliveryColumns.split(separator: ",")
    .map { "deliveries.\($0.trimmingCharacters(in: .whitespaces))" }.joined(separator: ", ")

  /// Adds the deliveries `job` owes now that it ended (called in the transaction that ends it).
  static func addDeliveries(owedBy job: Job, in connection: PostgresConnection) throws {
    for delivery in Delivery.owed(by: job, webhook: try webhook(owner: job.owner, in: connection)) {
      try connection.execute(
        "INSERT INTO deliveries (\(deliveryColumns)) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, '[]')",
        JobRows.values(delivery, of: job))
    }
  }

  static func delivery(_ row: PostgresRow) throws -> Delivery {
    try JobRows.delivery(row)
  }
}
