import Foundation
import TestSupport
import Testing

/// Credentials are checked from the head, before a byte of the body is read: a client without them cannot
/// hold a connection open by promising a large body and sending it slowly (issue 18's slow-body attack).
@Suite(.serialized) struct CredentialsBeforeBodyTests {
  @Test(arguments: [
    ("/media/copy", ""), ("/media/webhooks", ""), ("/media/input", ""), ("/media/jobs/cancel?job_id=x", ""),
    ("/v1/auth/token", "Authorization: Basic \(Data("app-a:wrong".utf8).base64EncodedString())\r\n"),
  ])
  func aPostWithoutValidCredentials_isAnswered401_beforeItsBodyArrives(path: String, headers: String) async throws {
    let server = try APITestServer()
    defer { Task { await server.stop() } }
    let started = Date()
    // The head promises 100,000 bytes; none follows.
    let response = try await server.send(
      "POST \(path) HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n\(headers)Content-Length: 100000\r\n\r\n"
    )
    #expect(response.status == 401, "\(path): \(response.text)")
    #expect(response.header("WWW-Authenticate") != nil && response.header("Connection")?.lowercased() == "close")
    #expect(Date().timeIntervalSince(started) < 2, "answered without waiting for the body")
  }

  @Test func aPostWithValidCredentials_stillReadsItsBody() async throws {
    let server = try APITestServer()
    defer { Task { await server.stop() } }
    let token = try await server.token(key: "app-a", secret: "secret-a")
    let body = #"{"url": "dlb://in/a.wav"}"#
    let answer = try await server.request(
      "POST", "/media/input", headers: ["Authorization": "Bearer \(token)"], body: body)
    #expect(answer.status == 200 && (answer.json["url"] as? String)?.contains("/storage/v1/") == true)
  }
}
