import Foundation
import TestSupport
import Testing

/// The S3 workflows users come with, through the whole HTTP API and the real media operations: moto behind
/// the strict SigV4 proxy (session token required), URLs pre-signed by boto3 as a user's script makes them,
/// `s3://` with in-line keys and token, public objects, a multipart output and keys that need encoding.
@Suite(.serialized, .enabled(if: S3Peers.unavailable == nil, "S3 peers unavailable"))
struct S3WorkflowTests {
  static let (key, secret, token) = ("AKIDWORKFLOW", "wf/secret+key=", "wf-session-token")
  static let bucket = "workflows"
  /// A key with a space, `+`, `%` and non-ASCII characters, and its path on the wire (encoded once).
  static let oddKey = "in/my talk + 100% ünïcode.wav"
  static let oddPath = "in/my%20talk%20%2B%20100%25%20%C3%BCn%C3%AFcode.wav"

  /// Makes a WAV with ffmpeg (`-f lavfi` sources) and returns its bytes.
  func fixture(_ arguments: [String]) throws -> [UInt8] {
    let path = try makeTemporaryDirectory("ferry-wf") + "/fixture.wav"
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["ffmpeg", "-hide_banner", "-loglevel", "error", "-y"] + arguments + ["-f", "wav", path]
    try process.run()
    process.waitUntilExit()
    return Array(try Data(contentsOf: URL(fileURLWithPath: path)))
  }

  /// PUTs an object on moto directly (it checks no signature), optionally public.
  func putObject(_ peers: S3Peers, path: String, _ bytes: [UInt8], publicRead: Bool = false) throws {
    let client = try RawHTTPClient(port: peers.motoPort)
    let acl = publicRead ? "x-amz-acl: public-read\r\n" : ""
    try client.send(
      "PUT /\(Self.bucket)/\(path) HTTP/1.1\r\nHost: 127.0.0.1\r\n\(acl)Content-Length: \(bytes.count)\r\nConnection: close\r\n\r\n"
    )
    try client.send(bytes)
    let status = try client.readResponse().status
    guard status == 200 else { throw RawHTTPClient.ClientError(description: "PUT \(path): \(status)") }
  }

