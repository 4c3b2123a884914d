import Foundation
import JSON
import Testing

@testable import Ferry

private func load(_ json: String? = nil, env: [String: String] = [:]) throws -> ConfigurationLoader.Loaded {
  var file: String?
  if let json {
    file = NSTemporaryDirectory() + "ferry-config-\(UUID().uuidString).json"
    try json.write(toFile: file!, atomically: true, encoding: .utf8)
  }
  defer { if let file { try? FileManager.default.removeItem(atPath: file) } }
  return try ConfigurationLoader(environment: env, cores: 2).load(file: file)
}

/// The problem messages for a configuration, or [] when it loads.
private func problems(_ json: String? = nil, env: [String: String] = [:]) -> [String] {
  do {
    _ = try load(json, env: env)
    return []
  } catch let error as ConfigurationLoader.Problems {
    return error.messages
  } catch {
    return ["unexpected \(error)"]
  }
}

@Suite struct ConfigurationTests {
  @Test func defaultsMatchTheOperatorContract() throws {
    let config = try load().configuration
    #expect(config.server.host == "127.0.0.1")
    #expect(config.server.port == 8080)
    #expect(config.server.maxConnections == 4096)
    #expect(config.server.maxConnectionsPerAddress == 1024)
    #expect(config.server.headerTimeout == .seconds(10))
    #expect(config.server.idleTimeout == .seconds(60))
    #expect(config.server.shutdownGrace == .seconds(30))
    #expect(config.server.maxJSONBodyBytes == 1_048_576)
    #expect(config.server.corsAllowedOrigins == ["*"])
    #expect(config.dataDirectory == FileManager.default.currentDirectoryPath + "/data")
    #expect(config.store.path == config.dataDirectory + "/ferry.db")
    #expect(config.workerConcurrency == 2, "defaults to the number of cores")
    #expect(config.transfer.maxInputBytes == 10_737_418_240)
    #expect(config.publicURL(boundPort: 8080) == "http://127.0.0.1:8080")
    #expect(config.storage.retention == .seconds(48 * 3600))
    #expect(config.auth.apps.isEmpty)
  }

