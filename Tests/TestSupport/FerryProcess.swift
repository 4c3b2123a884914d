import Foundation

/// A `ferry` child process started by a test, with its stderr (the JSON log) and stdout captured to files.
/// It is stopped by PID (`terminate()`); `deinit` kills it if the test did not.
public final class FerryProcess: @unchecked Sendable {
  public let process = Process()
  public let logPath: String
  public let stdoutPath: String
  private let directory: String

  /// The `ferry` binary next to the test bundle (SwiftPM builds it for the tests that depend on it).
  public static var binary: String {
    let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    var dir = URL(fileURLWithPath: exe).deletingLastPathComponent()
    for _ in 0..<4 {
      let candidate = dir.appendingPathComponent("ferry").path
      if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
      dir = dir.deletingLastPathComponent()
    }
    return URL(fileURLWithPath: exe).deletingLastPathComponent().appendingPathComponent("ferry").path
  }

  /// Starts `ferry` with `arguments`, in a fresh working directory, with `environment` added to a clean one.
  /// `launcher` (a command that ends by exec'ing its arguments, like `unshare --net --`) runs it, keeping the
  /// PID `ferry`'s own.
  public init(_ arguments: [String], environment: [String: String] = [:], launcher: [String] = []) throws {
    directory = NSTemporaryDirectory() + "ferry-proc-\(UUID().uuidString.prefix(8))"
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    logPath = directory + "/stderr.log"
    stdoutPath = directory + "/stdout.log"
    FileManager.default.createFile(atPath: logPath, contents: nil)
    FileManager.default.createFile(atPath: stdoutPath, contents: nil)
    let command = launcher + [FerryProcess.binary] + arguments
    process.executableURL = URL(fileURLWithPath: command[0])
    process.arguments = Array(command.dropFirst())
    process.currentDirectoryURL = URL(fileURLWithPath: directory)
    var env = ["PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin", "HOME": directory]
    env.merge(environment) { $1 }
    process.environment = env
    process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
    process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: stdoutPath))
    try process.run()
  }

  deinit {
    if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    try? FileManager.default.removeItem(atPath: directory)
  }

  /// The working directory the process runs in.
  public var workingDirectory: String { directory }

  /// The log lines written so far.
  public var logLines: [String] {
    ((try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
  }

  /// What the process printed on stdout.
  public var output: String { (try? String(contentsOfFile: stdoutPath, encoding: .utf8)) ?? "" }

  /// Waits (at most `timeout` seconds) for the `listening` log line; returns the bound port.
  public func waitForPort(timeout: Double = 20) throws -> Int {
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
      for line in logLines where line.contains(#""msg":"listening""#) {
        if let data = line.data(using: .utf8),
          let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
          let port = object["port"] as? Int
        {
          return port
        }
      }
      guard process.isRunning else { break }
      usleep(20_000)
    }
    throw RawHTTPClient.ClientError(description: "ferry did not log a listening line: \(logLines.suffix(5))")
  }

  /// Sends `signal` to the process.
  public func send(_ signal: Int32) { kill(process.processIdentifier, signal) }

  /// Waits (at most `timeout` seconds) for the process to exit; returns its status, or nil if still running.
  @discardableResult
  public func waitForExit(timeout: Double = 20) -> Int32? {
    let deadline = Date().addingTimeInterval(timeout)
    while process.isRunning && Date() < deadline { usleep(20_000) }
    return process.isRunning ? nil : process.terminationStatus
  }

  /// Stops the process: SIGTERM, then SIGKILL if it has not exited within `timeout` seconds.
  public func terminate(timeout: Double = 10) {
    guard process.isRunning else { return }
    send(SIGTERM)
    if waitForExit(timeout: timeout) == nil {
      send(SIGKILL)
      waitForExit(timeout: 5)
    }
  }
}
