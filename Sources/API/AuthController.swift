import Foundation
import HTTPServer
import JSON
import Problems

/// `POST /v1/auth/token` (and the legacy `/media/oauth2/token`): client credentials in Basic auth for an
/// access token.
public struct AuthController: Sendable {
  public let apps: AppRegistry
  public let tokens: TokenIssuer
  /// `auth.token_ttl_s`.
  public let defaultLifetime: Int
  private let now: @Sendable () -> Date

  public init(
    apps: AppRegistry, tokens: TokenIssuer, defaultLifetime: Int, now: @escaping @Sendable () -> Date = { Date() }
  ) {
    self.apps = apps
    self.tokens = tokens
    self.defaultLifetime = defaultLifetime
    self.now = now
  }

  public func register(in router: inout Router) {
    for path in ["/v1/auth/token", "/media/oauth2/token"] {
      // The app's key and secret are checked from the head, before the form is read.
      router.post(path, body: .buffered(limit: 16384), check: { request in _ = try self.app(request) }) { request in
        try self.token(request)
      }
    }
  }

  func token(_ request: Request) throws -> Response {
    let app = try app(request)
    let form = FormDecoding.pairs(String(decoding: request.body.bytes, as: UTF8.self))
    let grant = form.first { $0.name == "grant_type" }?.value
    guard grant == "client_credentials" else {
      throw HTTPError.badRequest("grant_type: must be client_credentials")
    }
    var lifetime = defaultLifetime
    if let asked = form.first(where: { $0.name == "expires_in" })?.value {
      // A whole number past Int's range asks for longer than the maximum, like any other long ask.
      let wholeNumber = !asked.isEmpty && asked.utf8.allSatisfy { $0 >= 0x30 && $0 <= 0x39 }
      guard let seconds = Int(asked) ?? (wholeNumber ? Int.max : nil), seconds > 0 else {
        throw HTTPError.badRequest("expires_in: must be a whole number of seconds above 0")
      }
      lifetime = min(seconds, TokenIssuer.maxLifetime)
    }
    let token = tokens.issue(app: app.key, lifetime: lifetime, now: now())
    let body: JSONValue = .object([
      "access_token": .string(token), "token_type": "Bearer", "expires_in": .int(lifetime),
    ])
    return .json(bytes: Array(body.description.utf8))
  }

  /// The app whose key and secret the request's Basic credentials give; a 401 otherwise.
  func app(_ request: Request) throws(HTTPError) -> AppCredentials {
    guard let authorization = request.headers["Authorization"],
      authorization.lowercased().hasPrefix("basic "),
      let decoded = Data(base64Encoded: String(authorization.dropFirst(6)).trimmingCharacters(in: .whitespaces)),
      let pair = String(data: decoded, encoding: .utf8), let colon = pair.firstIndex(of: ":")
    else {
      throw HTTPError(
        .unauthorized, detail: "send the app key and secret as Authorization: Basic base64(key:secret)",
        headers: ["WWW-Authenticate": #"Basic realm="ferry""#])
    }
    let key = String(pair[..<colon])
    let secret = String(pair[pair.index(after: colon)...])
    guard let app = apps.app(key: key, secret: secret) else {
      throw HTTPError(
        .unauthorized, detail: "the app key or secret is wrong", headers: ["WWW-Authenticate": #"Basic realm="ferry""#])
    }
    return app
  }
}
