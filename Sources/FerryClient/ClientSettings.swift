import Foundation

/// Where the client subcommands talk and as whom: `--server`, `--key`, `--secret`, else `FERRY_SERVER`,
/// `FERRY_APP_KEY`, `FERRY_APP_SECRET`; the server defaults to `ferry serve`'s own default address.
public struct ClientSettings: Sendable {
  /// The server's base URL, without a trailing slash.
  public var server: String
  public var key: String
  public var secret: String

  /// `ferry serve`'s embedded default listen address.
  public static let defaultServer = "http://127.0.0.1:8080"

  public init(server: String, key: String, secret: String) {
    self.server = server
    self.key = key
    self.secret = secret
  }

  /// Settings from options, falling back to the environment; a usage error names what is missing.
  public static func resolve(
    server: String?, key: String?, secret: String?,
    environment: [String: String] = ProcessInfo.processInfo.environment
  ) throws(ClientError) -> ClientSettings {
    func pick(_ option: String?, _ variable: String) -> String? {
      if let option, !option.isEmpty { return option }
      if let value = environment[variable], !value.isEmpty { return value }
      return nil
    }
    var base = pick(server, "FERRY_SERVER") ?? defaultServer
    while base.hasSuffix("/") { base.removeLast() }
    guard let components = URLComponents(string: base), let scheme = components.scheme?.lowercased(),
      scheme == "http" || scheme == "https", components.host?.isEmpty == false
    else {
      // Not echoed: a mistyped URL may still carry user-info.
      throw ClientError(.usage, "the server must be an http(s) URL (--server or FERRY_SERVER)")
    }
    guard components.user == nil, components.password == nil, components.query == nil else {
      throw ClientError(.usage, "the server URL takes no user-info and no query (--server or FERRY_SERVER)")
    }
    guard let key = pick(key, "FERRY_APP_KEY") else {
      throw ClientError(.usage, "no app key: pass --key or set FERRY_APP_KEY")
    }
    guard let secret = pick(secret, "FERRY_APP_SECRET") else {
      throw ClientError(.usage, "no app secret: pass --secret or set FERRY_APP_SECRET")
    }
    return ClientSettings(server: base, key: key, secret: secret)
  }
}
