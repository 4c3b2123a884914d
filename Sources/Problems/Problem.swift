/// One kind of problem Ferry reports, in one place: its type URI, the HTTP status it answers with, its one
/// title, and whether a job that meets it may be retried. COMPAT.md's "Problem types" table, in code; every
/// HTTP error and job error is made from a member of `Problem.catalogue`, and `openapi.yaml` lists exactly
/// these types (a test checks both ways).
public struct Problem: Sendable, Hashable, CustomStringConvertible {
  /// The problem type: `/problems/invalid-request`.
  public let type: String
  /// The HTTP status of an answer with this problem; nil for problems only a job's `error` carries.
  public let status: Int?
  /// A short, fixed summary of the type. What happened in one case goes in the detail.
  public let title: String
  /// A job that meets this problem may be tried again: the cause may pass (a source that answered 503, a
  /// stall, the job store busy). Whether one particular failure is retried is the thrower's call, within this.
  public let retryable: Bool

  /// A problem of the caller's own (tests); Ferry's are the static members.
  public init(type: String, status: Int?, title: String, retryable: Bool = false) {
    self.type = type
    self.status = status
    self.title = title
    self.retryable = retryable
  }

  public var description: String { type }

  /// The catalogued problem of `type`, if there is one (for errors read back from a store).
  public static func named(_ type: String) -> Problem? { byType[type] }

  private static let byType = Dictionary(catalogue.map { ($0.type, $0) }, uniquingKeysWith: { first, _ in first })
}

extension Problem {
  private init(_ name: String, _ status: Int?, _ title: String, retryable: Bool = false) {
    self.init(type: "/problems/" + name, status: status, title: title, retryable: retryable)
  }

  // Requests: answered at once, with the status.

  /// Malformed syntax or an invalid value; the detail names the field.
  public static let invalidRequest = Problem("invalid-request", 400, "Invalid request")
  /// Admission control: the job could not finish before its output URL expires.
  public static let outputURLExpiresTooSoon = Problem("output-url-expires-too-soon", 400, "Output URL expires too soon")
  /// Missing or bad credentials.
  public static let unauthorized = Problem("unauthorized", 401, "Unauthorized")
  /// An access token that was good and has expired: Dolby's browser samples get a new token only on this type
  /// (they compare `type` with this one), so it is told apart from a token that was never good.
  public static let accessTokenExpired = Problem("access-token-expired", 401, "Access token expired")
  /// Valid credentials, an action they do not allow (a storage URL's signature, method or expiry); a
  /// cross-origin preflight from an origin that may not call.
  public static let forbidden = Problem("forbidden", 403, "Forbidden")
  /// Nothing at this path, a job of another app, a missing `dlb://` key.
  public static let notFound = Problem("not-found", 404, "Not found")
  /// The path does not take this method; `Allow` lists those it takes.
  public static let methodNotAllowed = Problem("method-not-allowed", 405, "Method not allowed")
  /// The request head or body did not arrive in time.
  public static let requestTimeout = Problem("request-timeout", 408, "Request timeout")
  /// A `dlb://` key collides with a folder, or a duplicate.
  public static let conflict = Problem("conflict", 409, "Conflict")
  /// A body over the route's limit.
  public static let payloadTooLarge = Problem("payload-too-large", 413, "Payload too large")
  /// A request line over what the server reads.
  public static let uriTooLong = Problem("uri-too-long", 414, "URI too long")
  /// A JSON route got a body that is not JSON, declared as another type (JSON is read whatever its type).
  public static let unsupportedMediaType = Problem("unsupported-media-type", 415, "Unsupported media type")
  /// An `Expect` other than `100-continue`.
  public static let expectationFailed = Problem("expectation-failed", 417, "Expectation failed")
  /// An `Idempotency-Key` sent again with another body.
  public static let idempotencyKeyReused = Problem("idempotency-key-reused", 422, "Idempotency key reused")
  /// The app is over its rate limit; `Retry-After` says when to come back.
  public static let tooManyRequests = Problem("too-many-requests", 429, "Too many requests")
  /// Too many header fields, or too many header bytes.
  public static let headersTooLarge = Problem("headers-too-large", 431, "Request header fields too large")
  /// A bug. As a job error it ends the job `InternalError`; a fault of Ferry's own that may pass (the job store
  /// busy, a lease lost) is retried first.
  public static let internalError = Problem("internal-error", 500, "Internal error", retryable: true)
  /// A transfer coding other than `chunked`.
  public static let notImplemented = Problem("not-implemented", 501, "Not implemented")
  /// The server cannot take the request now (connection cap, store down, stopping): safe to retry.
  public static let notReady = Problem("not-ready", 503, "Not ready")
  /// A protocol version other than HTTP/1.0 and HTTP/1.1.
  public static let httpVersionNotSupported = Problem("http-version-not-supported", 505, "HTTP version not supported")

  // Jobs: the `error` of a job that ended `Failed` (or `InternalError`), and its attempt log.

  /// The input could not be read (source 4xx, DNS, timeouts after retries).
  public static let inputFileAccess = Problem("input-file-access", nil, "Input not readable", retryable: true)
  /// An output could not be written.
  public static let outputFileAccess = Problem("output-file-access", nil, "Output not writable", retryable: true)
  /// A URL, or a redirect hop, points at an address the network policy refuses.
  public static let networkPolicy = Problem("network-policy", nil, "Address refused by the network policy")
  /// Over `transfer.max_input_bytes` or `media.max_duration_s`.
  public static let inputTooLarge = Problem("input-too-large", nil, "Input too large")
  /// Not decodable media, empty, truncated, or not the media the operation needs.
  public static let unsupportedMedia = Problem("unsupported-media", nil, "Unsupported media")
  /// The output URL expired before the upload; the detail names the `dlb://` key the result was kept at.
  public static let outputURLExpired = Problem("output-url-expired", nil, "Output URL expired")
  /// ffmpeg failed on valid media, or the job was interrupted too often.
  public static let processingFailed = Problem("processing-failed", nil, "Processing failed", retryable: true)
  /// A run stopped because its job was cancelled (the job ends `Cancelled`).
  public static let cancelled = Problem("cancelled", nil, "Cancelled")

  /// Every problem Ferry reports.
  public static let catalogue: [Problem] = [
    .invalidRequest, .outputURLExpiresTooSoon, .unauthorized, .accessTokenExpired, .forbidden, .notFound,
    .methodNotAllowed,
    .requestTimeout, .conflict, .payloadTooLarge, .uriTooLong, .unsupportedMediaType, .expectationFailed,
    .idempotencyKeyReused, .tooManyRequests, .headersTooLarge, .internalError, .notImplemented, .notReady,
    .httpVersionNotSupported,
    .inputFileAccess, .outputFileAccess, .networkPolicy, .inputTooLarge, .unsupportedMedia, .outputURLExpired,
    .processingFailed, .cancelled,
  ]
}

/// An error that carries its own meaning: the problem it is, what happened in this case, and extra answer
/// headers. The HTTP server turns any such error into its answer, and a job's error is made from it, so no
/// catch site decides a status or a title (the way Hummingbird's `HTTPResponseError` works).
public protocol ProblemError: Error {
  var problem: Problem { get }
  /// What went wrong in this case and what the client can do; never a secret.
  var detail: String { get }
  /// Extra answer headers (`Allow`, `Retry-After`, `WWW-Authenticate`); none by default.
  var headers: [String: String] { get }
}

extension ProblemError {
  public var headers: [String: String] { [:] }
}
