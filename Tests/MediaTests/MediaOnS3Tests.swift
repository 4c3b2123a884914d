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
      [EnhanceOperation(transfers: $0, tools: $1), AnalyzeOperation(transfers: $0, tools: $1)]
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

  /// GET of `/bucket/key` on moto directly: it checks no signature, but answers an object GET without any
  /// Authorization header with 403 (anonymous access to a private object).
  func get(_ peers: S3Peers, _ path: String) throws -> RawHTTPClient.Response {
    let client = try RawHTTPClient(port: peers.motoPort)
    let auth = "AWS4-HMAC-SHA256 Credential=AKIDHLS/20260101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=0"
    try client.send("GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: \(auth)\r\nConnection: close\r\n\r\n")
    return try client.readResponse()
  }

  @Test func hls_landsUnderS3Prefixes_fromAStorageBlockAndInLineKeys() async throws {
    let secret = "hls/secret+key"
    let peers = try S3Peers(key: "AKIDHLS", secret: secret)
    defer { peers.stop() }
    try peers.createBucket("media-hls")
    let harness = try MediaHarness("media-hls", s3Endpoint: peers.proxyEndpoint) {
      [TranscodeOperation(transfers: $0, tools: $1)]
    }
    defer { harness.pool.stop() }
    try await harness.fixture(
      "in/clip.mp4",
      [
        "-f", "lavfi", "-i", "testsrc=d=5:s=320x240:r=25", "-f", "lavfi", "-i", "sine=f=440:d=5:sample_rate=48000",
        "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", "-shortest",
      ])
    let auth = #""auth": {"key": "AKIDHLS", "secret": "\#(secret)"}"#
    let job = try await harness.run(
      "/media/transcode",
      #"""
      {"inputs": [{"source": "dlb://in/clip.mp4"}],
       "storage": [{"id": "main", "url": "s3://media-hls/shows/", \#(auth)}],
       "outputs": [
         {"id": "video", "kind": "hls", "destination": {"storage": "main", "path": "hls/talk"}, "video": {"height": 120},
          "hls": {"segment_sec": 2}},
         {"id": "radio", "kind": "hls", "destination": {"url": "s3://media-hls/radio/", \#(auth)},
          "video": {"enable": false}, "audio": {"bitrate_kb": 64}, "hls": {"segment_sec": 2}},
         {"id": "file", "kind": "mp3", "destination": {"storage": "main", "path": "talk.mp3"}}]}
      """#)
    #expect(job.status == .success, "\(String(describing: job.error)) \(peers.proxyLog.suffix(800))")
    #expect(job.result?.contains(secret) == false)
    let result = try #require(
      try JSONSerialization.jsonObject(with: Data((job.result ?? "{}").utf8)) as? [String: Any])
    let entries = try #require(result["outputs"] as? [[String: Any]])
    #expect(entries[0]["playlist"] as? String == "s3://media-hls/shows/hls/talk/master.m3u8")
    #expect(entries[1]["media_playlist"] as? String == "s3://media-hls/radio/index.m3u8")

    let scratch = try makeTemporaryDirectory("ferry-hls-probe")
    for (prefix, entry, video) in [("shows/hls/talk/", entries[0], true), ("radio/", entries[1], false)] {
      let index = try get(peers, "/media-hls/\(prefix)index.m3u8")
      #expect(
        index.status == 200 && index.header("Content-Type") == "application/vnd.apple.mpegurl",
        "\(index.status) \(index.headers) \(peers.proxyLog.suffix(1500))")
      let playlist = try #require(HLSPlaylist(parsing: index.text), "\(index.text)")
      #expect(playlist.ended && entry["segments"] as? Int == playlist.segments.count && playlist.segments.count >= 2)
      #expect(abs(playlist.duration - 5) <= 2, "within a segment of the input: \(playlist.duration)")
      let master = try get(peers, "/media-hls/\(prefix)master.m3u8")
      #expect(master.status == 200 && master.text.contains("\nindex.m3u8"))
      for segment in playlist.segments {
        let object = try get(peers, "/media-hls/\(prefix)\(segment.uri)")
        #expect(object.status == 200 && object.header("Content-Type") == "video/mp2t", "\(segment.uri)")
        let file = scratch + "/" + segment.uri
        _ = FileManager.default.createFile(atPath: file, contents: Data(object.body))
        let probed = try await blocking { [harness] in try MediaProbe(tools: harness.tools).probe(file) }
        let info = try #require(probed)
        #expect(info.audioCodec == "aac" && info.hasVideo == video, "\(prefix)\(segment.uri)")
        if video { #expect(info.videoCodec == "h264" && info.height == 120) }
      }
      // Segments went up before the media playlist, and the master playlist last.
      let log = peers.proxyLog
      let lastSegment = try #require(log.range(of: "PUT /media-hls/\(prefix)segment-", options: .backwards))
      let media = try #require(log.range(of: "PUT /media-hls/\(prefix)index.m3u8 -> 200"))
      let top = try #require(log.range(of: "PUT /media-hls/\(prefix)master.m3u8 -> 200"))
      #expect(lastSegment.lowerBound < media.lowerBound && media.lowerBound < top.lowerBound)
    }
    #expect(try get(peers, "/media-hls/shows/talk.mp3").status == 200)
    #expect(!peers.proxyLog.contains("-> 403"), "\(peers.proxyLog.suffix(500))")
  }

  @Test func hls_cancelledWhileUploading_writesNoPlaylist() async throws {
    let peers = try S3Peers(key: "AKIDHLS", secret: "hls/secret")
    defer { peers.stop() }
    try peers.createBucket("media-hls")
    // Between Ferry and the strict proxy: the second segment's PUT cancels the job before it goes on.
    let jobID = JobIDBox()
    let harnessBox = HarnessBox()
    let faults = try FaultProxy(upstreamPort: peers.proxyPort) { request in
      if request.method == "PUT", request.target.hasSuffix("segment-00001.ts"), let id = jobID.value,
        let harness = harnessBox.value
      {
        Task { _ = try? await harness.pool.cancel(id: id) }
        for _ in 0..<100 where (try? harness.store.job(id: id))??.cancelRequested != true { usleep(20_000) }
      }
      return .forward
    }
    defer { faults.stop() }
    let harness = try MediaHarness("media-hls-cancel", s3Endpoint: faults.base) {
      [TranscodeOperation(transfers: $0, tools: $1)]
    }
    harnessBox.value = harness
    defer { harness.pool.stop() }
    try await harness.fixture("in/tone.wav", ["-f", "lavfi", "-i", "sine=f=440:d=5:sample_rate=48000"])
    let body = #"""
      {"inputs": [{"source": "dlb://in/tone.wav"}],
       "outputs": [{"kind": "hls", "destination": {"url": "s3://media-hls/radio/", "auth": {"key": "AKIDHLS", "secret": "hls/secret"}},
                    "hls": {"segment_sec": 1}}]}
      """#
    let job = try await harness.submit("/media/transcode", body)
    jobID.value = job.id
    var ended: Job?
    for _ in 0..<600 where ended == nil {
      if let stored = try harness.store.job(id: job.id), stored.status.isFinal { ended = stored }
      try await Task.sleep(for: .milliseconds(50))
    }
    #expect(ended?.status == .cancelled, "\(String(describing: ended?.error)) \(faults.requestLines)")
    let puts = faults.requestLines.filter { $0.hasPrefix("PUT") }
    #expect(puts.contains { $0.hasSuffix("segment-00001.ts") }, "\(puts)")
    #expect(!puts.contains { $0.contains(".m3u8") }, "no playlist names segments that were never written: \(puts)")
    #expect(!puts.contains { $0.hasSuffix("segment-00003.ts") }, "the upload stopped: \(puts)")
  }
}

/// A value set once by the test and read by a FaultProxy thread.
final class JobIDBox: @unchecked Sendable {
  private let lock = NSLock()
  private var id: UUID?
  var value: UUID? {
    get { lock.withLock { id } }
    set { lock.withLock { id = newValue } }
  }
}

final class HarnessBox: @unchecked Sendable {
  private let lock = NSLock()
  private var harness: MediaHarness?
  var value: MediaHarness? {
    get { lock.withLock { harness } }
    set { lock.withLock { harness = newValue } }
  }
}
