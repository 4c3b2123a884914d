import Foundation
import TestSupport
import Testing

/// `store.kind = "postgres"` end to end: two in-process Ferry nodes on one database of the shared test cluster.
@Suite struct PostgresStoreTests {
  @Test func aJobSubmittedToOneNode_runsOnAnother_andIsReadableFromBoth() async throws {
    let input = testBytes(count: 50_000)
    let peer = try FaultServer { request, _ in request.method == "GET" ? .serve(body: input) : .status(200) }
    defer { peer.stop() }
    let url = try await blocking { try PostgresPeer.shared().makeDatabase() }
    // Nodes of one cluster share the master key (job encryption, tokens) and the store.
    let shared = [
      "FERRY_STORE_KIND": "postgres", "FERRY_STORE_URL": url,
      "FERRY_SECRETS_KEY": Data(repeating: 7, count: 32).base64EncodedString(),
    ]
    // Node A only takes requests (no workers); node B only runs what the store holds.
    let apiNode = try APITestServer(extraEnvironment: shared.merging(["FERRY_WORKERS_CONCURRENCY": "0"]) { $1 })
    defer { Task { await apiNode.stop() } }
    let workerNode = try APITestServer(extraEnvironment: shared)
    defer { Task { await workerNode.stop() } }

    let token = try await apiNode.token(key: "app-a", secret: "secret-a")
    let posted = try await apiNode.request(
      "POST", "/media/copy", headers: ["Authorization": "Bearer \(token)"],
      body: #"{"input": "\#(peer.base)/in.wav", "output": "\#(peer.base)/out.wav"}"#)
    #expect(posted.status == 200)
    let jobID = try #require(posted.json["job_id"] as? String)
    let done = try await apiNode.waitForEnd(jobID, token: token, timeout: 30)
    #expect(done["status"] as? String == "Success")
    #expect(peer.requests.first { $0.method == "PUT" }?.body == input)
    let seenByB = try await workerNode.request(
      "GET", "/media/copy?job_id=\(jobID)", headers: ["Authorization": "Bearer \(token)"])
    #expect(seenByB.json["status"] as? String == "Success")
    #expect(try await apiNode.request("GET", "/ready").status == 200)
  }

  @Test func anUnreachableStore_stopsStartup_withoutQuotingItsURL() async throws {
    let port = try S3Peers.freePort()  // nothing listens there
    let url = "postgresql://ferry:pw-s3cret-4711@127.0.0.1:\(port)/ferry"
    let message = try await blocking { () -> String in
      do {
        _ = try APITestServer(extraEnvironment: ["FERRY_STORE_KIND": "postgres", "FERRY_STORE_URL": url])
        return "started"
      } catch {
        return String(describing: error)
      }
    }
    #expect(message != "started" && message.contains("127.0.0.1"), "\(message)")
    #expect(!message.contains("pw-s3cret-4711"))
  }
}
