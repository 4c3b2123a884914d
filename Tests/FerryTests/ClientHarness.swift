import Foundation
import TestSupport
import Testing

/// What one `ferry` client run printed and how it ended.
struct ClientRun {
  var status: Int32
  var stdout: String
  var stderr: String
  /// Both streams, for checks that nothing secret was printed anywhere.
  var all: String { stdout + stderr }
}

/// A real `ferry serve` on loopback with one app, and the real `ferry` binary run against it as a user would:
/// a separate process with the server and credentials in its environment. Every process is stopped by PID.
final class ClientHarness {
  static let key = "cli-app"
  /// Never printed by the client: the tests look for it in everything it writes.
  static let secret = "cli-secret-must-not-leak"

  let server: FerryProcess
  let port: Int
  let work: String

  init(environment: [String: String] = [:]) throws {
    work = try makeTemporaryDirectory("ferry-cli")
    var settings = [
      "FERRY_SERVER_PORT": "0", "FERRY_DATA_DIR": work + "/data",
      "FERRY_AUTH_APPS": #"[{"key": "\#(Self.key)", "secret": "\#(Self.secret)"}]"#,
    ]
    settings.merge(environment) { $1 }
    server = try FerryProcess(["serve"], environment: settings)
    do {
      port = try server.waitForPort()
    } catch {
      server.terminate()
      throw error
    }
  }

  deinit {
    server.terminate()
    try? FileManager.default.removeItem(atPath: work)
  }

  var base: String { "http://127.0.0.1:\(port)" }

  /// The client's environment: server and credentials as the variables a user would set.
  var environment: [String: String] {
    ["FERRY_SERVER": base, "FERRY_APP_KEY": Self.key, "FERRY_APP_SECRET": Self.secret]
  }

  /// Runs `ferry arguments` with stdout and stderr on files (not a terminal); waits at most `timeout` s.
  func run(_ arguments: [String], environment extra: [String: String] = [:], timeout: Double = 60) throws -> ClientRun {
    var environment = environment
    environment.merge(extra) { $1 }
    let process = try FerryProcess(arguments, environment: environment)
    defer { process.terminate() }
    guard let status = process.waitForExit(timeout: timeout) else {
      Issue.record("ferry \(arguments.first ?? "") did not end within \(timeout) s")
      return ClientRun(status: -1, stdout: process.output, stderr: Self.read(process.logPath))
    }
    return ClientRun(status: status, stdout: process.output, stderr: Self.read(process.logPath))
  }

  /// Starts `ferry arguments` without waiting (the caller waits, and stops it by PID).
  func start(_ arguments: [String]) throws -> FerryProcess {
    try FerryProcess(arguments, environment: environment)
  }

  /// A sine tone WAV of `seconds` made by ffmpeg, in the work directory.
  func tone(_ name: String, seconds: Double, sampleRate: Int = 48000) throws -> String {
    let path = work + "/" + name
    let ffmpeg = Process()
    ffmpeg.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    ffmpeg.arguments = [
      "ffmpeg", "-loglevel", "error", "-y", "-f", "lavfi", "-i", "sine=f=440:d=\(seconds):sample_rate=\(sampleRate)",
      "-af", "volume=-12dB", path,
    ]
    try ffmpeg.run()
    ffmpeg.waitUntilExit()
    guard ffmpeg.terminationStatus == 0 else { throw RawHTTPClient.ClientError(description: "ffmpeg failed") }
    return path
  }

  /// The first audio stream's codec name, from ffprobe.
  static func codec(of path: String) throws -> String {
    let probe = Process()
    probe.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    probe.arguments = [
      "ffprobe", "-v", "error", "-select_streams", "a:0", "-show_entries", "stream=codec_name", "-of", "csv=p=0", path,
    ]
    let out = Pipe()
    probe.standardOutput = out
    try probe.run()
    let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    probe.waitUntilExit()
    return text.trimmingCharacters(in: .whitespacesAndNewlines)
  }

  /// A loopback port that nothing listens on.
  static func closedPort() -> Int {
    let sock = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(sock) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
        bind(sock, pointer, length) == 0 ? getsockname(sock, pointer, &length) : -1
      }
    }
    return Int(UInt16(bigEndian: address.sin_port))
  }

  static func read(_ path: String) -> String { (try? String(contentsOfFile: path, encoding: .utf8)) ?? "" }
}
