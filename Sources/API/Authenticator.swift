import Foundation
import HTTPServer

/// Who is calling a `/media/*` route: a Bearer token from `/v1/auth/token`, or a legacy `x-api-key`.
public struct Authenticator: Sendable {
  public let apps: AppRegistry
  public let tokens: TokenIssuer
  private let now: @Sendable () -> Date

  public init(apps: AppRegistry, tokens: TokenIssuer, now: @escaping @Sendable () -> Date = { Date() }) {
    self.apps = apps
    self.tokens = tokens
    self.now = now
  }

  /// The calling app's key, or a 401 problem answer with `WWW-Authenticate`.
  public func authenticate(_ request: Request) throws(HTTPError) -> String {
    if let authorization = request.headers["Authorization"] {
      let parts = authorization.split(separator: " ", maxSplits: 1)
      guard parts.count == 2, parts[0].lowercased() == "bearer" else {
        throw Self.unauthorized("use Authorization: Bearer <token> (from POST /v1/auth/token) or x-api-key")
      }
      guard let app = tokens.verify(String(parts[1]).trimmingCharacters(in: .whitespaces), now: now()),
        apps.app(key: app) != nil
      else {
        throw Self.unauthorized("the access token is invalid or expired; get a new one from POST /v1/auth/token")
      }
      return app
    }
    if let apiKey = request.headers["x-api-key"] {
      guard let app = apps.app(apiKey: apiKey) else { throw Self.unauthorized("the x-api-key is not valid") }
      return app.key
    }
    throw Self.unauthorized("credentials are required: Authorization: Bearer <token> or x-api-key")
  }

  static func unauthorized(_ detail: String) -> HTTPError {
    HTTPError(
      status: .unauthorized, type: "/problems/unauthorized", title: "Unauthorized", detail: detail,
      headers: ["WWW-Authenticate": #"Bearer realm="ferry""#])
  }
}
