import Foundation
import TestSupport
import Testing

/// `dlb://` storage over HTTP: hand out a PUT URL, upload, run a job on it, download the result whole and in
/// part, through Ferry's own signed URLs and with a token; and the refusals.
@Suite(.serialized) struct StorageAPITests {
  /// The path and query of one of Ferry's URLs (the tests talk to the port directly).
  func target(_ url: String) -> String {
    let afterScheme = url.dropFirst("http://".count)
    return String(afterScheme[afterScheme.firstIndex(of: "/")!...])
  }

  @Test func uploadProcessDownload_withNothingButHTTP() async throws {
    let server = try APITestServer()
    defer { Task { await server.stop() } }
    let token = try await server.token(key: "app-a", secret: "secret-a")
    let auth = ["Authorization": "Bearer \(token)"]
    let input = testBytes(count: 3 << 20)

    let handed = try await server.request(
      "POST", "/media/input", headers: auth, body: #"{"url": "dlb://in/my talk.wav"}"#)
    #expect(handed.status == 200)
    let putURL = try #require(handed.json["url"] as? String)
    #expect(putURL.hasPrefix("http://127.0.0.1:\(server.port)/storage/v1/") && putURL.contains("my%20talk.wav"))
    // The signed PUT needs no Authorization; the body streams with 100-continue, as clients send it.
    let uploaded = try await server.send(
      "PUT \(target(putURL)) HTTP/1.1\r\nHost: t\r\nConnection: close\r\nContent-Type: audio/wav\r\nContent-Length: \(input.count)\r\n\r\n",
      body: input)
    #expect(uploaded.status == 200, "\(uploaded.text)")

    let posted = try await server.request(
      "POST", "/media/copy", headers: auth, body: #"{"input": "dlb://in/my talk.wav", "output": "dlb://out/copy.wav"}"#)
    let jobID = try #require(posted.json["job_id"] as? String)
    #expect(try await server.waitForEnd(jobID, token: token)["status"] as? String == "Success")

    let whole = try await server.request("GET", "/media/output?url=dlb://out/copy.wav", headers: auth)
    #expect(whole.status == 200 && whole.body == input)
    let part = try await server.request(
      "GET", "/media/output?url=dlb://out/copy.wav", headers: auth.merging(["Range": "bytes=-100"]) { $1 })
    #expect(part.status == 206 && part.body == Array(input.suffix(100)))
    #expect(part.header("Content-Range") == "bytes \(input.count - 100)-\(input.count - 1)/\(input.count)")

    let getHanded = try await server.request(
      "POST", "/media/output", headers: auth, body: #"{"url": "dlb://out/copy.wav"}"#)
    let getURL = try #require(getHanded.json["url"] as? String)
    let signed = try await server.request("GET", target(getURL))
    #expect(signed.status == 200 && signed.body == input)
  }

  @Test func refusals_forgedExpiredForeignAndTraversing() async throws {
    let server = try APITestServer()
    defer { Task { await server.stop() } }
    let a = ["Authorization": "Bearer \(try await server.token(key: "app-a", secret: "secret-a"))"]
    let b = ["Authorization": "Bearer \(try await server.token(key: "app-b", secret: "secret-b"))"]
    let handed = try await server.request("POST", "/media/input", headers: a, body: #"{"url": "dlb://secret.wav"}"#)
    let putURL = try #require(handed.json["url"] as? String)
    let forged = putURL.replacingOccurrences(of: "secret.wav", with: "other.wav")
    let refused = try await server.send(
      "PUT \(target(forged)) HTTP/1.1\r\nHost: t\r\nConnection: close\r\nContent-Length: 3\r\n\r\n", body: [1, 2, 3])
    #expect(refused.status == 403)
    let asGet = try await server.request("GET", target(putURL))
    #expect(asGet.status == 403, "a PUT signature does not open a GET")
    _ = try await server.send(
      "PUT \(target(putURL)) HTTP/1.1\r\nHost: t\r\nConnection: close\r\nContent-Length: 3\r\n\r\n", body: [1, 2, 3])
    // Another app cannot read app A's key, by token or by asking for a URL.
    let foreign = try await server.request("GET", "/media/output?url=dlb://secret.wav", headers: b)
    #expect(foreign.status == 404)
    let foreignURL = try await server.request(
      "POST", "/media/output", headers: b, body: #"{"url": "dlb://secret.wav"}"#)
    #expect(foreignURL.status == 404)
    let mine = try await server.request("GET", "/media/output?url=dlb://secret.wav", headers: a)
    #expect(mine.status == 200 && mine.body == [1, 2, 3])
    for key in ["dlb://../x", "dlb:///etc/passwd", "dlb://a//b", "dlb://a/./b", "https://example.com/x"] {
      let bad = try await server.request("POST", "/media/input", headers: a, body: #"{"url": "\#(key)"}"#)
      #expect(bad.status == 400, "\(key): \(bad.status)")
    }
    let noAuth = try await server.request("POST", "/media/input", body: #"{"url": "dlb://x"}"#)
    #expect(noAuth.status == 401)
    // A key whose parent is already a file is a conflict.
    let child = try await server.request(
      "POST", "/media/input", headers: a, body: #"{"url": "dlb://secret.wav/child"}"#)
    let childURL = try #require(child.json["url"] as? String)
    let conflict = try await server.send(
      "PUT \(target(childURL)) HTTP/1.1\r\nHost: t\r\nConnection: close\r\nContent-Length: 1\r\n\r\n", body: [9])
    #expect(conflict.status == 409)
  }

  @Test func anEmptyUpload_isStoredAndServed() async throws {
    let server = try APITestServer()
    defer { Task { await server.stop() } }
    let auth = ["Authorization": "Bearer \(try await server.token(key: "app-a", secret: "secret-a"))"]
    let handed = try await server.request("POST", "/media/input", headers: auth, body: #"{"url": "dlb://empty.wav"}"#)
    let putURL = try #require(handed.json["url"] as? String)
    let put = try await server.send(
      "PUT \(target(putURL)) HTTP/1.1\r\nHost: t\r\nConnection: close\r\nContent-Length: 0\r\n\r\n")
    #expect(put.status == 200 && put.json["size"] as? Int == 0, "\(put.text)")
    let got = try await server.request("GET", "/media/output?url=dlb://empty.wav", headers: auth)
    #expect(got.status == 200 && got.body.isEmpty && got.header("Content-Length") == "0")
    #expect(try await server.request("GET", "/health").status == 200, "the server is still up")
  }
}
