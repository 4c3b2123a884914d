import Foundation

/// How the SQL stores lay a job and a delivery out in a row: the columns in the order both read them, and
/// the JSON coding of the attempt log and the error (dates as whole milliseconds, as every store keeps them).
public enum JobRows {
  public static let columns = """
    id, owner, path, request, request_digest, idempotency_key, status, phase, progress, bytes_done, bytes_total, \
    duration, submitted_ms, started_ms, completed_ms, expires_ms, deadline_ms, not_before_ms, attempt, attempts, \
    lease_holder, lease_expires_ms, cancel_requested, result, error, on_complete
    """

  public static let deliveryColumns =
    "id, job_id, owner, webhook_id, callback, created_ms, next_attempt_ms, state, attempts"

  public static let encoder: JSONEncoder = {
    let encoder = JSONEncoder()
    encoder.dateEncodingStrategy = .millisecondsSince1970
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    return encoder
  }()

  public static let decoder: JSONDecoder = {
    let decoder = JSONDecoder()
    decoder.dateDecodingStrategy = .millisecondsSince1970
    return decoder
  }()
}
