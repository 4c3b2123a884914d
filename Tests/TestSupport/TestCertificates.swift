import Foundation

/// A throwaway CA and a server certificate for 127.0.0.1 and localhost, made with the `openssl` CLI in a
/// temporary directory.
public struct TestCertificates: Sendable {
  public let directory: String
  public var caPath: String { directory + "/ca.pem" }
  public var certificatePath: String { directory + "/server.pem" }
  public var keyPath: String { directory + "/server.key" }

  /// Makes the CA and one server certificate signed by it (RSA, so TLS 1.2's RSA suites can be offered).
  public init() throws {
    directory = try makeTemporaryDirectory("ferry-tls")
    try "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=critical,CA:FALSE\n".write(
      toFile: directory + "/server.ext", atomically: true, encoding: .utf8)
    try makeCA()
    try issue(name: "server", commonName: "127.0.0.1")
  }

  private func makeCA() throws {
    try openssl([
      "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", directory + "/ca.key", "-out", caPath, "-days",
      "2", "-subj", "/CN=Ferry Test CA",
    ])
  }

  /// Issues `<name>.pem` and `<name>.key`, signed by the CA.
  public func issue(name: String, commonName: String) throws {
    let base = directory + "/" + name
    try openssl([
      "req", "-newkey", "rsa:2048", "-nodes", "-keyout", base + ".key", "-out", base + ".csr", "-subj",
      "/CN=\(commonName)",
    ])
    try openssl([
      "x509", "-req", "-in", base + ".csr", "-CA", caPath, "-CAkey", directory + "/ca.key", "-CAcreateserial",
      "-out", base + ".pem", "-days", "2", "-extfile", directory + "/server.ext",
    ])
  }

  private func openssl(_ arguments: [String]) throws {
    let result = try runTool(["openssl"] + arguments, timeout: 30)
    guard result.status == 0 else {
      throw ToolError(description: "openssl \(arguments.first ?? ""): \(result.stderr)")
    }
  }

  public func remove() {
    try? FileManager.default.removeItem(atPath: directory)
  }
}

/// A tool failed.
public struct ToolError: Error, CustomStringConvertible {
  public var description: String
  public init(description: String) { self.description = description }
}

/// What a tool printed and how it ended.
public struct ToolResult: Sendable {
  public var status: Int32
  public var stdout: String
  public var stderr: String
  /// Whether it ran past its timeout and was killed.
  public var timedOut: Bool
}

/// Runs a command found on PATH with `input` on stdin; killed (by its PID) after `timeout` seconds.
public func runTool(_ command: [String], input: Data = Data(), timeout: Double) throws -> ToolResult {
  let process = Process()
  process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
  process.arguments = command
  let stdin = Pipe()
  let stdout = Pipe()
  let stderr = Pipe()
  process.standardInput = stdin
  process.standardOutput = stdout
  process.standardError = stderr
  let finished = DispatchSemaphore(value: 0)
  process.terminationHandler = { _ in finished.signal() }
  try process.run()
  // Read both pipes while the tool runs, so a chatty tool never blocks on a full pipe.
  let collected = OutputCollector()
  let group = DispatchGroup()
  for (pipe, isError) in [(stdout, false), (stderr, true)] {
    DispatchQueue.global().async(group: group) {
      collected.store(pipe.fileHandleForReading.readDataToEndOfFile(), isError: isError)
    }
  }
  stdin.fileHandleForWriting.write(input)
  try? stdin.fileHandleForWriting.close()
  var timedOut = false
  if finished.wait(timeout: .now() + timeout) == .timedOut {
    timedOut = true
    kill(process.processIdentifier, SIGKILL)
    finished.wait()
  }
  group.wait()
  return ToolResult(
    status: process.terminationStatus, stdout: String(decoding: collected.out, as: UTF8.self),
    stderr: String(decoding: collected.err, as: UTF8.self), timedOut: timedOut)
}

private final class OutputCollector: @unchecked Sendable {
  private let lock = NSLock()
  private(set) var out = Data()
  private(set) var err = Data()
  func store(_ data: Data, isError: Bool) {
    lock.withLock {
      if isError { err = data } else { out = data }
    }
  }
}