  /// The object's keys in the bucket (a listing from moto).
  func keys(_ peers: S3Peers) throws -> String {
    let client = try RawHTTPClient(port: peers.motoPort)
    try client.send("GET /\(Self.bucket)?list-type=2 HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
    return try client.readResponse().text
  }

  /// Posts a job and waits for it to end with `Success`; returns its final JSON.
  func runJob(_ server: APITestServer, token: String, _ path: String, _ body: String) async throws -> [String: Any] {
    let posted = try await server.request("POST", path, headers: ["Authorization": "Bearer \(token)"], body: body)
    let job = try #require(posted.json["job_id"] as? String, "\(path): \(posted.text)")
    let ended = try await server.waitForEnd(job, token: token, path: path, timeout: 60)
    #expect(ended["status"] as? String == "Success", "\(path) \(body): \(ended["error"] ?? "")")
    return ended
  }

  @Test func everyOperation_throughPresignedURLs_inlineKeysAndPublicObjects() async throws {
    let peers = try S3Peers(key: Self.key, secret: Self.secret, token: Self.token)
    defer { peers.stop() }
    try peers.createBucket(Self.bucket)
    let tone = try fixture([
      "-f", "lavfi", "-i", "sine=f=440:d=4:sample_rate=48000", "-f", "lavfi", "-i",
      "anoisesrc=d=4:a=0.01:r=48000:seed=1",
      "-filter_complex", "amix=inputs=2,volume=-24dB,aformat=channel_layouts=stereo",
    ])
    try putObject(peers, path: Self.oddPath, tone)
    try putObject(peers, path: "public/tone.wav", tone, publicRead: true)
    // Over the multipart threshold (5 MiB here) as 16-bit stereo WAV: 30 s.
    let long = try fixture(["-f", "lavfi", "-i", "sine=f=220:d=30:sample_rate=48000", "-ac", "2"])
    try putObject(peers, path: "in/long.wav", long)

    let server = try APITestServer(
      extraEnvironment: [
        "FERRY_S3_ENDPOINT": peers.proxyEndpoint, "FERRY_S3_PATH_STYLE": "true",
        "FERRY_TRANSFER_MULTIPART_THRESHOLD_BYTES": "5242880", "FERRY_TRANSFER_PART_SIZE_BYTES": "5242880",
      ], mediaOperations: true)
    defer { Task { await server.stop() } }
    let token = try await server.token(key: "app-a", secret: "secret-a")
    let auth = #""auth": {"key": "\#(Self.key)", "secret": "\#(Self.secret)", "token": "\#(Self.token)"}"#
    func run(_ path: String, _ body: String) async throws -> [String: Any] {
      try await runJob(server, token: token, path, body)
    }

    // Enhance: pre-signed GET input (the odd key) and pre-signed PUT output, one URL each, 7200 s.
    let urls = try peers.presign(
      [("GET", Self.oddKey), ("PUT", "out/enhanced ü.mp3")], bucket: Self.bucket, expires: 7200, key: Self.key,
      secret: Self.secret, token: Self.token)
    let (getURL, putURL) = (urls[0], urls[1])
    _ = try await run("/media/enhance", #"{"input": "\#(getURL)", "output": "\#(putURL)"}"#)

    // Analyze: s3:// in and out with in-line keys and session token (the input is the enhanced result).
    let analysis = try await run(
      "/media/analyze",
      #"{"input": {"url": "s3://\#(Self.bucket)/out/enhanced ü.mp3", \#(auth)}, "output": {"url": "s3://\#(Self.bucket)/out/analysis.json", \#(auth)}}"#
    )
    let loudness =
      (((analysis["result"] as? [String: Any])?["processed_region"] as? [String: Any])?["audio"] as? [String: Any])?[
        "loudness"] as? [String: Any]
    #expect(loudness?["measured"] is Double)

    // Transcode: several outputs from a public object read by s3:// without keys; one is hls under a prefix,
    // one a WAV over the multipart threshold from the long input.
    _ = try await run(
      "/media/transcode",
      #"{"inputs": [{"source": "s3://\#(Self.bucket)/public/tone.wav"}], "storage": [{"id": "main", "url": "s3://\#(Self.bucket)/streams/", \#(auth)}], "outputs": [{"id": "a", "kind": "mp3", "destination": {"url": "s3://\#(Self.bucket)/out/tone.mp3", \#(auth)}}, {"id": "b", "kind": "hls", "destination": {"storage": "main", "path": "tone/"}}, {"id": "c", "kind": "m4a", "destination": {"url": "s3://\#(Self.bucket)/out/tone.m4a", \#(auth)}}]}"#
    )
    _ = try await run(
      "/media/transcode",
      #"{"inputs": [{"source": {"url": "s3://\#(Self.bucket)/in/long.wav", \#(auth)}}], "outputs": [{"id": "big", "kind": "wav", "destination": {"url": "s3://\#(Self.bucket)/out/long copy.wav", \#(auth)}}]}"#
    )

    // Diagnose: a public object by its plain http(s) URL.
    let diagnosis = try await run(
      "/media/diagnose", #"{"input": "\#(peers.proxyEndpoint)/\#(Self.bucket)/public/tone.wav"}"#)
    #expect((diagnosis["result"] as? [String: Any])?["audio"] is [String: Any])

    let listing = try keys(peers)
    for expected in [
      "out/enhanced ü.mp3", "out/analysis.json", "out/tone.mp3", "out/tone.m4a", "out/long copy.wav",
      "streams/tone/master.m3u8",
    ] {
      #expect(listing.contains("<Key>\(expected)</Key>"), "\(expected) missing: \(listing)")
    }
    let log = peers.proxyLog
    #expect(!log.contains("-> 403") && !log.contains("-> 400"), "\(log.suffix(800))")
    // The big WAV went up in parts, each signed with the session token.
    #expect(log.contains("POST /\(Self.bucket)/out/long%20copy.wav -> 200 (signed)"), "\(log.suffix(800))")
    #expect(log.contains("PUT /\(Self.bucket)/out/long%20copy.wav -> 200 (signed)"), "\(log.suffix(800))")
  }

  /// The same workflows on nanio, an independent S3 server that checks SigV4 itself (no proxy): pre-signed
  /// URLs from boto3, `s3://` with in-line keys, an hls prefix and a multipart output. nanio has no session
  /// tokens and no public objects, and mis-verifies keys with `%` (its bug), so those stay with moto above.
  @Test(.enabled(if: NanioPeer.executable != nil, "nanio not installed"))
  func everyOperation_onNanio() async throws {
    let (key, secret, bucket) = ("AKIDNANIOWF", "nanio/wf+secret", "media")
    let nanio = try NanioPeer(key: key, secret: secret, buckets: [bucket])
    defer { nanio.stop() }
    let inputKey = "in/my talk + ünïcode.wav"
    try nanio.put(
      bucket: bucket, key: inputKey,
      try fixture([
        "-f", "lavfi", "-i", "sine=f=440:d=4:sample_rate=48000", "-f", "lavfi", "-i",
        "anoisesrc=d=4:a=0.01:r=48000:seed=1",
        "-filter_complex", "amix=inputs=2,volume=-24dB,aformat=channel_layouts=stereo",
      ]))
    try nanio.put(
      bucket: bucket, key: "in/long.wav",
      try fixture(["-f", "lavfi", "-i", "sine=f=220:d=30:sample_rate=48000", "-ac", "2"]))

    let server = try APITestServer(
      extraEnvironment: [
        "FERRY_S3_ENDPOINT": nanio.endpoint, "FERRY_S3_PATH_STYLE": "true",
        "FERRY_TRANSFER_MULTIPART_THRESHOLD_BYTES": "5242880", "FERRY_TRANSFER_PART_SIZE_BYTES": "5242880",
      ], mediaOperations: true)
    defer { Task { await server.stop() } }
    let token = try await server.token(key: "app-a", secret: "secret-a")
    let auth = #""auth": {"key": "\#(key)", "secret": "\#(secret)"}"#
    // All three URLs from one boto3 run (a URL for an object not written yet is fine: it is only signed).
    let urls = try S3Peers.presign(
      [("GET", inputKey), ("PUT", "out/enhanced ü.mp3"), ("GET", "out/long copy.wav")], endpoint: nanio.endpoint,
      bucket: bucket, expires: 7200, key: key, secret: secret)

    _ = try await runJob(
      server, token: token, "/media/enhance", #"{"input": "\#(urls[0])", "output": "\#(urls[1])"}"#)
    _ = try await runJob(
      server, token: token, "/media/analyze",
      #"{"input": {"url": "s3://\#(bucket)/out/enhanced ü.mp3", \#(auth)}, "output": {"url": "s3://\#(bucket)/out/analysis.json", \#(auth)}}"#
    )
    _ = try await runJob(
      server, token: token, "/media/transcode",
      #"{"inputs": [{"source": {"url": "s3://\#(bucket)/in/long.wav", \#(auth)}}], "storage": [{"id": "main", "url": "s3://\#(bucket)/streams/", \#(auth)}], "outputs": [{"id": "a", "kind": "mp3", "destination": {"url": "s3://\#(bucket)/out/long.mp3", \#(auth)}}, {"id": "b", "kind": "hls", "destination": {"storage": "main", "path": "long/"}}, {"id": "big", "kind": "wav", "destination": {"url": "s3://\#(bucket)/out/long copy.wav", \#(auth)}}]}"#
    )
    let diagnosis = try await runJob(
      server, token: token, "/media/diagnose", #"{"input": "\#(urls[2])"}"#)
    #expect((diagnosis["result"] as? [String: Any])?["audio"] is [String: Any])

    for expected in [
      "out/enhanced ü.mp3", "out/analysis.json", "out/long.mp3", "out/long copy.wav", "streams/long/master.m3u8",
    ] {
      #expect(nanio.exists(bucket: bucket, key: expected), "\(expected) missing")
    }
  }
}
