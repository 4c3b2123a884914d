import Foundation
import TestSupport
import Testing

/// Split and stitch on three `ferry serve` nodes (one PostgreSQL job store, one S3 bucket for temporary
/// storage): the pieces of one long transcode spread over the nodes, and a node other than the parent's is
/// SIGKILLed while it encodes a piece; its piece's lease runs out, another node encodes it, and the job
/// succeeds with every frame of the input. Then a cancel sent to a node that does not run a second such job
/// stops every piece on every node within 2 s.
@Suite(
  .serialized,
  .enabled(if: PostgresPeer.unavailable == nil, "PostgreSQL unavailable"),
  .enabled(if: S3Peers.unavailable == nil, "S3 peers unavailable"))
struct ClusterStitchTests {
  static let (s3Key, s3Secret, bucket) = ("AKIDSTITCH", "stitch/secret", "ferry-stitch")

  @Test(.timeLimit(.minutes(3)))
  func aNodeKilledMidPiece_doesNotFailTheJob_andACancelStopsEveryPiece() async throws {
    let database = try PostgresPeer.shared().makeDatabase()
    let s3 = try S3Peers(key: Self.s3Key, secret: Self.s3Secret)
    defer { s3.stop() }
    try s3.createBucket(Self.bucket)
    let work = try makeTemporaryDirectory("ferry-cluster-stitch")
    // 30 s of 480x360 video at 30 fps with a key frame every second, and AAC: 4 pieces of 5 s, then 4 of 2-3 s. Its index comes
    // first, so the parent's node starts reading it as it arrives, and must wait for the whole to cut it.
    let made = Process()
    made.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    made.arguments = [
      "ffmpeg", "-loglevel", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=480x360:rate=30:duration=30", "-f",
      "lavfi", "-i", "sine=f=440:sample_rate=48000:duration=30", "-c:v", "libx264", "-preset", "ultrafast", "-g",
      "30", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest", "-movflags", "+faststart", work + "/long.mp4",
    ]
    try made.run()
    made.waitUntilExit()
    let input = Array(try Data(contentsOf: URL(fileURLWithPath: work + "/long.mp4")))
    let peer = try FaultServer { _, _ in .serve(body: input) }
    defer { peer.stop() }

    var environment = [
      "FERRY_SERVER_PORT": "0", "FERRY_NETWORK_ALLOW": #"["127.0.0.0/8"]"#,
      "FERRY_AUTH_APPS": #"[{"key": "stitch-app", "secret": "stitch-secret"}]"#,
      "FERRY_SECRETS_KEY": Data(repeating: 9, count: 32).base64EncodedString(),
      "FERRY_STORE_KIND": "postgres", "FERRY_STORE_URL": database,
      "FERRY_STORAGE_KIND": "s3", "FERRY_STORAGE_S3_BUCKET": Self.bucket, "FERRY_STORAGE_S3_ENDPOINT": s3.proxyEndpoint,
      "FERRY_STORAGE_S3_KEY": Self.s3Key, "FERRY_STORAGE_S3_SECRET": Self.s3Secret,
      "FERRY_WORKERS_CONCURRENCY": "1", "FERRY_JOBS_LEASE_S": "2", "FERRY_JOBS_MAX_ATTEMPTS": "4",
      "FERRY_MEDIA_SPLIT_MIN_DURATION_S": "10", "FERRY_MEDIA_SPLIT_PIECE_DURATION_S": "5",
    ]
    var nodes: [FerryProcess] = []
    var ports: [Int] = []
    for index in 0..<3 {
      environment["FERRY_DATA_DIR"] = work + "/node-\(index)"
      let node = try FerryProcess(["serve"], environment: environment)
      nodes.append(node)
      ports.append(try node.waitForPort())
    }
    defer {
      for node in nodes { node.terminate() }
      // Any ffmpeg a failed run left behind.
      for process in StitchProcesses.find(containing: work + "/node-", named: "ff") { kill(process, SIGKILL) }
    }

    let token = try await LiveNode.token(port: ports[0], key: "stitch-app", secret: "stitch-secret")
    let body =
      #"{"inputs": [{"source": "\#(peer.base)/long.mp4"}], "outputs": [{"kind": "mp4", "destination": "dlb://out/long.mp4"}]}"#
    let answer = try await LiveNode.send(port: ports[0], "POST", "/media/transcode", token: token, body: body)
    let id = try #require(answer.json["job_id"] as? String, "\(answer.text)")

    // The parent's node, then a piece's ffmpeg on another node: that node is killed.
    var parentNode: Int?
    var victim: Int?
    for _ in 0..<6000 where victim == nil {
      parentNode =
        parentNode
        ?? (0..<3).first { node in nodes[node].logLines.contains { $0.contains("job started") && $0.contains(id) } }
      if let parentNode {
        victim = (0..<3).first { node in
          node != parentNode
            && !StitchProcesses.find(containing: work + "/node-\(node)/work/", named: "ffmpeg").isEmpty
        }
      }
      if victim == nil { try await Task.sleep(for: .milliseconds(5)) }
    }
    let killed = try #require(victim, "no other node encoded a piece")
    nodes[killed].send(SIGKILL)
    #expect(nodes[killed].waitForExit(timeout: 10) != nil)
    // Its ffmpeg goes with it (started with a parent-death signal), where it would otherwise finish its piece
    // for nobody: the kernel kills it as the node ends (a fifth of a second allowed for the look).
    var orphans = StitchProcesses.find(containing: work + "/node-\(killed)/", named: "ff")
    for _ in 0..<20 where !orphans.isEmpty {
      try await Task.sleep(for: .milliseconds(10))
      orphans = StitchProcesses.find(containing: work + "/node-\(killed)/", named: "ff")
    }
    #expect(orphans.isEmpty, "the killed node's ffmpeg outlived it: \(orphans)")
    let alive = (0..<3).filter { $0 != killed }

    var status: String?
    let deadline = Date() + 120
    while Date() < deadline {
      status =
        try await LiveNode.send(port: ports[alive[0]], "GET", "/media/transcode?job_id=\(id)", token: token)
        .json["status"] as? String
      if let status, !["Pending", "Running"].contains(status) { break }
      try await Task.sleep(for: .milliseconds(200))
    }
    let parentLog = nodes[parentNode!].logLines.filter { $0.contains(id) }.joined(separator: "\n")
    #expect(status == "Success", "\(parentLog)")
    let takenBack = alive.flatMap { nodes[$0].logLines }.filter { $0.contains("job taken back") }
    #expect(!takenBack.isEmpty, "the killed node's piece was taken back")
    let piecesRun = alive.map { node in
      nodes[node].logLines.filter { $0.contains("job started") && $0.contains("/internal/transcode-piece") }.count
    }
    print("split and stitch on 3 nodes, node \(killed) killed mid-piece: pieces run by the others \(piecesRun)")

    // The output is valid and holds every frame of the input.
    let redirect = try await LiveNode.send(
      port: ports[alive[0]], "GET", "/media/output?url=dlb://out/long.mp4", token: token)
    let location = try #require(redirect.header("Location"), "\(redirect.status) \(redirect.text)")
    let file = try await LiveNode.get(location)
    #expect(file.status == 200)
    try Data(file.body).write(to: URL(fileURLWithPath: work + "/out.mp4"))
    let frames = try StitchProcesses.output(
      "ffprobe",
      [
        "-v", "error", "-count_packets", "-select_streams", "v:0", "-show_entries", "stream=nb_read_packets",
        "-of", "csv=p=0", work + "/out.mp4",
      ])
    #expect(frames.trimmingCharacters(in: .whitespacesAndNewlines) == "900")
    let decodeErrors = try StitchProcesses.output(
      "ffmpeg", ["-v", "error", "-i", work + "/out.mp4", "-f", "null", "-"], stderr: true)
    #expect(decodeErrors.isEmpty, "\(decodeErrors)")

    // A cancel sent to a node that does not run the parent stops every piece on every node within 2 s.
    let second = try await LiveNode.send(
      port: ports[alive[0]], "POST", "/media/transcode", token: token,
      body: body.replacingOccurrences(of: "out/long", with: "out/cancelled"))
    let secondID = try #require(second.json["job_id"] as? String, "\(second.text)")
    let aliveWork = alive.map { work + "/node-\($0)/work/" }
    var running = false
    for _ in 0..<6000 where !running {
      running =
        aliveWork.contains { !StitchProcesses.find(containing: $0, named: "ffmpeg").isEmpty }
        && alive.contains { node in
          nodes[node].logLines.contains { $0.contains("transcode split") && $0.contains(secondID) }
        }
      if !running { try await Task.sleep(for: .milliseconds(5)) }
    }
    #expect(running, "the second job's pieces ran")
    let parentOfSecond = alive.first { node in
      nodes[node].logLines.contains { $0.contains("job started") && $0.contains(secondID) }
    }
    let canceller = alive.first { $0 != parentOfSecond } ?? alive[0]
    let asked = Date()
    let cancel = try await LiveNode.send(
      port: ports[canceller], "POST", "/media/jobs/cancel?job_id=\(secondID)", token: token)
    #expect(cancel.status == 200, "\(cancel.text)")
    var gone: Double?
    while Date() < asked + 10, gone == nil {
      if aliveWork.allSatisfy({ StitchProcesses.find(containing: $0, named: "ff").isEmpty }) {
        gone = Date().timeIntervalSince(asked)
      } else {
        try await Task.sleep(for: .milliseconds(10))
      }
    }
    print("split and stitch on 3 nodes: a cancel through another node left no ffmpeg after \(gone ?? -1) s")
    #expect(gone.map { $0 <= 2 } == true)
    var ended: String?
    for _ in 0..<100 where ended != "Cancelled" {
      ended =
        try await LiveNode.send(port: ports[canceller], "GET", "/media/transcode?job_id=\(secondID)", token: token)
        .json["status"] as? String
      if ended != "Cancelled" { try await Task.sleep(for: .milliseconds(100)) }
    }
    #expect(ended == "Cancelled")
  }
}

/// Processes of this test and tool output.
enum StitchProcesses {
  /// PIDs of processes whose executable name starts with `name` and whose command line contains `marker`.
  static func find(containing marker: String, named name: String) -> [Int32] {
    let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
    return entries.compactMap { entry -> Int32? in
      guard let pid = Int32(entry), let data = FileManager.default.contents(atPath: "/proc/\(entry)/cmdline"),
        !data.isEmpty
      else { return nil }
      let parts = data.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
      guard let executable = parts.first, (executable as NSString).lastPathComponent.hasPrefix(name) else { return nil }
      return parts.joined(separator: " ").contains(marker) ? pid : nil
    }
  }

  /// What `tool` prints on stdout (or stderr).
  static func output(_ tool: String, _ arguments: [String], stderr: Bool = false) throws -> String {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = [tool] + arguments
    let pipe = Pipe()
    if stderr {
      process.standardError = pipe
      process.standardOutput = FileHandle.nullDevice
    } else {
      process.standardOutput = pipe
    }
    try process.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return String(decoding: data, as: UTF8.self)
  }
}
