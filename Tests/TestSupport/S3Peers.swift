import Foundation
import Synchronization

/// `moto_server` with `../shared/tools/s3-strict-proxy` in front. The proxy checks SigV4 exactly as S3 does
/// for the given key, secret and token, then forwards to moto. Buckets are created on moto directly (it checks
/// no signatures).
///
/// One moto serves the whole test process (started on first use, stopped by PID when the process exits):
/// starting one took about 0.3 s of every S3 test. Each `S3Peers` holds it alone from `init` to `stop()`
/// (a process-wide lock, so two alive at once wait for each other instead of sharing buckets), empties it
/// with `POST /moto-api/reset` when it takes it, and starts its own proxy, stopped by PID.
public final class S3Peers: @unchecked Sendable {
  public let motoPort: Int
  public let proxyPort: Int
  private let moto: SharedMoto
  private let proxy: PeerProcess
  private let directory: String
  /// Where moto's log stood when this instance took moto: `motoLog` is what came after.
  private let motoLogStart: UInt64
  private let released = Atomic<Bool>(false)

  /// The package's root folder.
  public static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .deletingLastPathComponent()
    .deletingLastPathComponent().path

  /// `moto_server` from PATH (make test puts .venv/bin there) or the package's .venv.
  public static var motoServer: String? {
    let candidates =
      (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":").map { "\($0)/moto_server" }
      + [packageRoot + "/.venv/bin/moto_server"]
    return candidates.first { FileManager.default.isExecutableFile(atPath: $0) }
  }

  /// The strict proxy beside the checkout, if `../shared` is there.
  public static var strictProxy: String? {
    let path = URL(fileURLWithPath: packageRoot).deletingLastPathComponent().appendingPathComponent(
      "shared/tools/s3-strict-proxy"
    ).path
    return FileManager.default.fileExists(atPath: path) ? path : nil
  }

  /// Why the peers cannot run here, or nil when they can.
  public static var unavailable: String? {
    if motoServer == nil { return "moto_server not found (run make test, which installs it into .venv)" }
    if strictProxy == nil { return "../shared/tools/s3-strict-proxy not found" }
    return nil
  }

