import Foundation
import HTTPServer
import Problems
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

  /// A route's check before its body is read (`Router.add(check:)`): the credentials in the head, without
  /// taking from the rate (the handler's `authenticate` does that once).
  @Sendable public func check(_ request: Request) throws {
    _ = try identify(request)
  }

  /// The calling app's key, or a 401 problem answer with `WWW-Authenticate`.
  func identify(_ request: Request) throws(HTTPError) -> String {
    if let authorization = request.headers["Authorization"] {
      // A client polling a job sends the same header every time: look the whole value up first.
      let now = now()
      if let app = verified.app(for: authorization, now: now) { return app }
      // Header values arrive trimmed; spaces or tabs after the scheme are skipped.
      let bytes = authorization.utf8
      guard bytes.count > 7, zip(bytes.prefix(6), Self.bearer).allSatisfy({ $0 | 0x20 == $1 }),
        bytes.dropFirst(6).first == UInt8(ascii: " ")
      else {
        throw Self.unauthorized("use Authorization: Bearer <token> (from POST /v1/auth/token) or x-api-key")
      }
      let token = String(Substring(bytes.dropFirst(7).drop { $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\t") }))
      switch tokens.verdict(token, now: now) {
      case .valid(let app, let expiry) where apps.app(key: app) != nil:
        verified.remember(authorization, app: app, expiry: expiry)
        return app
      case .expired(let app) where apps.app(key: app) != nil:
        // Its own type: Dolby's browser samples renew the token on this type only.
        throw HTTPError(
          .accessTokenExpired, detail: "the access token has expired; get a new one from POST /v1/auth/token",
          headers: [
            "WWW-Authenticate":
              #"Bearer realm="ferry", error="invalid_token", error_description="The access token expired""#
          ])
      default:
        throw Self.unauthorized("the access token is not valid; get one from POST /v1/auth/token")
      }
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
      .unauthorized, detail: detail,
      headers: ["WWW-Authenticate": #"Bearer realm="ferry""#])
  }
}

/// A bounded memory of verified `Authorization` values (emptied when full: tokens are cheap to verify again).
final class VerifiedTokens: Sendable {
  /// An `Authorization` value, hashed by its last 16 bytes only: those are the token's HMAC signature, so
  /// they differ between tokens, and hashing the whole 200-byte value cost more than the rest of the lookup.
  /// Only values whose signature verified are stored, so a client cannot fill one hash bucket on purpose;
  /// equality still compares the whole value.
  struct Key: Hashable {
    let value: String

    static func == (a: Key, b: Key) -> Bool { a.value == b.value }

    func hash(into hasher: inout Hasher) {
      let utf8 = value.utf8
      let hashed: Void? = utf8.withContiguousStorageIfAvailable { bytes in
        hasher.combine(bytes: UnsafeRawBufferPointer(UnsafeBufferPointer(rebasing: bytes.suffix(16))))
      }
      if hashed == nil {
        for byte in utf8.suffix(16) { hasher.combine(byte) }
      }
    }
  }

  private let entries = Mutex<[Key: (app: String, expiry: Date)]>([:])
  static let capacity = 10_000

  func app(for authorization: String, now: Date) -> String? {
    guard let entry = entries.withLock({ $0[Key(value: authorization)] }), entry.expiry > now else { return nil }
    return entry.app
  }

  func remember(_ authorization: String, app: String, expiry: Date) {
    entries.withLock { entries in
      if entries.count >= Self.capacity { entries.removeAll(keepingCapacity: true) }
      entries[Key(value: authorization)] = (app, expiry)
    }
  }
}
