import Foundation
import TestSupport
import Testing

/// openapi.yaml against the real `ferry serve`: the pinned schemathesis (scripts/schemathesis.sh) sends
/// generated requests to every operation and fails on any 5xx or any answer the spec does not describe.
@Suite(.serialized) struct SchemathesisTests {
  /// `schemathesis` from PATH (make test puts .venv/bin there) or the package's .venv.
  static var schemathesis: String? {
    let candidates =
      (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":").map { "\($0)/schemathesis" }
      + [S3Peers.packageRoot + "/.venv/bin/schemathesis"]
    return candidates.first { FileManager.default.isExecutableFile(atPath: $0) }
  }

  /// Whether `command` ran and exited 0.
  static func run(_ command: [String]) -> Bool {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: command[0])
    process.arguments = Array(command.dropFirst())
    process.standardError = FileHandle(forWritingAtPath: "/dev/null")
    guard (try? process.run()) != nil else { return false }
    process.waitUntilExit()
    return process.terminationStatus == 0
  }

  @Test(.timeLimit(.minutes(5)))
  func everyOperation_answersAsTheSpecSays_withNoServerError() throws {
    // Unlike the S3 peers this is not skipped: `make test` (and so CI) always installs it.
    let schemathesis = try #require(
      Self.schemathesis, "schemathesis not found (run make test, which installs it into .venv)")
    // Generated jobs name any URL, and public addresses pass the network policy: ferry runs in a network
    // namespace of its own with only loopback up, so nothing (not even a DNS query) leaves the machine. Niced,
    // with its ffmpeg children: the rest of the suite runs beside it on 2 cores.
    try #require(
      Self.run(["/usr/bin/unshare", "--net", "--", "/bin/true"]),
      "unshare --net failed: this test needs a network namespace (root, as make test runs in CI)")
    let ferry = try FerryProcess(
      ["serve"],
      environment: [
        "FERRY_SERVER_PORT": "0", "FERRY_AUTH_APPS": #"[{"key": "schema-app", "secret": "schema-secret"}]"#,
        "FERRY_AUTH_RATE_LIMIT_PER_S": "100000", "FERRY_AUTH_RATE_LIMIT_BURST": "100000",
        "FERRY_WORKERS_CONCURRENCY": "1",
      ],
      launcher: [
        "/usr/bin/unshare", "--net", "--", "/bin/sh", "-c",
        #"PATH="$PATH:/usr/sbin:/sbin" ip link set lo up && exec /usr/bin/nice -n 10 "$@""#, "sh",
      ])
    defer { ferry.terminate() }
    let port = try ferry.waitForPort()
    let work = try makeTemporaryDirectory("ferry-schemathesis")
    defer { try? FileManager.default.removeItem(atPath: work) }
    let outputPath = work + "/schemathesis.txt"
    FileManager.default.createFile(atPath: outputPath, contents: nil)
    let script = Process()
    // In ferry's namespace, niced like ferry: it is CPU-bound and shares 2 cores with the rest of the suite,
    // some of it timing-sensitive. nsenter, nice and the script exec, so the PID stays schemathesis's own.
    script.executableURL = URL(fileURLWithPath: "/usr/bin/nsenter")
    script.arguments = [
      "--net=/proc/\(ferry.process.processIdentifier)/ns/net", "--", "/usr/bin/nice", "-n", "10",
      S3Peers.packageRoot + "/scripts/schemathesis.sh",
    ]
    script.environment = [
      "PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin", "HOME": work,
      "FERRY": "http://127.0.0.1:\(port)", "KEY": "schema-app", "SECRET": "schema-secret", "WORK": work,
      "SCHEMATHESIS": schemathesis,
    ]
    // To a file, not a pipe: the report can outgrow a pipe's buffer before the process exits.
    let output = try FileHandle(forWritingTo: URL(fileURLWithPath: outputPath))
    script.standardOutput = output
    script.standardError = output
    try script.run()
    // Bounded: about 20 s alone on 2 cores, 50 s beside the other Ferry tests; stopped by its PID if it hangs.
    let deadline = Date().addingTimeInterval(240)
    while script.isRunning && Date() < deadline { usleep(100_000) }
    let finished = !script.isRunning
    if !finished {
      kill(script.processIdentifier, SIGKILL)
      script.waitUntilExit()
    }
    try output.close()
    let printed = (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? ""
    // A 5xx is logged with its request id: show those lines beside the report.
    let errors = ferry.logLines.filter { $0.contains(#""level":"error""#) }.suffix(20).joined(separator: "\n")
    #expect(finished, "schemathesis did not finish within 240 s:\n\(printed)\n\(errors)")
    #expect(script.terminationStatus == 0, "\(printed)\n\(errors)")
  }
}
