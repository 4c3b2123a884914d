import Foundation

/// Where the client subcommands talk and as whom: `--server`, `--key`, `--secret`, else `FERRY_SERVER`,
/// `FERRY_APP_KEY`, `FERRY_APP_SECRET` (and `--ca-file`, `FERRY_CA_FILE` for a server whose certificate
/// a private CA issued); the server defaults to `ferry serve`'s own default address.
public struct ClientSettings: Sendable {
  /// The server's base URL, without a trailing slash.
  public var server: String
  public var key: String
  public var secret: String
  /// PEM file of the CAs an https server's certificate is checked against (a private CA); nil: the system's.
  public var caFile: String?

  /// `ferry serve`'s embedded default listen address.
  public static let defaultServer = "http://127.0.0.1:8080"

  public init(server: String, key: String, secret: String, caFile: String? = nil) {
    self.server = server
    self.key = key
    self.secret = secret
    self.caFile = caFile
  }

  /// Settings from options, falling back to the environment; a usage error names what is missing.
  public static func resolve(
    server: String?, key: String?, secret: String?, caFile: String? = nil,
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
    let ca = pick(caFile, "FERRY_CA_FILE")
    if let ca, !FileManager.default.isReadableFile(atPath: ca) {
      throw ClientError(.usage, "the CA file \(ca) is not a readable file (--ca-file or FERRY_CA_FILE)")
    }
    return ClientSettings(server: base, key: key, secret: secret, caFile: ca)
  }
}
