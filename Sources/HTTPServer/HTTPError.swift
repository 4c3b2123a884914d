import Problems

/// An error answered at once: a catalogued problem (its status, type and title), this case's detail, and extra
/// answer headers. Every error that reaches the server is turned into an `application/problem+json` answer in
/// one place (`Response.problem(_:)`): any `ProblemError` says its own; other errors become a logged 500 that
/// names the request id.
public struct HTTPError: ProblemError, Sendable, Equatable {
  public var problem: Problem
  /// What went wrong in this case and what the client can do; never a secret.
  public var detail: String
  /// Extra answer headers (`Allow`, `Retry-After`, `WWW-Authenticate`).
  public var headers: [String: String]

  public init(_ problem: Problem, detail: String, headers: [String: String] = [:]) {
    self.problem = problem
    self.detail = detail
    self.headers = headers
  }

  /// The answer's status (a 500 for a problem that has none: only a bug sends one to a client).
  public var status: HTTPStatus { HTTPStatus(problem.status ?? 500) }
}

extension HTTPError {
  /// 400: the request is malformed or invalid; `detail` names the field or the syntax at fault.
  public static func badRequest(_ detail: String) -> HTTPError { HTTPError(.invalidRequest, detail: detail) }

  /// 404: nothing is served at this path.
  public static func notFound(_ detail: String = "No resource at this path.") -> HTTPError {
    HTTPError(.notFound, detail: detail)
  }

  /// 405 with `Allow` listing the methods the path accepts.
  public static func methodNotAllowed(_ method: HTTPMethod, allow: [HTTPMethod]) -> HTTPError {
    let list = allow.map(\.rawValue).joined(separator: ", ")
    return HTTPError(
      .methodNotAllowed, detail: "\(method.rawValue) is not allowed here; use \(list).", headers: ["Allow": list])
  }

  /// 408: the client did not send a complete request in time.
  public static func requestTimeout(_ detail: String) -> HTTPError { HTTPError(.requestTimeout, detail: detail) }

  /// 413: the body is larger than this route accepts.
  public static func payloadTooLarge(limit: Int64) -> HTTPError {
    HTTPError(.payloadTooLarge, detail: "The request body is larger than this endpoint accepts (\(limit) bytes).")
  }

  /// 414: the request line is longer than the server reads.
  public static func uriTooLong(limit: Int) -> HTTPError {
    HTTPError(.uriTooLong, detail: "The request line is longer than \(limit) bytes.")
  }

  /// 415: the body is not of a media type this route reads.
  public static func unsupportedMediaType(_ detail: String) -> HTTPError {
    HTTPError(.unsupportedMediaType, detail: detail)
  }

  /// 417: an `Expect` value other than `100-continue`.
  public static func expectationFailed(_ value: String) -> HTTPError {
    HTTPError(.expectationFailed, detail: "Only \"Expect: 100-continue\" is supported.")
  }

  /// 431: too many header fields or too many header bytes.
  public static func headerFieldsTooLarge(_ detail: String) -> HTTPError { HTTPError(.headersTooLarge, detail: detail) }

  /// 500: a bug; the detail names the request id so the operator can find the logged cause.
  public static func internalError(requestID: String) -> HTTPError {
    HTTPError(
      .internalError,
      detail: "An unexpected error occurred; the server log has it under request id \(requestID).")
  }

  /// 501: a transfer coding the server does not implement.
  public static func notImplemented(_ detail: String) -> HTTPError { HTTPError(.notImplemented, detail: detail) }

  /// 503: the server cannot take this request now (connection cap, not ready).
  public static func serviceUnavailable(_ detail: String) -> HTTPError { HTTPError(.notReady, detail: detail) }

  /// 505: a protocol version other than HTTP/1.0 and HTTP/1.1.
  public static func versionNotSupported(_ version: String) -> HTTPError {
    HTTPError(.httpVersionNotSupported, detail: "\(version) is not supported; use HTTP/1.1.")
  }
}