  /// Takes the process's moto (waiting, at most `wait` seconds, for another `S3Peers` to stop), empties it
  /// and starts a strict proxy for `key`, `secret` and `token` in front of it.
  public init(key: String, secret: String, token: String? = nil, wait: Double = 600) throws {
    guard let proxyScript = S3Peers.strictProxy else {
      throw RawHTTPClient.ClientError(description: S3Peers.unavailable ?? "S3 peers unavailable")
    }
    moto = try SharedMoto.acquire(wait: wait)
    motoPort = moto.port
    motoLogStart = moto.logSize
    do {
      directory = try makeTemporaryDirectory("ferry-s3")
      let proxyLog = directory + "/proxy.log"
      proxy = try PeerProcess(
        [
          "/usr/bin/env", "python3", proxyScript, "--listen", "127.0.0.1:0", "--upstream",
          "http://127.0.0.1:\(motoPort)", "--key", key, "--secret", secret,
        ] + (token.map { ["--token", $0] } ?? []), stdout: proxyLog, stderr: "/dev/null")
      var found: Int?
      for _ in 0..<1000 where found == nil && proxy.isRunning {
        let text = (try? String(contentsOfFile: proxyLog, encoding: .utf8)) ?? ""
        if let line = text.split(separator: "\n").first,
          let range = line.range(of: #"127\.0\.0\.1:(\d+)"#, options: .regularExpression)
        {
          found = Int(line[range].split(separator: ":").last ?? "")
        } else {
          usleep(10_000)
        }
      }
      guard let found else {
        proxy.stop()
        throw RawHTTPClient.ClientError(description: "the strict proxy did not start")
      }
      proxyPort = found
    } catch {
      SharedMoto.release()
      throw error
    }
  }

  deinit { stop() }

  /// `http://127.0.0.1:<proxy port>`: the endpoint signed requests go to.
  public var proxyEndpoint: String { "http://127.0.0.1:\(proxyPort)" }

  /// The proxy's log: a line per request, `METHOD PATH -> STATUS (reason)`.
  public var proxyLog: String { (try? String(contentsOfFile: directory + "/proxy.log", encoding: .utf8)) ?? "" }

  /// moto's own output (its access log and any traceback) since this instance took it.
  public var motoLog: String { moto.log(from: motoLogStart) }

  /// Creates a bucket on moto.
  public func createBucket(_ name: String) throws {
    let client = try RawHTTPClient(port: motoPort)
    try client.send(
      "PUT /\(name) HTTP/1.1\r\nHost: 127.0.0.1:\(motoPort)\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
    let status = try client.readResponse().status
    guard status == 200 else { throw RawHTTPClient.ClientError(description: "create bucket \(name): \(status)") }
  }

  /// A pre-signed URL for the strict proxy made by boto3, as a user's script would make it.
  public func presign(
    method: String, bucket: String, key: String, expires: Int, key accessKey: String, secret: String,
    token: String? = nil, contentType: String? = nil
  ) throws -> String {
    try S3Peers.presign(
      endpoint: proxyEndpoint, method: method, bucket: bucket, key: key, expires: expires, key: accessKey,
      secret: secret, token: token, contentType: contentType)
  }

  /// Pre-signed URLs for the strict proxy, one per `(method, key)` of `objects` in order, made by one boto3 run.
  public func presign(
    _ objects: [(method: String, key: String)], bucket: String, expires: Int, key accessKey: String,
    secret: String, token: String? = nil
  ) throws -> [String] {
    try S3Peers.presign(
      objects, endpoint: proxyEndpoint, bucket: bucket, expires: expires, key: accessKey, secret: secret, token: token)
  }

  /// A pre-signed URL for any S3 endpoint, made by boto3 (path-style, us-east-1, SigV4). With `contentType`
  /// the signature covers `Content-Type` with that value (`X-Amz-SignedHeaders=content-type;host`).
  public static func presign(
    endpoint: String, method: String, bucket: String, key: String, expires: Int, key accessKey: String,
    secret: String, token: String? = nil, contentType: String? = nil
  ) throws -> String {
    let urls = try presign(
      [(method, key)], endpoint: endpoint, bucket: bucket, expires: expires, key: accessKey, secret: secret,
      token: token, contentType: contentType)
    return urls.first ?? ""
  }

  /// Pre-signed URLs for any S3 endpoint, one per `(method, key)` of `objects` in order, made by one boto3
  /// run (path-style, us-east-1, SigV4): starting Python with boto3 takes about 0.6 s, a URL next to nothing.
  /// With `contentType`, every signature covers `Content-Type` with that value.
  public static func presign(
    _ objects: [(method: String, key: String)], endpoint: String, bucket: String, expires: Int,
    key accessKey: String, secret: String, token: String? = nil, contentType: String? = nil
  ) throws -> [String] {
    let python = URL(fileURLWithPath: S3Peers.motoServer!).deletingLastPathComponent().appendingPathComponent("python3")
      .path
    let script = """
      import boto3, sys
      from botocore.config import Config
      s3 = boto3.client("s3", endpoint_url=sys.argv[1], aws_access_key_id=sys.argv[2], aws_secret_access_key=sys.argv[3],
                        aws_session_token=sys.argv[4] or None, region_name="us-east-1",
                        config=Config(signature_version="s3v4", s3={"addressing_style": "path"}))
      content_type = sys.argv[7]
      for method, key in zip(sys.argv[8::2], sys.argv[9::2]):
          op = {"GET": "get_object", "PUT": "put_object"}[method]
          params = {"Bucket": sys.argv[5], "Key": key}
          if content_type: params["ContentType"] = content_type
          print(s3.generate_presigned_url(op, Params=params, ExpiresIn=int(sys.argv[6])))
      """
    let process = Process()
    process.executableURL = URL(fileURLWithPath: python)
    process.arguments =
      ["-c", script, endpoint, accessKey, secret, token ?? "", bucket, String(expires), contentType ?? ""]
      + objects.flatMap { [$0.method, $0.key] }
    let pipe = Pipe()
    process.standardOutput = pipe
    try process.run()
    let output = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    let urls = String(decoding: output, as: UTF8.self).split(separator: "\n").map {
      $0.trimmingCharacters(in: .whitespaces)
    }
    guard process.terminationStatus == 0, urls.count == objects.count else {
      throw RawHTTPClient.ClientError(description: "boto3 made \(urls.count) of \(objects.count) pre-signed URLs")
    }
    return urls
  }

  /// Stops the proxy and hands moto to the next `S3Peers` (once; later calls do nothing).
  public func stop() {
    guard !released.exchange(true, ordering: .relaxed) else { return }
    proxy.stop()
    SharedMoto.release()
  }

  /// A port that was free a moment ago on 127.0.0.1.
  public static func freePort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    inet_pton(AF_INET, "127.0.0.1", &address.sin_addr)
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let ok = withUnsafeMutablePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
        bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0
      }
    }
    guard ok else { throw RawHTTPClient.ClientError(description: "no free port") }
    return Int(UInt16(bigEndian: address.sin_port))
  }
}