  @Test func onePerAppWorkerCap_leavesAWorkerForOtherApps_onlyWhenThereAreOtherApps() throws {
    let two = #"[{"key": "k1", "secret": "s1"}, {"key": "k2", "secret": "s2"}]"#
    #expect(try load().configuration.workerPerAppLimit == nil, "no apps: nothing to share")
    #expect(
      try load(env: ["FERRY_AUTH_APPS": #"[{"key": "k1", "secret": "s1"}]"#]).configuration.workerPerAppLimit == nil)
    #expect(try load(env: ["FERRY_AUTH_APPS": two]).configuration.workerPerAppLimit == 1, "2 cores: one each")
    let eight = try load(env: ["FERRY_AUTH_APPS": two, "FERRY_WORKERS_CONCURRENCY": "8"]).configuration
    #expect(eight.workerPerAppLimit == 7)
    #expect(try load(env: ["FERRY_WORKERS_PER_APP_MAX": "3"]).configuration.workerPerAppLimit == 3)
    #expect(problems(env: ["FERRY_WORKERS_PER_APP_MAX": "0"]).contains { $0.contains("workers.per_app_max") })
  }

  @Test func fileValuesOverrideDefaultsAndEnvironmentOverridesTheFile() throws {
    let json = #"{"server": {"port": 9000, "host": "::1"}, "logging": {"level": "debug"}, "s3": {"path_style": true}}"#
    let fromFile = try load(json).configuration
    #expect(fromFile.server.port == 9000)
    #expect(fromFile.publicURL(boundPort: 9000) == "http://[::1]:9000")
    #expect(fromFile.logLevel == .debug)
    #expect(fromFile.s3.pathStyle)
    let env = [
      "FERRY_SERVER_PORT": "0", "FERRY_S3_PATH_STYLE": "false",
      "FERRY_NETWORK_ALLOW": #"["127.0.0.1/32", "[::1]:9000"]"#,
      "FERRY_SERVER_HEADER_TIMEOUT_S": "0.5", "FERRY_STORAGE_S3_BUCKET": "media",
      "FERRY_AUTH_APPS": #"[{"key": "k1", "secret": "s1"}, {"key": "k2", "secret": "s2", "api_key": "a2"}]"#,
    ]
    let both = try load(json, env: env).configuration
    #expect(both.server.port == 0)
    #expect(!both.s3.pathStyle)
    #expect(both.networkAllow == ["127.0.0.1/32", "[::1]:9000"])
    #expect(both.server.headerTimeout == .milliseconds(500))
    #expect(both.storage.s3.bucket == "media")
    #expect(
      both.auth.apps == [.init(key: "k1", secret: "s1", apiKey: nil), .init(key: "k2", secret: "s2", apiKey: "a2")])
  }

  @Test func environmentNamesFollowTheDottedPath() {
    #expect(ConfigurationKey.named("server.port")?.environmentName == "FERRY_SERVER_PORT")
    #expect(ConfigurationKey.named("storage.s3.bucket")?.environmentName == "FERRY_STORAGE_S3_BUCKET")
    #expect(ConfigurationKey.named("auth.rate_limit.per_s")?.environmentName == "FERRY_AUTH_RATE_LIMIT_PER_S")
    #expect(ConfigurationKey.named("data_dir")?.environmentName == "FERRY_DATA_DIR")
  }

  @Test func unknownKeysInTheFileAreRefused() {
    #expect(problems(#"{"server": {"prot": 1}}"#) == ["server.prot: unknown key"])
    #expect(problems(#"{"srever": {}}"#) == ["srever: unknown key"])
    #expect(problems(#"{"server": 5}"#) == ["server: must be an object, got a number"])
  }

  @Test func unknownEnvironmentVariablesOnlyWarnAndClientOnesAreIgnored() throws {
    let loaded = try load(env: [
      "FERRY_SERVER_PROT": "1", "FERRY_SERVER": "http://x", "FERRY_APP_KEY": "k", "OTHER": "1",
    ])
    #expect(loaded.warnings == ["FERRY_SERVER_PROT is not a Ferry setting and is ignored"])
  }

  @Test func everyProblemIsReportedTogetherNamingKeyAndVariable() {
    let found = problems(
      #"{"server": {"port": 70000, "max_connections": "many"}, "logging": {"level": "loud"}}"#,
      env: ["FERRY_S3_PATH_STYLE": "yes", "FERRY_SERVER_IDLE_TIMEOUT_S": "soon"])
    #expect(
      found == [
        #"s3.path_style (FERRY_S3_PATH_STYLE): must be true or false, got "yes""#,
        #"server.idle_timeout_s (FERRY_SERVER_IDLE_TIMEOUT_S): must be a number of seconds of at least 0.1, got "soon""#,
        "server.port (FERRY_SERVER_PORT): must be an integer from 0 to 65535, got 70000",
        #"server.max_connections (FERRY_SERVER_MAX_CONNECTIONS): must be an integer from 1 to 1000000, got "many""#,
        #"logging.level (FERRY_LOGGING_LEVEL): must be one of "debug", "info", "warning", "error", got "loud""#,
      ])
  }

