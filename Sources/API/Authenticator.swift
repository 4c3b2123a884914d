import Foundation
import HTTPServer
import Synchronization

/// Who is calling a `/media/*` route: a Bearer token from `/v1/auth/token`, or a legacy `x-api-key`.
public struct Authenticator: Sendable {
  public let apps: AppRegistry
  public let tokens: TokenIssuer
  /// The per-app request budget on `/media/*`, applied once the caller is known.
  public let limiter: RateLimiter?
  private let now: @Sendable () -> Date
  /// Tokens already verified, with their app and expiry: a client polling a job presents the same token
  /// many times, and checking its signature and claims each time costs more than the rest of the lookup.
  private let verified = VerifiedTokens()

  public init(
    apps: AppRegistry, tokens: TokenIssuer, limiter: RateLimiter? = nil,
    now: @escaping @Sendable () -> Date = { Date() }
  ) {
    self.apps = apps
    self.tokens = tokens
    self.limiter = limiter
    self.now = now
  }

  /// The calling app's key, once it is known and within its rate; else a 401 problem answer with
  /// `WWW-Authenticate`, or a 429 with `Retry-After`.
  public func authenticate(_ request: Request) throws(HTTPError) -> String {
    let app = try identify(request)
    try limiter?.take(app)
    return app
  }

  /// The calling app's key, or a 401 problem answer with `WWW-Authenticate`.
  func identify(_ request: Request) throws(HTTPError) -> String {
    if let authorization = request.headers["Authorization"] {
      // Byte-level: the status route calls this on every poll. Header values arrive trimmed; spaces or tabs
      // after the scheme are skipped.
      let bytes = authorization.utf8
      guard bytes.count > 7, zip(bytes.prefix(6), Self.bearer).allSatisfy({ $0 | 0x20 == $1 }),
        bytes.dropFirst(6).first == UInt8(ascii: " ")
      else {
        throw Self.unauthorized("use Authorization: Bearer <token> (from POST /v1/auth/token) or x-api-key")
      }
      let token = String(Substring(bytes.dropFirst(7).drop { $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\t") }))
      let now = now()
      if let app = verified.app(for: token, now: now) { return app }
      guard let (app, expiry) = tokens.verifiedClaims(token, now: now), apps.app(key: app) != nil else {
        throw Self.unauthorized("the access token is invalid or expired; get a new one from POST /v1/auth/token")
      }
      verified.remember(token, app: app, expiry: expiry)
      return app
    }
    if let apiKey = request.headers["x-api-key"] {
      guard let app = apps.app(apiKey: apiKey) else { throw Self.unauthorized("the x-api-key is not valid") }
      return app.key
    }
    throw Self.unauthorized("credentials are required: Authorization: Bearer <token> or x-api-key")
  }

  private static let bearer: [UInt8] = Array("bearer".utf8)

  static func unauthorized(_ detail: String) -> HTTPError {
    HTTPError(
      status: .unauthorized, type: "/problems/unauthorized", title: "Unauthorized", detail: detail,
      headers: ["WWW-Authenticate": #"Bearer realm="ferry""#])
  }
}

/// A bounded memory of verified tokens (emptied when full: tokens are cheap to verify again).
final class VerifiedTokens: Sendable {
  private let entries = Mutex<[String: (app: String, expiry: Date)]>([:])
  static let capacity = 10_000

  func app(for token: String, now: Date) -> String? {
    guard let entry = entries.withLock({ $0[token] }), entry.expiry > now else { return nil }
    return entry.app
  }

  func remember(_ token: String, app: String, expiry: Date) {
    entries.withLock { entries in
      if entries.count >= Self.capacity { entries.removeAll(keepingCapacity: true) }
      entries[token] = (app, expiry)
    }
  }
}
