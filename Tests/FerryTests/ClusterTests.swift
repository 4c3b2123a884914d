import Foundation
import Synchronization
import TestSupport
import Testing

/// Several nodes, as operators run them: three `ferry serve` processes on one PostgreSQL job store and one
/// S3 bucket for temporary storage (moto behind the strict SigV4 proxy). Jobs go in round-robin, one node is
/// killed with SIGKILL mid-run and restarted; every job must end `Success`, be readable from every node, have
/// its result in the shared storage and its webhook delivered once, and a cancel sent to one node must stop
/// the job another node runs.
@Suite(
  .serialized,
  .enabled(if: PostgresPeer.unavailable == nil, "PostgreSQL unavailable"),
  .enabled(if: S3Peers.unavailable == nil, "S3 peers unavailable"))
struct ClusterTests {
  static let (s3Key, s3Secret, bucket) = ("AKIDCLUSTER", "cluster/secret", "ferry-temp")

  @Test(.timeLimit(.minutes(5)))
  func threeNodes_oneKilled_everyJobSucceedsOnce_andACancelCrossesNodes() async throws {
    let database = try PostgresPeer.shared().makeDatabase()
    let s3 = try S3Peers(key: Self.s3Key, secret: Self.s3Secret)
    defer { s3.stop() }
    try s3.createBucket(Self.bucket)
    let work = try makeTemporaryDirectory("ferry-cluster")
    let input = try LiveNode.tone(work + "/tone.wav")
    // Inputs trickle in (0.4 s each), so every node is mid-job most of the time; `/slow/` ones take 60 s.
    let peer = try FaultServer { request, _ in
      request.target.hasPrefix("/slow/") ? .stall(body: input, seconds: 60) : .stall(body: input, seconds: 0.4)
    }
    defer { peer.stop() }
    let hooks = try FaultServer { _, _ in .status(204) }
    defer { hooks.stop() }

    var environment = [
      "FERRY_SERVER_PORT": "0", "FERRY_NETWORK_ALLOW": #"["127.0.0.0/8"]"#,
      "FERRY_AUTH_APPS": #"[{"key": "cluster-app", "secret": "cluster-secret"}]"#,
      "FERRY_SECRETS_KEY": Data(repeating: 7, count: 32).base64EncodedString(),
      "FERRY_STORE_KIND": "postgres", "FERRY_STORE_URL": database,
      "FERRY_STORAGE_KIND": "s3", "FERRY_STORAGE_S3_BUCKET": Self.bucket, "FERRY_STORAGE_S3_ENDPOINT": s3.proxyEndpoint,
      "FERRY_STORAGE_S3_KEY": Self.s3Key, "FERRY_STORAGE_S3_SECRET": Self.s3Secret,
      "FERRY_WORKERS_CONCURRENCY": "1", "FERRY_JOBS_LEASE_S": "3", "FERRY_JOBS_MAX_ATTEMPTS": "6",
      "FERRY_WEBHOOKS_INITIAL_BACKOFF_S": "0.2", "FERRY_AUTH_RATE_LIMIT_PER_S": "100000",
      "FERRY_AUTH_RATE_LIMIT_BURST": "100000",
    ]
    func start(_ index: Int) throws -> (FerryProcess, Int) {
      environment["FERRY_DATA_DIR"] = work + "/node-\(index)"
      let node = try FerryProcess(["serve"], environment: environment)
      return (node, try node.waitForPort())
    }
    var nodes: [FerryProcess] = []
    var ports: [Int] = []
    for index in 0..<3 {
      let (node, port) = try start(index)
      nodes.append(node)
      ports.append(port)
    }
    defer { for node in nodes { node.terminate() } }

    // A token from one node is good on every node (they share the master key).
    let token = try await LiveNode.token(port: ports[0], key: "cluster-app", secret: "cluster-secret")
    let webhook = try await LiveNode.send(
      port: ports[1], "POST", "/media/webhooks", token: token, body: #"{"callback": {"url": "\#(hooks.base)/hook"}}"#)
    #expect(webhook.status == 200, "\(webhook.text)")

    var ids: [String] = []
    for index in 0..<60 {
      let body = #"{"input": "\#(peer.base)/in/\#(index).wav", "output": "dlb://out/\#(index).wav"}"#
      let answer = try await LiveNode.send(port: ports[index % 3], "POST", "/media/enhance", token: token, body: body)
      #expect(answer.status == 200, "\(answer.text)")
      ids.append(try #require(answer.json["job_id"] as? String))
    }

    // SIGKILL one node mid-run; its jobs' leases run out and the others take them back.
    try await Task.sleep(for: .milliseconds(Int.random(in: 1500...3000)))
    nodes[1].send(SIGKILL)
    #expect(nodes[1].waitForExit(timeout: 10) != nil)
    var statuses: [String: String] = [:]
    let deadline = Date() + 180
    while Date() < deadline {
      for id in ids where statuses[id] == nil || ["Pending", "Running"].contains(statuses[id]!) {
        let answer = try await LiveNode.send(port: ports[0], "GET", "/media/enhance?job_id=\(id)", token: token)
        statuses[id] = answer.json["status"] as? String
      }
      if statuses.values.allSatisfy({ !["Pending", "Running"].contains($0) }) { break }
      try await Task.sleep(for: .milliseconds(250))
    }
    #expect(statuses.count == 60 && statuses.values.allSatisfy { $0 == "Success" }, "\(statuses.values.sorted())")
    let takenBack = [nodes[0], nodes[2]].flatMap(\.logLines).filter { $0.contains("job taken back") }
    #expect(!takenBack.isEmpty, "the kill landed while the node ran a job")

    // The killed node comes back; every job reads the same from every node, result included.
    let (restarted, port) = try start(1)
    nodes[1] = restarted
    ports[1] = port
    for (index, id) in ids.enumerated() {
      for node in 0..<3 {
        let answer = try await LiveNode.send(port: ports[node], "GET", "/media/enhance?job_id=\(id)", token: token)
        #expect(answer.json["status"] as? String == "Success", "job \(index) on node \(node): \(answer.text)")
      }
      // The result is in the shared bucket: any node redirects to it.
      let redirect = try await LiveNode.send(
        port: ports[(index + 1) % 3], "GET", "/media/output?url=dlb://out/\(index).wav", token: token)
      let location = try #require(redirect.header("Location"), "\(redirect.status) \(redirect.text)")
      let file = try await LiveNode.get(location)
      #expect(file.status == 200 && file.body.starts(with: Array("RIFF".utf8)), "output \(index): \(file.status)")
    }

    // One webhook per job: every attempt for a job carries the same webhook-id, and no job is missing. A
    // delivery the killed node had taken comes due again after its hold (45 s): wait past it.
    var calls: [String: Set<String>] = [:]
    let hookDeadline = Date() + 60
    while Date() < hookDeadline {
      calls = [:]
      for request in hooks.requests {
        let body = (try? JSONSerialization.jsonObject(with: Data(request.body))) as? [String: Any]
        if let job = body?["job_id"] as? String { calls[job, default: []].insert(request.header("webhook-id") ?? "") }
      }
      if calls.count == 60 { break }
      try await Task.sleep(for: .milliseconds(250))
    }
    #expect(calls.count == 60 && Set(calls.keys) == Set(ids), "\(calls.count) jobs called back")
    #expect(calls.values.allSatisfy { $0.count == 1 }, "a job called back under two webhook ids")

    // A cancel through one node stops the job that another node runs.
    let slow = try await LiveNode.send(
      port: ports[0], "POST", "/media/enhance", token: token,
      body: #"{"input": "\#(peer.base)/slow/in.wav", "output": "dlb://out/slow.wav"}"#)
    let slowID = try #require(slow.json["job_id"] as? String)
    var runner: Int?
    for _ in 0..<200 where runner == nil {
      runner = (0..<3).first { node in
        nodes[node].logLines.contains { $0.contains("job started") && $0.contains(slowID) }
      }
      if runner == nil { try await Task.sleep(for: .milliseconds(50)) }
    }
    let running = try #require(runner, "no node started the slow job")
    let canceller = (running + 1) % 3
    let asked = Date()
    let cancel = try await LiveNode.send(
      port: ports[canceller], "POST", "/media/jobs/cancel?job_id=\(slowID)", token: token)
    #expect(cancel.status == 200, "\(cancel.text)")
    var ended: String?
    while Date() < asked + 10, ended != "Cancelled" {
      ended =
        try await LiveNode.send(port: ports[running], "GET", "/media/enhance?job_id=\(slowID)", token: token)
        .json["status"] as? String
      if ended != "Cancelled" { try await Task.sleep(for: .milliseconds(100)) }
    }
    #expect(ended == "Cancelled", "node \(running) still reports \(ended ?? "nothing") 10 s after the cancel")
    #expect(Date().timeIntervalSince(asked) < 5, "the cancel took \(Date().timeIntervalSince(asked)) s to cross nodes")
  }
}
