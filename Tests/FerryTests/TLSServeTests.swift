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
