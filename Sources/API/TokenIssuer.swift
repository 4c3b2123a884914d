import Crypto
import Foundation
import JSON

/// Access tokens: HS256 JWTs (`sub` = app key, `iat`, `exp`) under a key derived from the master key. Clients
/// never decode them; Ferry checks the signature in constant time and the expiry.
public struct TokenIssuer: Sendable {
  private let key: [UInt8]
  /// The longest lifetime a client may ask for.
  public static let maxLifetime = 86400

  public init(masterKey: [UInt8]) {
    key = HKDF.sha256(key: masterKey, info: Array("ferry access tokens v1".utf8))
  }

  private static let header = Base64URL.encode(Array(#"{"alg":"HS256","typ":"JWT"}"#.utf8))

  /// A token for `app` valid for `lifetime` seconds from `now`.
  public func issue(app: String, lifetime: Int, now: Date) -> String {
    let issued = Int(now.timeIntervalSince1970)
    let claims: JSONValue = .object(["sub": .string(app), "iat": .int(issued), "exp": .int(issued + lifetime)])
    let signingInput = Self.header + "." + Base64URL.encode(Array(claims.description.utf8))
    return signingInput + "." + Base64URL.encode(HMAC.sha256(key: key, data: Array(signingInput.utf8)))
  }

  /// What a presented token is worth.
  public enum Verdict: Sendable, Equatable {
    /// Signed by this server and unexpired: the app it was issued to, and when it expires.
    case valid(app: String, expiry: Date)
    /// Signed by this server, for an app, and past its expiry: the client should get a new one.
    case expired(app: String)
    /// Not a token this server issued (malformed, another key's signature, no app).
    case invalid
  }

  /// The app key of a valid, unexpired token, or nil.
  public func verify(_ token: String, now: Date) -> String? {
    if case .valid(let app, _) = verdict(token, now: now) { return app }
    return nil
  }

  /// Whether `token` is one of ours and, if so, whether it is still good at `now`. An expired token is told
  /// apart only once its signature holds, so the answer says nothing about tokens this server never issued.
  public func verdict(_ token: String, now: Date) -> Verdict {
    let parts = token.split(separator: ".", omittingEmptySubsequences: false)
    guard parts.count == 3, parts[0] == Self.header, let signature = Base64URL.decode(parts[2]) else { return .invalid }
    let expected = HMAC.sha256(key: key, data: Array("\(parts[0]).\(parts[1])".utf8))
    guard ConstantTime.equal(signature, expected), let payload = Base64URL.decode(parts[1]),
      let claims = try? JSONValue.parse(Data(payload)).object, case .string(let app)? = claims["sub"],
      let expiry = claims["exp"]?.number
    else { return .invalid }
    guard expiry > now.timeIntervalSince1970 else { return .expired(app: app) }
    return .valid(app: app, expiry: Date(timeIntervalSince1970: expiry))
  }
}

/// Base64 with the URL alphabet and no padding (RFC 7515).
enum Base64URL {
  static func encode(_ bytes: [UInt8]) -> String {
    Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
      .replacingOccurrences(of: "=", with: "")
  }

  static func decode(_ text: some StringProtocol) -> [UInt8]? {
    var base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
    guard !base64.contains("=") else { return nil }
    base64 += String(repeating: "=", count: (4 - base64.count % 4) % 4)
    return Data(base64Encoded: base64).map(Array.init)
  }
}
