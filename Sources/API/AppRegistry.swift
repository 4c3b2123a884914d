import Crypto

/// An application allowed to use the API: its key (public, names the owner of jobs and files), its secret and
/// an optional legacy `x-api-key` value. Secrets are compared in constant time and never printed.
public struct AppCredentials: Sendable, Equatable {
  public var key: String
  public var secret: String
  public var apiKey: String?

  public init(key: String, secret: String, apiKey: String? = nil) {
    self.key = key
    self.secret = secret
    self.apiKey = apiKey
  }
}

/// The configured applications.
public struct AppRegistry: Sendable {
  public let apps: [AppCredentials]

  public init(_ apps: [AppCredentials]) {
    self.apps = apps
  }

  /// The app whose key and secret these are, or nil. Every app's secret is compared (in constant time), so
  /// timing says nothing about which keys exist.
  public func app(key: String, secret: String) -> AppCredentials? {
    var found: AppCredentials?
    for app in apps where ConstantTime.equal(app.secret, secret) && app.key == key { found = app }
    return found
  }

  /// The app with this legacy API key, or nil.
  public func app(apiKey: String) -> AppCredentials? {
    var found: AppCredentials?
    for app in apps {
      if let candidate = app.apiKey, ConstantTime.equal(candidate, apiKey) { found = app }
    }
    return found
  }

  /// The app with this key (from a verified token's subject), or nil.
  public func app(key: String) -> AppCredentials? {
    apps.first { $0.key == key }
  }
}

/// Comparison whose time does not depend on where two secrets differ.
enum ConstantTime {
  static func equal(_ a: String, _ b: String) -> Bool {
    equal(Array(a.utf8), Array(b.utf8))
  }

  static func equal(_ a: [UInt8], _ b: [UInt8]) -> Bool {
    // Compare digests: equal lengths whatever the inputs, so the length is not leaked either.
    let x = SHA256.hash(a)
    let y = SHA256.hash(b)
    var difference: UInt8 = 0
    for i in 0..<32 { difference |= x[i] ^ y[i] }
    return difference == 0
  }
}
