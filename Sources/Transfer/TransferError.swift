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
  /// A download was redirected more than `limit` times.
  case tooManyRedirects(limit: Int)
  /// Connecting or reading failed after every attempt.
  case network(String)
  /// The attempt moved fewer than `minRate` bytes a second over `window`: a trickling peer, or an answer that
  /// never came.
  case tooSlow(minRate: Int, window: Duration)
  /// The attempt ran past the longest an attempt may take.
  case tooLong(limit: Duration)
  /// The caller cancelled.
  case cancelled
  /// A local failure (work file, libcurl setup).
  case local(String)
  /// An S3 multipart upload failed (the first error), and aborting it failed too (`abort`): the upload
  /// `uploadID` and its parts stay in the bucket, and are billed, until an abort or a lifecycle rule removes
  /// them. Worth logging with the bucket and key; the upload ID is no secret (it needs credentials to use).
  indirect case abortFailed(TransferError, abort: TransferError, uploadID: String)

  /// The failure itself, without what went wrong cleaning up after it: the error a job reports.
  public var primary: TransferError {
    if case .abortFailed(let failure, _, _) = self { return failure.primary }
    return self
  }

  public var description: String {
    switch self {
    case .refused(let reason): "refused by the network policy: \(reason)"
    case .expired: "the URL expired before the transfer could start"
    case .tooLarge(let limit): "larger than the limit of \(limit) bytes"
    case .status(let code, let detail): "the server answered \(code)" + (detail.isEmpty ? "" : ": \(detail)")
    case .tooManyRedirects(let limit):
      "more than \(limit) redirects: the server keeps redirecting (a loop, or a chain longer than Ferry follows)"
    case .tooSlow(let rate, let window):
      "slower than \(rate) bytes a second over \(Int(window.seconds)) s (the minimum a transfer must keep)"
    case .tooLong(let limit): "took longer than the \(Int(limit.seconds)) s a transfer may take"
    case .network(let detail): detail
    case .cancelled: "cancelled"
    case .local(let detail): detail
    case .abortFailed(let failure, let abort, let uploadID):
      "\(failure); aborting the multipart upload failed too (\(abort)): upload \(uploadID) and its parts remain"
    }
  }
}
