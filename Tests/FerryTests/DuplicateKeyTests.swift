import Foundation
import TestSupport
import Testing

/// A body that names a key twice is refused before anything is stored: JSON readers disagree on which one
/// counts, so a proxy that checked the body could have seen another output URL than the one Ferry would use.
@Suite(.serialized) struct DuplicateKeyTests {
  @Test func aJobOrWebhookBody_thatGivesAKeyTwice_isRefusedNamingIt() async throws {
    let server = try APITestServer()
    defer { Task { await server.stop() } }
    let token = try await server.token(key: "app-a", secret: "secret-a")
    let auth = ["Authorization": "Bearer \(token)"]
    let job = try await server.request(
      "POST", "/media/copy", headers: auth,
      body: #"{"input": "dlb://in/a.wav", "output": {"url": "dlb://out/a.wav", "url": "dlb://elsewhere/a.wav"}}"#)
    #expect(job.status == 400 && job.json["type"] as? String == "/problems/invalid-request")
    #expect((job.json["detail"] as? String)?.hasPrefix("output.url is given twice") == true, "\(job.text)")
    let listed = try await server.request("GET", "/media/jobs", headers: auth)
    #expect(listed.json["count"] as? Int == 0, "nothing was stored")

    let hook = try await server.request(
      "POST", "/media/webhooks", headers: auth,
      body: #"{"callback": {"url": "https://a.example/hook"}, "callback": {"url": "https://b.example/hook"}}"#)
    #expect(hook.status == 400 && (hook.json["detail"] as? String)?.hasPrefix("callback is given twice") == true)

    let broken = try await server.request("POST", "/media/copy", headers: auth, body: #"{"input": "#)
    #expect(broken.status == 400 && (broken.json["detail"] as? String)?.hasPrefix("the body is not valid JSON") == true)
  }
}
