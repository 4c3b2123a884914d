import Problems

/// Cross-origin resource sharing (CORS) for browser apps served from other origins: which origins may read
/// the answers of which paths, what a preflight allows, and which answer headers a page's script may read.
///
/// The server applies it to every answer on the paths it covers, errors included (a page must be able to read
/// a 401 or a 429 as well as a 200), and answers a preflight (`OPTIONS` on a covered path) with 204 before any
/// route, credential check or rate limit is involved: a browser sends no credentials with a preflight. It is
/// not access control: a request from an origin that is not allowed is still answered, only without the
/// headers that let a browser hand the answer to the page.
public struct CrossOriginPolicy: Sendable {
  /// The origins whose pages may read answers.
  public enum Origins: Sendable, Equatable {
    /// Any origin (`Access-Control-Allow-Origin: *`): tokens travel in a header the page sets, not in cookies,
    /// so a page on another origin gains nothing it could not do with the token itself.
    case any
    /// Only these (`https://app.example:8443`, compared without case): the request's `Origin` is echoed when it
    /// is one of them, and every answer on a covered path says `Vary: Origin` for caches.
    case only(Set<String>)
  }

  /// Who may read answers.
  public var origins: Origins
  /// The paths covered: an entry ending in `/` covers every path under it (`/media/`), any other entry the path
  /// itself (`/v1/auth/token`).
  public var paths: [String]
  /// The request headers a preflight allows a page to send.
  public var allowedHeaders: [String]
  /// The answer headers a page's script may read besides the always-readable ones (`Content-Type`, ...).
  public var exposedHeaders: [String]
  /// How long a browser may keep a preflight's answer, in seconds (Chromium keeps at most 7200).
  public var maxAge: Int

  public init(
    origins: Origins, paths: [String],
    allowedHeaders: [String] = ["Authorization", "Content-Type", "x-api-key", "Idempotency-Key", "X-Request-Id"],
    exposedHeaders: [String] = ["Location", "Retry-After", "WWW-Authenticate", "X-Request-Id", "Content-Range"],
    maxAge: Int = 7200
  ) {
    if case .only(let list) = origins {
      self.origins = .only(Set(list.map { $0.lowercasedASCII() }))
    } else {
      self.origins = origins
    }
    self.paths = paths
    self.allowedHeaders = allowedHeaders
    self.exposedHeaders = exposedHeaders
    self.maxAge = maxAge
  }

  /// Whether `path` (percent-encoded, without the query) is covered.
  public func covers(_ path: Substring) -> Bool {
    paths.contains { $0.hasSuffix("/") ? path.hasPrefix($0) : path == $0 }
  }

  /// The `Access-Control-Allow-Origin` value for a request from `origin`, or nil when that origin may not read.
  public func allowOrigin(_ origin: String) -> String? {
    switch origins {
    case .any: "*"
    case .only(let list): list.contains(origin.lowercasedASCII()) ? origin : nil
    }
  }

  /// Adds the headers that let a page on an allowed origin read `response`, an answer to a request for `path`
  /// with `headers`; nothing for paths not covered.
  public func decorate(_ response: inout Response, path: Substring, headers: HTTPHeaders) {
    guard covers(path) else { return }
    if case .only = origins { response.headers.add("Vary", "Origin") }
    guard let origin = headers["Origin"], let allowed = allowOrigin(origin) else { return }
    response.headers.replace("Access-Control-Allow-Origin", allowed)
    response.headers.replace("Access-Control-Expose-Headers", exposedHeaders.joined(separator: ", "))
  }

  /// The answer to `OPTIONS` on a covered path whose routes take `allow`: 204 with `Allow`, and for a browser's
  /// preflight (`Origin` and `Access-Control-Request-Method`) the methods, headers and lifetime it may use,
  /// or a 403 when its origin may not read answers here. `decorate` adds the origin headers.
  public func preflight(headers: HTTPHeaders, allow: [HTTPMethod]) -> Response {
    let methods = allow.map(\.rawValue).joined(separator: ", ")
    var response = Response(status: .noContent, headers: ["Allow": methods + ", OPTIONS"])
    guard let origin = headers["Origin"], headers.contains("Access-Control-Request-Method") else { return response }
    guard allowOrigin(origin) != nil else {
      return .problem(
        HTTPError(
          .forbidden,
          detail: "pages from \(origin) may not call this server (the operator lists the origins that may)"))
    }
    response.headers.add("Access-Control-Allow-Methods", methods)
    response.headers.add("Access-Control-Allow-Headers", allowedHeaders.joined(separator: ", "))
    response.headers.add("Access-Control-Max-Age", String(maxAge))
    return response
  }
}