/// The one `moto_server` of this test process and the lock that gives it to one `S3Peers` at a time.
final class SharedMoto: Sendable {
  let port: Int
  private let process: PeerProcess
  private let logPath: String

  private init() throws {
    guard let motoServer = S3Peers.motoServer else {
      throw RawHTTPClient.ClientError(description: S3Peers.unavailable ?? "moto_server not found")
    }
    logPath = try makeTemporaryDirectory("ferry-moto") + "/moto.log"
    var started: (port: Int, process: PeerProcess)?
    // A few tries: another process may take the free port first.
    for _ in 0..<3 where started == nil {
      let port = try S3Peers.freePort()
      let process = try PeerProcess(
        [motoServer, "-H", "127.0.0.1", "-p", String(port)], stdout: logPath, stderr: logPath)
      var up = false
      for _ in 0..<400 where !up && process.isRunning {
        up = (try? RawHTTPClient(port: port, timeout: 1)) != nil
        if !up { usleep(25_000) }
      }
      if up { started = (port, process) } else { process.stop() }
    }
    guard let started else { throw RawHTTPClient.ClientError(description: "moto_server did not start") }
    port = started.port
    process = started.process
  }

  /// The size of moto's log now.
  var logSize: UInt64 {
    ((try? FileManager.default.attributesOfItem(atPath: logPath))?[.size] as? NSNumber)?.uint64Value ?? 0
  }

  /// moto's log from byte `offset` on.
  func log(from offset: UInt64) -> String {
    guard let handle = FileHandle(forReadingAtPath: logPath) else { return "" }
    defer { try? handle.close() }
    try? handle.seek(toOffset: offset)
    return String(decoding: (try? handle.readToEnd()) ?? Data(), as: UTF8.self)
  }

  /// Empties every bucket, object and multipart upload.
  private func reset() throws {
    let client = try RawHTTPClient(port: port)
    try client.send(
      "POST /moto-api/reset HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
    let status = try client.readResponse().status
    guard status == 200 else { throw RawHTTPClient.ClientError(description: "moto reset: \(status)") }
  }

  // MARK: One moto per test process, one user at a time

  /// Held from `acquire` to `release`: one `S3Peers` uses moto at a time.
  private static let lock = DispatchSemaphore(value: 1)
  private static let shared = Mutex<SharedMoto?>(nil)

  /// Waits (at most `wait` seconds) for moto to be free, starts it on first use (or again if it died),
  /// and empties it.
  static func acquire(wait: Double) throws -> SharedMoto {
    guard lock.wait(timeout: .now() + wait) == .success else {
      throw RawHTTPClient.ClientError(description: "moto stayed in use by another S3Peers for \(Int(wait)) s")
    }
    do {
      return try shared.withLock { shared in
        if let moto = shared, moto.process.isRunning, (try? moto.reset()) != nil { return moto }
        shared?.process.stop()
        let moto = try SharedMoto()
        if shared == nil { atexit { SharedMoto.stopShared() } }
        shared = moto
        return moto
      }
    } catch {
      lock.signal()
      throw error
    }
  }

  /// Lets the next `S3Peers` take moto.
  static func release() { lock.signal() }

  private static func stopShared() {
    shared.withLock { $0?.process.stop(grace: 2) }
  }
}
