import Foundation
import Jobs
import TestSupport
import Testing

@testable import Media

/// Media jobs end to end on S3: input and output `s3://` objects with keys, through the strict SigV4 proxy
/// in front of moto.
@Suite(.serialized, .enabled(if: S3Peers.unavailable == nil, "S3 peers unavailable"))
struct MediaOnS3Tests {
  @Test func enhance_readsAndWritesS3ObjectsWithKeys() async throws {
    let peers = try S3Peers(key: "AKIDMEDIA", secret: "media/secret+key")
    defer { peers.stop() }
    try peers.createBucket("media-e2e")
    let harness = try MediaHarness("media-s3", s3Endpoint: peers.proxyEndpoint) {
      [EnhanceOperation(transfers: $0, tools: $1), AnalyzeOperation(transfers: $0, tools: $1, version: "test")]
    }
    defer { harness.pool.stop() }
    // The input goes into moto directly (it checks no signature); Ferry's requests go through the proxy.
    let wav = try await harness.fixture(
      "local/talk.wav", ["-f", "lavfi", "-i", "sine=f=300:d=3:sample_rate=48000", "-af", "volume=-28dB"])
    let bytes = try #require(FileManager.default.contents(atPath: wav))
    let put = try RawHTTPClient(port: peers.motoPort)
    try put.send(
      "PUT /media-e2e/in/my%20talk.wav HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: \(bytes.count)\r\nConnection: close\r\n\r\n"
    )
    try put.send(Array(bytes))
    #expect(try put.readResponse().status == 200)

    let auth = #""auth": {"key": "AKIDMEDIA", "secret": "media/secret+key"}"#
    let job = try await harness.run(
      "/media/enhance",
      #"{"input": {"url": "s3://media-e2e/in/my talk.wav", \#(auth)}, "output": {"url": "s3://media-e2e/out/my talk.mp3", \#(auth)}, "content": {"type": "podcast"}}"#
    )
    #expect(job.status == .success, "\(String(describing: job.error))")
    let analysis = try await harness.run(
      "/media/analyze",
      #"{"input": {"url": "s3://media-e2e/out/my talk.mp3", \#(auth)}, "output": {"url": "s3://media-e2e/out/analysis.json", \#(auth)}}"#
    )
    #expect(analysis.status == .success, "\(String(describing: analysis.error))")
    let result = try #require(
      try JSONSerialization.jsonObject(with: Data((analysis.result ?? "{}").utf8)) as? [String: Any])
    let loudness =
      ((result["processed_region"] as? [String: Any])?["audio"] as? [String: Any])?["loudness"] as? [String: Any]
    let measured = try #require(loudness?["measured"] as? Double)
    #expect(abs(measured - -16) <= 0.5, "the enhanced MP3 on S3 measures \(measured)")
    // Both written objects are in the bucket, and every request Ferry made passed the strict proxy.
    let listing = try RawHTTPClient(port: peers.motoPort)
    try listing.send("GET /media-e2e?list-type=2 HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
    let keys = try listing.readResponse().text
    #expect(keys.contains("<Key>out/my talk.mp3</Key>") && keys.contains("<Key>out/analysis.json</Key>"))
    #expect(!peers.proxyLog.contains("-> 403"), "\(peers.proxyLog.suffix(500))")
    #expect(peers.proxyLog.contains("PUT /media-e2e/out/my%20talk.mp3 -> 200"), "\(peers.proxyLog.suffix(500))")
  }
}
