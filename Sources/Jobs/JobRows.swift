import Foundation

/// How the SQL stores lay a job and a delivery out in a row: the columns in the order both read them, and
/// the JSON coding of the attempt log and the error (dates as whole milliseconds, as every store keeps them).
public enum JobRows {
  public static let columns = """
    id, owner, path, request, request_digest, idempotency_key, status, phase, progress, bytes_done, bytes_total, \
    duration, submitted_ms, started_ms, completed_ms, expires_ms, deadline_ms, not_before_ms, attempt, attempts, \
    lease_holder, lease_expires_ms, cancel_requested, result, error, on_complete, open_uploads
    """

  /// The jobs an identical re-POST may be answered with: not one that ended in failure (the user who fixes a
  /// bucket's permissions and sends again wants a new job, not the old failure).
  public static let notFailed = "status NOT IN ('Failed', 'Cancelled', 'InternalError')"

  /// How many columns `columns` names.
  public static let columnCount = 27

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

  /// ` AND owner NOT IN (…)` with one parameter per owner skipped, numbered from `first` and spelled by
  /// `placeholder` (`?3` in SQLite, `$3::text` in PostgreSQL); empty when none is skipped. Sorted, so the same
  /// set makes the same statement (the stores cache statements by their text).
  public static func skipping(
    _ owners: Set<String>, from first: Int, placeholder: (Int) -> String
  ) -> (clause: String, owners: [String]) {
    guard !owners.isEmpty else { return ("", []) }
    let sorted = owners.sorted()
    let list = sorted.indices.map { placeholder(first + $0) }.joined(separator: ", ")
    return (" AND owner NOT IN (\(list))", sorted)
  }
}
