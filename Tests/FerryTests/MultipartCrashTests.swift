import Foundation
import TestSupport
import Testing

/// Issue 18: a `ferry serve` killed with SIGKILL in the middle of an S3 multipart upload leaves no upload in
/// the bucket once it runs again (the upload's id is stored with the job before its first part; the next run
/// aborts it before starting its own).
@Suite(.serialized) struct MultipartCrashTests {
  static let key = "AKIDCRASHPARTS"
  static let secret = "crash/parts+secret"

  @Test(.enabled(if: S3Peers.unavailable == nil, "S3 peers unavailable"), .timeLimit(.minutes(3)))
  func aKillMidUpload_leavesNoMultipartUploadInTheBucket() async throws {
    let peers = try S3Peers(key: Self.key, secret: Self.secret)
    defer { peers.stop() }
    try peers.createBucket("crash-bucket")
    // Parts travel slowly (2 s each), so the kill lands while one is on its way.
    let slowParts = try FaultProxy(upstreamPort: peers.proxyPort) { request in
      request.method == "PUT" && request.target.contains("partNumber=") ? .forwardAfter(seconds: 2) : .forward
    }
    defer { slowParts.stop() }
    let work = try makeTemporaryDirectory("ferry-multipart-crash")
    // 40 s of 48 kHz stereo: a 7.7 MB result, two 5 MiB parts.
    let made = Process()
    made.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    made.arguments = [
      "ffmpeg", "-loglevel", "error", "-y", "-f", "lavfi", "-i", "sine=f=440:d=40:sample_rate=48000", "-ac", "2",
      work + "/talk.wav",
    ]
    try made.run()
    made.waitUntilExit()
    let input = Array(try Data(contentsOf: URL(fileURLWithPath: work + "/talk.wav")))
    let source = try FaultServer { _, _ in .serve(body: input) }
    defer { source.stop() }

    let environment = [
      "FERRY_SERVER_PORT": "0", "FERRY_DATA_DIR": work + "/data", "FERRY_NETWORK_ALLOW": #"["127.0.0.0/8"]"#,
      "FERRY_AUTH_APPS": #"[{"key": "parts-app", "secret": "parts-secret"}]"#, "FERRY_WORKERS_CONCURRENCY": "1",
      "FERRY_S3_ENDPOINT": slowParts.base, "FERRY_S3_PATH_STYLE": "true",
      "FERRY_TRANSFER_MULTIPART_THRESHOLD_BYTES": "5242880", "FERRY_TRANSFER_PART_SIZE_BYTES": "5242880",
      "FERRY_TRANSFER_PARALLEL_PARTS": "1",
    ]
    var ferry = try FerryProcess(["serve"], environment: environment)
    defer { ferry.terminate() }
    var port = try ferry.waitForPort()
    let token = try await LiveNode.token(port: port, key: "parts-app", secret: "parts-secret")
    let body = #"""
      {"input": "\#(source.base)/talk.wav", "output": {"url": "s3://crash-bucket/out/talk.wav",
       "auth": {"key": "\#(Self.key)", "secret": "\#(Self.secret)"}}}
      """#
    let posted = try await LiveNode.send(port: port, "POST", "/media/enhance", token: token, body: body)
    let id = try #require(posted.json["job_id"] as? String, "\(posted.text)")

    // The first part is on its way: the upload exists and is recorded with the job. Kill.
    for _ in 0..<1500 where !slowParts.requestLines.contains(where: { $0.contains("partNumber=1") }) {
      try await Task.sleep(for: .milliseconds(20))
    }
    #expect(slowParts.requestLines.contains { $0.contains("partNumber=1") }, "the upload began")
    ferry.send(SIGKILL)
    #expect(ferry.waitForExit(timeout: 10) != nil)
    #expect(try uploads(peers).count == 1, "the killed run left its upload")

    ferry = try FerryProcess(["serve"], environment: environment)
    port = try ferry.waitForPort()
    var status: String?
    for _ in 0..<300 where !["Success", "Failed", "InternalError"].contains(status ?? "") {
      try await Task.sleep(for: .milliseconds(200))
      status =
        try await LiveNode.send(port: port, "GET", "/media/enhance?job_id=\(id)", token: token).json["status"]
        as? String
    }
    #expect(status == "Success")
    #expect(try uploads(peers).isEmpty, "no multipart upload left in the bucket")
    #expect(slowParts.requestLines.contains { $0.hasPrefix("DELETE /crash-bucket/out/talk.wav?uploadId=") })
  }

  /// The bucket's multipart uploads in progress, as moto lists them.
  func uploads(_ peers: S3Peers) throws -> [String] {
    let moto = try RawHTTPClient(port: peers.motoPort)
    try moto.send("GET /crash-bucket?uploads HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
    return try moto.readResponse().text.components(separatedBy: "<UploadId>").dropFirst().map {
      String($0.prefix { $0 != "<" })
    }
  }
}
