/// An error with its HTTP meaning decided where it is defined: status, problem `type`, public title and detail.
///
/// Every error that reaches the server is turned into an `application/problem+json` answer in one place
/// (`Response.problem(_:)`); errors of other types become a logged 500 that names the request id.
public struct HTTPError: Error, Sendable, Equatable {
  /// The answer's status.
  public var status: HTTPStatus
  /// The problem type, a path such as `/problems/invalid-request`.
  public var type: String
  /// A short, fixed summary of the problem type.
  public var title: String
  /// What went wrong in this case and what the client can do; never a secret.
  public var detail: String
  /// Extra answer headers (`Allow`, `Retry-After`, `WWW-Authenticate`).
  public var headers: [String: String]

  public init(status: HTTPStatus, type: String, title: String, detail: String, headers: [String: String] = [:]) {
    self.status = status
    self.type = type
    self.title = title
    self.detail = detail
    self.headers = headers
  }
}

/// Errors of other domains adopt this to choose their own HTTP answer.
public protocol HTTPResponseError: Error {
  /// The HTTP answer for this error.
  var httpError: HTTPError { get }
}

extension HTTPError: HTTPResponseError {
  public var httpError: HTTPError { self }
}

extension HTTPError {
  /// 400: the request is malformed or invalid; `detail` names the field or the syntax at fault.
  public static func badRequest(_ detail: String) -> HTTPError {
    HTTPError(status: .badRequest, type: "/problems/invalid-request", title: "Invalid request", detail: detail)
  }

  /// 404: nothing is served at this path.
  public static func notFound(_ detail: String = "No resource at this path.") -> HTTPError {
    HTTPError(status: .notFound, type: "/problems/not-found", title: "Not found", detail: detail)
  }

  /// 405 with `Allow` listing the methods the path accepts.
  public static func methodNotAllowed(_ method: HTTPMethod, allow: [HTTPMethod]) -> HTTPError {
    let list = allow.map(\.rawValue).joined(separator: ", ")
    return HTTPError(
      status: .methodNotAllowed, type: "/problems/method-not-allowed", title: "Method not allowed",
      detail: "\(method.rawValue) is not allowed here; use \(list).", headers: ["Allow": list])
  }

  /// 408: the client did not send a complete request in time.
  public static func requestTimeout(_ detail: String) -> HTTPError {
    HTTPError(status: .requestTimeout, type: "/problems/request-timeout", title: "Request timeout", detail: detail)
  }

  /// 413: the body is larger than this route accepts.
  public static func payloadTooLarge(limit: Int64) -> HTTPError {
    HTTPError(
      status: .payloadTooLarge, type: "/problems/payload-too-large", title: "Payload too large",
      detail: "The request body is larger than this endpoint accepts (\(limit) bytes).")
  }

  /// 414: the request line is longer than the server reads.
  public static func uriTooLong(limit: Int) -> HTTPError {
    HTTPError(
      status: .uriTooLong, type: "/problems/uri-too-long", title: "URI too long",
      detail: "The request line is longer than \(limit) bytes.")
  }

  /// 415: the body's media type is not one this route reads.
  public static func unsupportedMediaType(_ detail: String) -> HTTPError {
    HTTPError(
      status: .unsupportedMediaType, type: "/problems/unsupported-media-type", title: "Unsupported media type",
      detail: detail)
  }

  /// 417: an `Expect` value other than `100-continue`.
  public static func expectationFailed(_ value: String) -> HTTPError {
    HTTPError(
      status: .expectationFailed, type: "/problems/expectation-failed", title: "Expectation failed",
      detail: "Only \"Expect: 100-continue\" is supported.")
  }

  /// 431: too many header fields or too many header bytes.
  public static func headerFieldsTooLarge(_ detail: String) -> HTTPError {
    HTTPError(
      status: .headerFieldsTooLarge, type: "/problems/headers-too-large", title: "Request header fields too large",
      detail: detail)
  }

  /// 500: a bug; the detail names the request id so the operator can find the logged cause.
  public static func internalError(requestID: String) -> HTTPError {
    HTTPError(
      status: .internalServerError, type: "/problems/internal-error", title: "Internal error",
      detail: "An unexpected error occurred; the server log has it under request id \(requestID).")
  }

  /// 501: a transfer coding the server does not implement.
  public static func notImplemented(_ detail: String) -> HTTPError {
    HTTPError(status: .notImplemented, type: "/problems/not-implemented", title: "Not implemented", detail: detail)
  }

  /// 503: the server cannot take this request now (connection cap, not ready).
  public static func serviceUnavailable(_ detail: String) -> HTTPError {
    HTTPError(status: .serviceUnavailable, type: "/problems/not-ready", title: "Service unavailable", detail: detail)
  }

  /// 505: a protocol version other than HTTP/1.0 and HTTP/1.1.
  public static func versionNotSupported(_ version: String) -> HTTPError {
    HTTPError(
      status: .httpVersionNotSupported, type: "/problems/http-version-not-supported",
      title: "HTTP version not supported", detail: "\(version) is not supported; use HTTP/1.1.")
  }
}
