import Foundation

/// `moto_server` with `../shared/tools/s3-strict-proxy` in front, started for one test and stopped by PID
/// (`PeerProcess`). The proxy checks SigV4 exactly as S3 does for the given key, secret and token, then
/// forwards to moto. Buckets are created on moto directly (it checks no signatures).
public final class S3Peers: @unchecked Sendable {
  public let motoPort: Int
  public let proxyPort: Int
  private let moto: PeerProcess
  private let proxy: PeerProcess
  private let directory: String

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

  public init(key: String, secret: String, token: String? = nil) throws {
    guard let motoServer = S3Peers.motoServer, let proxyScript = S3Peers.strictProxy else {
      throw RawHTTPClient.ClientError(description: S3Peers.unavailable ?? "S3 peers unavailable")
    }
    directory = try makeTemporaryDirectory("ferry-s3")
    motoPort = try S3Peers.freePort()
    let motoLog = directory + "/moto.log"
    moto = try PeerProcess(
      [motoServer, "-H", "127.0.0.1", "-p", String(motoPort)], stdout: motoLog, stderr: motoLog)
    let proxyLog = directory + "/proxy.log"
    proxy = try PeerProcess(
      [
        "/usr/bin/env", "python3", proxyScript, "--listen", "127.0.0.1:0", "--upstream", "http://127.0.0.1:\(motoPort)",
        "--key", key, "--secret", secret,
      ] + (token.map { ["--token", $0] } ?? []), stdout: proxyLog, stderr: "/dev/null")

    var found: Int?
    for _ in 0..<200 where found == nil {
      let text = (try? String(contentsOfFile: proxyLog, encoding: .utf8)) ?? ""
      if let line = text.split(separator: "\n").first,
        let range = line.range(of: #"127\.0\.0\.1:(\d+)"#, options: .regularExpression)
      {
        found = Int(line[range].split(separator: ":").last ?? "")
      } else {
        usleep(50_000)
      }
    }
    // Wait for moto to answer, too (bounded).
    var motoUp = false
    for _ in 0..<200 where !motoUp {
      motoUp = (try? RawHTTPClient(port: motoPort, timeout: 1)) != nil
      if !motoUp { usleep(50_000) }
    }
    proxyPort = found ?? 0
    guard found != nil, motoUp else {
      stopProcesses()
      throw RawHTTPClient.ClientError(description: "S3 peers did not start")
    }
  }

  deinit { stopProcesses() }

  /// `http://127.0.0.1:<proxy port>`: the endpoint signed requests go to.
  public var proxyEndpoint: String { "http://127.0.0.1:\(proxyPort)" }

  /// The proxy's log: a line per request, `METHOD PATH -> STATUS (reason)`.
  public var proxyLog: String { (try? String(contentsOfFile: directory + "/proxy.log", encoding: .utf8)) ?? "" }

  /// moto's own output (its access log and any traceback).
  public var motoLog: String { (try? String(contentsOfFile: directory + "/moto.log", encoding: .utf8)) ?? "" }

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
    token: String? = nil
  ) throws -> String {
    try S3Peers.presign(
      endpoint: proxyEndpoint, method: method, bucket: bucket, key: key, expires: expires, key: accessKey,
      secret: secret, token: token)
  }

  /// A pre-signed URL for any S3 endpoint, made by boto3 (path-style, us-east-1, SigV4).
  public static func presign(
    endpoint: String, method: String, bucket: String, key: String, expires: Int, key accessKey: String,
    secret: String, token: String? = nil
  ) throws -> String {
    let python = URL(fileURLWithPath: S3Peers.motoServer!).deletingLastPathComponent().appendingPathComponent("python3")
      .path
    let script = """
      import boto3, sys
      from botocore.config import Config
      s3 = boto3.client("s3", endpoint_url=sys.argv[1], aws_access_key_id=sys.argv[2], aws_secret_access_key=sys.argv[3],
                        aws_session_token=sys.argv[8] or None, region_name="us-east-1",
                        config=Config(signature_version="s3v4", s3={"addressing_style": "path"}))
      op = {"GET": "get_object", "PUT": "put_object"}[sys.argv[4]]
      print(s3.generate_presigned_url(op, Params={"Bucket": sys.argv[5], "Key": sys.argv[6]}, ExpiresIn=int(sys.argv[7])))
      """
    let process = Process()
    process.executableURL = URL(fileURLWithPath: python)
    process.arguments = [
      "-c", script, endpoint, accessKey, secret, method, bucket, key, String(expires), token ?? "",
    ]
    let pipe = Pipe()
    process.standardOutput = pipe
    try process.run()
    let output = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return String(decoding: output, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
  }

  public func stop() { stopProcesses() }

  private func stopProcesses() {
    proxy.stop()
    moto.stop()
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
