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
    #expect(eventually { ferry.logLines.contains { $0.contains(#""trigger":"SIGHUP""#) } })
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
