/// Why a transfer failed, in terms a job error can explain. Messages hold no secret and no full URL.
public enum TransferError: Error, Sendable, Equatable, CustomStringConvertible {
  /// The network policy refused an address (the first hop, a redirect, or the address connected to).
  case refused(String)
  /// The URL expired (or would expire before the next attempt): nothing was sent to it.
  case expired
  /// The body is larger than the limit.
  case tooLarge(limit: Int64)
  /// The server answered an error status that retrying will not change, or retries ran out.
  case status(Int, detail: String)
  /// Connecting or reading failed after every attempt.
  case network(String)
  /// The caller cancelled.
  case cancelled
  /// A local failure (work file, libcurl setup).
  case local(String)

  public var description: String {
    switch self {
    case .refused(let reason): "refused by the network policy: \(reason)"
    case .expired: "the URL expired before the transfer could start"
    case .tooLarge(let limit): "larger than the limit of \(limit) bytes"
    case .status(let code, let detail): "the server answered \(code)" + (detail.isEmpty ? "" : ": \(detail)")
    case .network(let detail): detail
    case .cancelled: "cancelled"
    case .local(let detail): detail
    }
  }
}
