import Foundation
import TestSupport
import Testing

/// Dolby's own Python client (`dolbyio-rest-apis`, pinned in requirements-test.txt) against a live Ferry:
/// `scripts/dolby-python-client.py` runs every media function it has, unchanged but for the base URL, and
/// fails on any function that does not work and on any recorded failure that now works.
@Suite(.serialized) struct DolbyPythonClientTests {
  /// The .venv's python (make test installs the client there), found beside moto_server on PATH.
  static var python: String? {
    S3Peers.motoServer.map {
      URL(fileURLWithPath: $0).deletingLastPathComponent().appendingPathComponent("python3").path
    }
  }

  @Test(.timeLimit(.minutes(3)))
  func everyMediaFunction_worksUnchangedButForTheBaseURL() async throws {
    // Not skipped: `make test` (and so CI) always installs the client.
    let python = try #require(Self.python, "the .venv's python not found (run make test, which installs it)")
    let work = try makeTemporaryDirectory("ferry-python-client")
    defer { try? FileManager.default.removeItem(atPath: work) }
    let fixtures = try DolbyCorpusTests.makeFixtures()
    for kind in ["wav", "mp4"] {
      try Data(try #require(fixtures[kind])).write(to: URL(fileURLWithPath: "\(work)/fixture.\(kind)"))
    }
    let receiver = try FaultServer { _, _ in .status(200, body: "ok") }
    defer { receiver.stop() }
    let server = try APITestServer(mediaOperations: true)
    defer { Task { await server.stop() } }

    let outputPath = work + "/report.txt"
    FileManager.default.createFile(atPath: outputPath, contents: nil)
    let script = Process()
    script.executableURL = URL(fileURLWithPath: python)
    script.arguments = [S3Peers.packageRoot + "/scripts/dolby-python-client.py"]
    script.environment = [
      "PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin", "HOME": work,
      "FERRY": "http://127.0.0.1:\(server.port)", "KEY": "app-a", "SECRET": "secret-a", "WORK": work,
      "WEBHOOK": "\(receiver.base)/dolby-webhook",
    ]
    // To a file, not a pipe: nothing to drain while it runs.
    let output = try FileHandle(forWritingTo: URL(fileURLWithPath: outputPath))
    script.standardOutput = output
    script.standardError = output
    try script.run()
    // Bounded (about 6 s here); stopped by its PID if it hangs.
    let deadline = Date().addingTimeInterval(150)
    while script.isRunning && Date() < deadline { try await Task.sleep(for: .milliseconds(100)) }
    let finished = !script.isRunning
    if !finished {
      kill(script.processIdentifier, SIGKILL)
      script.waitUntilExit()
    }
    try output.close()
    let printed = (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? ""
    print("Dolby Python client against Ferry:\n\(printed)")
    #expect(finished, "the client script did not finish within 150 s:\n\(printed)")
    #expect(script.terminationStatus == 0, "\(printed)")
    // The run reached the end: the last recorded check is the last function it calls.
    #expect(printed.contains("mastering.get_results"), "\(printed)")
  }
}
