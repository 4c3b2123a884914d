import Foundation
import TestSupport
import Testing

/// The README's flow, with the curl CLI alone against the real `ferry serve` (scripts/curl-flow.sh).
@Suite(.serialized) struct CurlFlowTests {
  @Test(.timeLimit(.minutes(2)))
  func theReadmeFlow_worksWithCurlAlone() throws {
    let ferry = try FerryProcess(
      ["serve"],
      environment: ["FERRY_SERVER_PORT": "0", "FERRY_AUTH_APPS": #"[{"key": "curl-app", "secret": "curl-secret"}]"#])
    defer { ferry.terminate() }
    let port = try ferry.waitForPort()
    let work = try makeTemporaryDirectory("ferry-curl")
    let script = Process()
    script.executableURL = URL(fileURLWithPath: S3Peers.packageRoot + "/scripts/curl-flow.sh")
    script.environment = [
      "PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin", "FERRY": "http://127.0.0.1:\(port)",
      "KEY": "curl-app", "SECRET": "curl-secret", "WORK": work,
    ]
    let output = Pipe()
    script.standardOutput = output
    try script.run()
    script.waitUntilExit()
    let printed = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    #expect(script.terminationStatus == 0, "\(printed)")
    // The download is the enhanced file: a WAV as long as the 5 s upload.
    let downloaded = try #require(FileManager.default.contents(atPath: work + "/loud.wav"))
    #expect(downloaded.starts(with: Array("RIFF".utf8)) && downloaded.count > 400_000)
  }
}
