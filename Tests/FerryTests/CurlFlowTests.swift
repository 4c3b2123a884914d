import Foundation
import TestSupport
import Testing

/// The README's flow, with the curl CLI alone against the real `ferry serve` (scripts/curl-flow.sh), over HTTP
/// and over HTTPS.
@Suite(.serialized) struct CurlFlowTests {
  @Test(.timeLimit(.minutes(2)))
  func theReadmeFlow_worksWithCurlAlone() throws {
    let ferry = try FerryProcess(
      ["serve"],
      environment: ["FERRY_SERVER_PORT": "0", "FERRY_AUTH_APPS": #"[{"key": "curl-app", "secret": "curl-secret"}]"#])
    defer { ferry.terminate() }
    let port = try ferry.waitForPort()
    try Self.runFlow(base: "http://127.0.0.1:\(port)")
  }

  /// The same flow over HTTPS with a private CA (curl takes it from CURL_CA_BUNDLE): the token's secret, the
  /// upload to the pre-signed https storage URL and the download from `/media/output` all travel encrypted,
  /// and `/metrics` counts the file body sent over TLS.
  @Test(.timeLimit(.minutes(2)))
  func theReadmeFlow_worksWithCurlOverHTTPS() throws {
    let certificates = try TestCertificates()
    defer { certificates.remove() }
    let ferry = try FerryProcess(
      ["serve"],
      environment: [
        "FERRY_SERVER_PORT": "0", "FERRY_AUTH_APPS": #"[{"key": "curl-app", "secret": "curl-secret"}]"#,
        "FERRY_SERVER_TLS_CERT": certificates.certificatePath, "FERRY_SERVER_TLS_KEY": certificates.keyPath,
      ])
    defer { ferry.terminate() }
    let port = try ferry.waitForPort()
    try Self.runFlow(base: "https://127.0.0.1:\(port)", environment: ["CURL_CA_BUNDLE": certificates.caPath])
    #expect(ferry.logLines.contains { $0.contains(#""method":"PUT","path":"/storage/v1/"#) })
    let metrics = try runTool(
      ["curl", "-sS", "--cacert", certificates.caPath, "https://127.0.0.1:\(port)/metrics"], timeout: 20)
    let counted = metrics.stdout.split(separator: "\n").filter { $0.hasPrefix("ferry_tls_file_bodies_total") }
    let total = counted.compactMap { $0.split(separator: " ").last.flatMap { Int($0) } }.reduce(0, +)
    #expect(counted.count == 2 && total >= 1, "\(counted)")
    print("over HTTPS: \(counted.joined(separator: ", "))")
  }

  /// Runs scripts/curl-flow.sh against `base` and checks the download: a WAV as long as the 5 s upload.
  private static func runFlow(base: String, environment: [String: String] = [:]) throws {
    let work = try makeTemporaryDirectory("ferry-curl")
    defer { try? FileManager.default.removeItem(atPath: work) }
    let script = Process()
    script.executableURL = URL(fileURLWithPath: S3Peers.packageRoot + "/scripts/curl-flow.sh")
    script.environment = [
      "PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin", "FERRY": base,
      "KEY": "curl-app", "SECRET": "curl-secret", "WORK": work,
    ].merging(environment) { $1 }
    let output = Pipe()
    script.standardOutput = output
    try script.run()
    script.waitUntilExit()
    let printed = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    #expect(script.terminationStatus == 0, "\(printed)")
    let downloaded = try #require(FileManager.default.contents(atPath: work + "/loud.wav"))
    #expect(downloaded.starts(with: Array("RIFF".utf8)) && downloaded.count > 400_000)
  }
}
