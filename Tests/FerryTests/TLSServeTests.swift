import Foundation
import TestSupport
import Testing

/// `ferry serve` with `server.tls.*`: HTTPS only on the configured port, https public URLs, and a certificate
/// it cannot load stops startup with the reason.
@Suite(.serialized) struct TLSServeTests {
  @Test func servesHTTPSWithTheConfiguredCertificate_andHandsOutHTTPSURLs() throws {
    let certificates = try TestCertificates()
    defer { certificates.remove() }
    let ferry = try FerryProcess(
      ["serve"],
      environment: [
        "FERRY_SERVER_PORT": "0", "FERRY_SERVER_TLS_CERT": certificates.certificatePath,
        "FERRY_SERVER_TLS_KEY": certificates.keyPath,
      ])
    defer { ferry.terminate() }
    let port = try ferry.waitForPort()
    let health = try runTool(
      ["curl", "-sS", "--cacert", certificates.caPath, "-w", " %{http_code}", "https://127.0.0.1:\(port)/health"],
      timeout: 20)
    #expect(health.stdout.hasSuffix(" 200") && health.stdout.contains(#""status":"ok""#), "\(health.stderr)")
    #expect(ferry.logLines.contains { $0.contains(#""public_url":"https://127.0.0.1:\#(port)""#) })
    // Plain HTTP to the same port is answered, not left hanging.
    let plain = try runTool(
      ["curl", "-sS", "-m", "10", "-w", " %{http_code}", "http://127.0.0.1:\(port)/health"], timeout: 15)
    #expect(plain.stdout.hasSuffix(" 400"), "\(plain.stdout) \(plain.stderr)")

    // `ferry health` (the container health check) against the private CA: with it, through --ca-file or
    // FERRY_CA_FILE; without it the certificate is unknown; a CA file it cannot read is a usage error.
    let url = "https://127.0.0.1:\(port)"
    let withOption = try FerryProcess(["health", "--ca-file", certificates.caPath, url])
    #expect(withOption.waitForExit() == 0 && withOption.output == "ok\n")
    let withVariable = try FerryProcess(["health", url], environment: ["FERRY_CA_FILE": certificates.caPath])
    #expect(withVariable.waitForExit() == 0)
    let unknown = try FerryProcess(["health", url])
    #expect(unknown.waitForExit() == 1)
    #expect(unknown.logLines.joined().lowercased().contains("certificate"), "\(unknown.logLines)")
    let missing = try FerryProcess(["health", url], environment: ["FERRY_CA_FILE": "/nonexistent/ca.pem"])
    #expect(missing.waitForExit() == 2 && missing.logLines.joined().contains("FERRY_CA_FILE"))
  }

