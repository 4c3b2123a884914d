import Foundation

/// `nanio serve`, an independent strict S3 server (it checks SigV4 itself), started for one test and stopped
/// by PID. Buckets are folders in its data directory. It mis-verifies keys containing `%` or `=` (its own
/// bug), so tests give it other keys.
public final class NanioPeer: @unchecked Sendable {
  public let port: Int
  private let process: PeerProcess
  private let directory: String

  /// `nanio` from PATH (make test puts .venv/bin there) or the package's .venv.
  public static var executable: String? {
    let candidates =
      (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":").map { "\($0)/nanio" }
      + [S3Peers.packageRoot + "/.venv/bin/nanio"]
    return candidates.first { FileManager.default.isExecutableFile(atPath: $0) }
  }

  /// Starts nanio with one user and the given buckets.
  public init(key: String, secret: String, buckets: [String]) throws {
    guard let executable = NanioPeer.executable else {
      throw RawHTTPClient.ClientError(description: "nanio not found (run make test, which installs it into .venv)")
    }
    directory = try makeTemporaryDirectory("ferry-nanio")
    for bucket in buckets {
      try FileManager.default.createDirectory(atPath: directory + "/data/" + bucket, withIntermediateDirectories: true)
    }
    port = try S3Peers.freePort()
    var environment = ProcessInfo.processInfo.environment
    environment["NANIO_ACCESS_KEY"] = key
    environment["NANIO_SECRET_KEY"] = secret
    process = try PeerProcess(
      [
        executable, "serve", "--host", "127.0.0.1", "--port", String(port), "--data-dir", directory + "/data",
        "--no-access-log",
      ], environment: environment, stdout: "/dev/null", stderr: "/dev/null")
    var up = false
    for _ in 0..<400 where !up && process.isRunning {
      up = (try? RawHTTPClient(port: port, timeout: 1)) != nil
      if !up { usleep(25_000) }
    }
    guard up else {
      stop()
      throw RawHTTPClient.ClientError(description: "nanio did not start")
    }
  }

  deinit { stop() }

  /// Places an object straight into nanio's data directory (it reads metadata it lacks from the file).
  public func put(bucket: String, key: String, _ bytes: [UInt8]) throws {
    let path = directory + "/data/" + bucket + "/" + key
    try FileManager.default.createDirectory(
      atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
    try Data(bytes).write(to: URL(fileURLWithPath: path))
  }

  /// Whether the object exists (as a file in the data directory).
  public func exists(bucket: String, key: String) -> Bool {
    FileManager.default.fileExists(atPath: directory + "/data/" + bucket + "/" + key)
  }

  /// `http://127.0.0.1:<port>`
  public var endpoint: String { "http://127.0.0.1:\(port)" }

  /// Stops nanio by PID (SIGTERM, then SIGKILL after a grace).
  public func stop() { process.stop() }
}