  @Test(arguments: [
    (
      #"{"s3": {"endpoint": "ftp://x"}}"#,
      "s3.endpoint (FERRY_S3_ENDPOINT): must be an http or https URL, got \"ftp://x\""
    ),
    (#"{"data_dir": ""}"#, "data_dir (FERRY_DATA_DIR): must be a non-empty string, got \"\""),
    (#"{"secrets": {"key": "c2hvcnQ="}}"#, "secrets.key (FERRY_SECRETS_KEY): must be base64 of exactly 32 bytes"),
    (
      #"{"network": {"allow": ["10.0.0.0/33"]}}"#,
      #"network.allow (FERRY_NETWORK_ALLOW): [0] "10.0.0.0/33": an IPv4 prefix length is 0 to 32"#
    ),
    (
      #"{"network": {"allow": ["127.0.0.1"]}}"#,
      #"network.allow (FERRY_NETWORK_ALLOW): [0] "127.0.0.1": add a prefix length (/32, /128) or a port"#
    ),
    (
      #"{"network": {"allow": ["[::1]:0"]}}"#,
      #"network.allow (FERRY_NETWORK_ALLOW): [0] "[::1]:0": expected [IPv6]:port"#
    ),
    (
      #"{"network": {"allow": ["bad host:80"]}}"#,
      #"network.allow (FERRY_NETWORK_ALLOW): [0] "bad host:80": not a valid host name"#
    ),
    (
      #"{"auth": {"apps": [{"key": "k"}]}}"#, "auth.apps (FERRY_AUTH_APPS): [0].secret is required (a non-empty string)"
    ),
    (
      #"{"auth": {"apps": [{"key": "k", "secret": "s", "role": "x"}]}}"#,
      "auth.apps (FERRY_AUTH_APPS): [0].role: unknown key"
    ),
    (
      #"{"auth": {"apps": [{"key": "k", "secret": "s"}, {"key": "k", "secret": "t"}]}}"#,
      "auth.apps (FERRY_AUTH_APPS): [1].key repeats another app's key"
    ),
    (
      #"{"auth": {"token_ttl_s": 100000}}"#,
      "auth.token_ttl_s (FERRY_AUTH_TOKEN_TTL_S): must be an integer from 1 to 86400, got 100000"
    ),
    (
      #"{"storage": {"kind": "s3", "s3": {"bucket": "b", "key": "k"}}}"#,
      #"storage.s3.secret (FERRY_STORAGE_S3_SECRET): required when storage.kind (FERRY_STORAGE_KIND) is "s3""#
    ),
    (
      #"{"auth": {"rate_limit": {"per_s": 0}}}"#,
      "auth.rate_limit.per_s (FERRY_AUTH_RATE_LIMIT_PER_S): must be a positive number, got 0"
    ),
    (
      #"{"transfer": {"part_size_bytes": 1024}}"#,
      "transfer.part_size_bytes (FERRY_TRANSFER_PART_SIZE_BYTES): must be an integer from 5242880 to 5368709120, got 1024"
    ),
    (
      #"{"server": {"host": "0.0.0.0"}}"#,
      "server.public_url (FERRY_SERVER_PUBLIC_URL): required when server.host (FERRY_SERVER_HOST) is a wildcard address"
    ),
    (
      #"{"store": {"kind": "postgres"}}"#,
      #"store.url (FERRY_STORE_URL): required when store.kind (FERRY_STORE_KIND) is "postgres""#
    ),
    (#"{"server": {"port": 1.5}}"#, "server.port (FERRY_SERVER_PORT): must be an integer from 0 to 65535, got 1.5"),
    (#"{"server": {"port": true}}"#, "server.port (FERRY_SERVER_PORT): must be an integer from 0 to 65535, got true"),
    ("[1]", "the top level must be a JSON object"),
    (#"{"server": "#, "not valid JSON"),
  ])
  func eachValidationMessage(json: String, expected: String) {
    let found = problems(json)
    #expect(found.count == 1)
    #expect(found.first?.hasSuffix(expected) == true || found.first?.contains(expected) == true, "\(found)")
  }

  @Test func corsOrigins_areOriginsOrAnyAlone_fromTheFileOrTheEnvironment() throws {
    let listed = try load(
      #"{"server": {"cors": {"allowed_origins": ["https://app.example", "http://127.0.0.1:3000"]}}}"#)
    #expect(listed.configuration.server.corsAllowedOrigins == ["https://app.example", "http://127.0.0.1:3000"])
    let none = try load(env: ["FERRY_SERVER_CORS_ALLOWED_ORIGINS": "[]"])
    #expect(none.configuration.server.corsAllowedOrigins == [])
    for (value, says) in [
      (#"["https://app.example/"]"#, "no path"), (#"["app.example"]"#, "http:// or https://"),
      (#"["ftp://app.example"]"#, "http:// or https://"), (#"["*", "https://app.example"]"#, "give it alone"),
      (#""https://app.example""#, "JSON list of origins"), ("[1]", "must be a string"),
    ] {
      let found = problems(env: ["FERRY_SERVER_CORS_ALLOWED_ORIGINS": value])
      #expect(found.count == 1, "\(value): \(found)")
      #expect(
        found.first?.hasPrefix("server.cors.allowed_origins (FERRY_SERVER_CORS_ALLOWED_ORIGINS)") == true
          && found.first?.contains(says) == true, "\(value): \(found)")
    }
  }

  @Test func secretValuesAreNeverEchoed() {
    let found = problems(env: [
      "FERRY_AUTH_APPS": #"[{"key": "k", "secret": 12345678}]"#, "FERRY_SECRETS_KEY": "hunter2-not-base64",
    ])
    #expect(found.count == 2)
    #expect(!found.joined().contains("12345678"))
    #expect(!found.joined().contains("hunter2"))
  }

  @Test func storeAndStorageKinds_areReadAsTheirCases_andRefusedWithTheirChoicesListed() throws {
    #expect(try load().configuration.store.kind == .sqlite)
    #expect(try load().configuration.storage.kind == .local)
    let chosen = try load(
      #"{"storage": {"kind": "s3", "s3": {"bucket": "b", "key": "k", "secret": "s"}}}"#,
      env: ["FERRY_STORE_KIND": "postgres", "FERRY_STORE_URL": "postgresql://db/ferry"])
    #expect(chosen.configuration.store.kind == .postgres && chosen.configuration.storage.kind == .s3)
    #expect(
      problems(#"{"store": {"kind": "mysql"}}"#, env: ["FERRY_STORAGE_KIND": "nfs"]) == [
        #"store.kind (FERRY_STORE_KIND): must be one of "sqlite", "postgres", got "mysql""#,
        #"storage.kind (FERRY_STORAGE_KIND): must be one of "local", "s3", got "nfs""#,
      ])
  }

  @Test func postgresStore_takesItsURL_andNeverShowsIt() throws {
    let url = "postgresql://ferry:pw-s3cret-4711@10.0.0.5:5432/ferry"
    let loaded = try load(#"{"store": {"kind": "postgres"}}"#, env: ["FERRY_STORE_URL": url])
    #expect(loaded.configuration.store.kind == .postgres && loaded.configuration.store.url == url)
    // Nowhere a configuration is shown: its description, a dump, or the problems of a bad configuration.
    #expect(!String(describing: loaded.configuration).contains("pw-s3cret-4711"))
    #expect(!String(reflecting: loaded.configuration.store).contains("pw-s3cret-4711"))
    var dump = ""
    Swift.dump(loaded.configuration.store, to: &dump)
    #expect(!dump.contains("pw-s3cret-4711"))
    let found = problems(#"{"store": {"kind": "postgres"}, "server": {"port": -1}}"#, env: ["FERRY_STORE_URL": url])
    #expect(found.count == 1 && !found.joined().contains("pw-s3cret-4711"), "\(found)")
    // A URL of the wrong type is named, not echoed.
    let wrongType = problems(#"{"store": {"kind": "postgres", "url": ["pw-s3cret-4711"]}}"#)
    #expect(
      wrongType.contains { $0.hasPrefix("store.url (FERRY_STORE_URL)") } && !wrongType.joined().contains("pw-s3cret"))
  }

  @Test func tlsNeedsBothCertificateAndKey_asReadableFiles_andMakesThePublicURLHTTPS() throws {
    #expect(try load().configuration.server.tls == nil)
    #expect(try load().configuration.publicURL(boundPort: 8080) == "http://127.0.0.1:8080")
    let directory = NSTemporaryDirectory() + "ferry-tls-config-\(UUID().uuidString)"
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: directory) }
    for name in ["cert.pem", "key.pem"] {
      FileManager.default.createFile(atPath: directory + "/" + name, contents: Data("-".utf8))
    }
    let both = try load(env: [
      "FERRY_SERVER_TLS_CERT": directory + "/cert.pem", "FERRY_SERVER_TLS_KEY": directory + "/key.pem",
    ])
    #expect(
      both.configuration.server.tls
        == .init(certificatePath: directory + "/cert.pem", keyPath: directory + "/key.pem"))
    #expect(both.configuration.publicURL(boundPort: 8443) == "https://127.0.0.1:8443")

    let onlyCert = problems(#"{"server": {"tls": {"cert": "\#(directory)/cert.pem"}}}"#)
    #expect(
      onlyCert == [
        "server.tls.key (FERRY_SERVER_TLS_KEY): required when server.tls.cert (FERRY_SERVER_TLS_CERT) is set"
      ])
    let onlyKey = problems(env: ["FERRY_SERVER_TLS_KEY": directory + "/key.pem"])
    #expect(
      onlyKey == ["server.tls.cert (FERRY_SERVER_TLS_CERT): required when server.tls.key (FERRY_SERVER_TLS_KEY) is set"]
    )
    let missing = problems(#"{"server": {"tls": {"cert": "\#(directory)/nope.pem", "key": "\#(directory)/key.pem"}}}"#)
    #expect(missing == ["server.tls.cert (FERRY_SERVER_TLS_CERT): \(directory)/nope.pem is not a readable file"])
    #expect(
      problems(#"{"server": {"tls": {"cert": ""}}}"#).first?.hasPrefix("server.tls.cert (FERRY_SERVER_TLS_CERT)")
        == true)
    let clientCA = try load(env: [
      "FERRY_SERVER_TLS_CERT": directory + "/cert.pem", "FERRY_SERVER_TLS_KEY": directory + "/key.pem",
      "FERRY_SERVER_TLS_CLIENT_CA": directory + "/cert.pem",
    ])
    #expect(clientCA.configuration.server.tls?.clientCAPath == directory + "/cert.pem")
    #expect(
      problems(env: ["FERRY_SERVER_TLS_CLIENT_CA": directory + "/cert.pem"]) == [
        "server.tls.client_ca (FERRY_SERVER_TLS_CLIENT_CA): needs server.tls.cert (FERRY_SERVER_TLS_CERT) and server.tls.key (FERRY_SERVER_TLS_KEY)"
      ])
  }

  @Test func theExampleFileListsEveryKeyWithItsDefault() throws {
    let path = packageRoot() + "/config/ferry.example.json"
    let loaded = try ConfigurationLoader(environment: [:]).load(file: path)
    #expect(loaded.warnings.isEmpty)
    let root = try JSONValue.parse(Data(contentsOf: URL(fileURLWithPath: path)))
    var leaves: [String: JSONValue] = [:]
    func walk(_ value: JSONValue, _ prefix: String) {
      if ConfigurationKey.named(prefix) != nil {
        leaves[prefix] = value
      } else if case .object(let object) = value {
        for (name, inner) in object { walk(inner, prefix.isEmpty ? name : prefix + "." + name) }
      }
    }
    walk(root, "")
    #expect(Set(leaves.keys) == Set(ConfigurationKey.all.map(\.path)))
    for key in ConfigurationKey.all {
      #expect(leaves[key.path] == key.defaultValue, "\(key.path) in the example differs from its default")
    }
  }

  @Test func theReadmeTableNamesEveryKey() throws {
    let readme = try String(contentsOfFile: packageRoot() + "/README.md", encoding: .utf8)
    for key in ConfigurationKey.all {
      #expect(readme.contains("`\(key.path)`"), "README.md does not document \(key.path)")
    }
  }
}

/// The package's root folder (tests read checked-in files).
func packageRoot() -> String {
  URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    .path
}