  @Test func sighupAndFileChangesReloadTheCertificate_aBadFileKeepsTheCurrentOne() throws {
    let certificates = try TestCertificates()
    defer { certificates.remove() }
    try certificates.issue(name: "second", commonName: "ferry-second")
    try certificates.issue(name: "third", commonName: "ferry-third")
    let ferry = try FerryProcess(
      ["serve"],
      environment: [
        "FERRY_SERVER_PORT": "0", "FERRY_SERVER_TLS_CERT": certificates.certificatePath,
        "FERRY_SERVER_TLS_KEY": certificates.keyPath,
      ])
    defer { ferry.terminate() }
    let port = try ferry.waitForPort()
    func subject() throws -> String {
      let result = try runTool(
        ["curl", "-sS", "-v", "--cacert", certificates.caPath, "-o", "/dev/null", "https://127.0.0.1:\(port)/health"],
        timeout: 20)
      return result.stderr.split(separator: "\n").first { $0.contains("subject:") }.map(String.init) ?? result.stderr
    }
    func install(_ name: String) throws {
      // Key first, certificate last, each through a rename: the watcher never sees a mismatched pair for long.
      for (from, to) in [(name + ".key", certificates.keyPath), (name + ".pem", certificates.certificatePath)] {
        let staged = to + ".new"
        try? FileManager.default.removeItem(atPath: staged)
        try FileManager.default.copyItem(atPath: certificates.directory + "/" + from, toPath: staged)
        guard rename(staged, to) == 0 else { throw ToolError(description: "rename \(staged)") }
      }
    }
    #expect(try subject().contains("CN=127.0.0.1"))

    // SIGHUP: the next connection gets the new certificate.
    try install("second")
    ferry.send(SIGHUP)
    #expect(
      eventually { ferry.logLines.contains { $0.contains(#""trigger":"SIGHUP""#) } }, "\(ferry.logLines.suffix(4))")
    #expect(try subject().contains("CN=ferry-second"))

    // A garbage certificate on SIGHUP: logged, and the last good one stays.
    try "garbage\n".write(toFile: certificates.certificatePath, atomically: true, encoding: .utf8)
    ferry.send(SIGHUP)
    #expect(eventually { ferry.logLines.contains { $0.contains("certificate reload failed") } })
    #expect(try subject().contains("CN=ferry-second"))

    // The files change without a signal: picked up within a few seconds.
    try install("third")
    #expect(eventually(timeout: 10) { (try? subject())?.contains("CN=ferry-third") == true })
    #expect(
      eventually {
        ferry.logLines.contains { $0.contains("certificate reloaded") && $0.contains(#""trigger":"file changed""#) }
      })
    #expect(ferry.waitForExit(timeout: 0.1) == nil, "still running")
  }

  /// Docker/compose.tls.yaml stays true to the configuration: Ferry takes its variables without an
  /// unknown-variable warning and serves HTTPS with them, and its health check command passes. /certs is
  /// mapped to a test CA's folder (the same file names), the port to a free one.
  @Test func theDockerTLSExample_servesHTTPS_andItsHealthCheckPasses() throws {
    let certificates = try TestCertificates()
    defer { certificates.remove() }
    let compose = try String(contentsOfFile: S3Peers.packageRoot + "/Docker/compose.tls.yaml", encoding: .utf8)
    let lines = compose.split(separator: "\n").map(String.init)
    let mapped = { (text: String) in text.replacingOccurrences(of: "/certs/", with: certificates.directory + "/") }
    var environment: [String: String] = [:]
    if let start = lines.firstIndex(where: { $0.hasPrefix("    environment:") }) {
      for line in lines[(start + 1)...] {
        guard line.hasPrefix("      ") else { break }
        let parts = line.trimmingCharacters(in: .whitespaces).split(separator: ":", maxSplits: 1).map(String.init)
        guard parts.count == 2 else { continue }
        let value = parts[1].trimmingCharacters(in: .whitespaces).trimmingCharacters(
          in: CharacterSet(charactersIn: "\""))
        environment[parts[0]] = mapped(value)
      }
    }
    #expect(environment["FERRY_SERVER_TLS_CERT"] != nil && environment["FERRY_SERVER_TLS_KEY"] != nil, "\(environment)")
    environment["FERRY_SERVER_PORT"] = "0"
    let ferry = try FerryProcess(["serve"], environment: environment)
    defer { ferry.terminate() }
    let port = try ferry.waitForPort()
    #expect(!ferry.logLines.contains { $0.lowercased().contains("unknown") }, "\(ferry.logLines)")
    #expect(ferry.logLines.contains { $0.contains(#""public_url":"https://localhost:8443""#) })

    let test = try #require(lines.first { $0.contains("test: [") })
    let command = try #require(
      try JSONSerialization.jsonObject(with: Data(test.split(separator: ":", maxSplits: 1)[1].utf8)) as? [String])
    #expect(Array(command.prefix(3)) == ["CMD", "ferry", "health"], "\(command)")
    let arguments = command.dropFirst(2).map { mapped($0).replacingOccurrences(of: ":8443", with: ":\(port)") }
    let health = try FerryProcess(arguments)
    #expect(health.waitForExit() == 0, "\(arguments): \(health.logLines)")
  }

  @Test func aCertificateItCannotLoad_stopsStartupWithTheReason() throws {
    let certificates = try TestCertificates()
    defer { certificates.remove() }
    let garbage = certificates.directory + "/garbage.pem"
    try "not a certificate\n".write(toFile: garbage, atomically: true, encoding: .utf8)
    let ferry = try FerryProcess(
      ["serve"],
      environment: [
        "FERRY_SERVER_PORT": "0", "FERRY_SERVER_TLS_CERT": garbage, "FERRY_SERVER_TLS_KEY": certificates.keyPath,
      ])
    #expect(ferry.waitForExit() == 1)
    #expect(ferry.logLines.contains { $0.contains("cannot start") && $0.contains("cannot load the certificate") })
  }
}

/// Polls `condition` every 100 ms for up to `timeout` seconds.
private func eventually(timeout: Double = 5, _ condition: () -> Bool) -> Bool {
  let deadline = Date().addingTimeInterval(timeout)
  while Date() < deadline {
    if condition() { return true }
    usleep(100_000)
  }
  return condition()
}

/// The README's first job through the `ferry` client over HTTPS: token, upload to a pre-signed https storage
/// URL, enhance, poll, download.
@Suite(.serialized) struct TLSClientFlowTests {
  @Test(.timeLimit(.minutes(2)))
  func theClientRunsAnEnhanceJobOverHTTPS_withTheCAFile_andRefusesAnUnknownCertificateWithout() throws {
    let certificates = try TestCertificates()
    defer { certificates.remove() }
    let harness = try ClientHarness(environment: [
      "FERRY_SERVER_TLS_CERT": certificates.certificatePath, "FERRY_SERVER_TLS_KEY": certificates.keyPath,
    ])
    let https = ["FERRY_SERVER": "https://127.0.0.1:\(harness.port)"]
    let tone = try harness.tone("tone.wav", seconds: 2)
    let out = harness.work + "/enhanced.wav"
    let run = try harness.run(
      ["enhance", tone, out, "--quiet"] + ClientCommandTests.poll,
      environment: https.merging(["FERRY_CA_FILE": certificates.caPath]) { $1 })
    #expect(run.status == 0, "\(run.stderr)")
    let size = (try? FileManager.default.attributesOfItem(atPath: out)[.size] as? Int) ?? 0
    #expect(size > 44, "the enhanced WAV was downloaded over https")
    #expect(harness.server.logLines.contains { $0.contains(#""path":"/storage/v1/"#) })

    // Without the CA the certificate is unknown: the client stops instead of talking to it.
    let refused = try harness.run(["jobs"], environment: https)
    #expect(refused.status != 0)
    #expect(refused.stderr.lowercased().contains("certificate"), "\(refused.stderr)")
    #expect(!refused.all.contains(ClientHarness.secret))
    let missing = try harness.run(["jobs"], environment: https.merging(["FERRY_CA_FILE": "/nonexistent.pem"]) { $1 })
    #expect(missing.status == 64 && missing.stderr.contains("FERRY_CA_FILE"), "\(missing.stderr)")
  }
}
