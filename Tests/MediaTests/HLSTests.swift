import Foundation
import JSON
import Jobs
import Locations
import TestSupport
import Testing

@testable import Media

/// ffmpeg arguments for a 5 s 320x240 H.264 + AAC clip (the stream job tests' input).
let fiveSecondClip = [
  "-f", "lavfi", "-i", "testsrc=d=5:s=320x240:r=25", "-f", "lavfi", "-i", "sine=f=440:d=5:sample_rate=48000",
  "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", "-shortest",
]

@Suite struct HLSRequestTests {
  func request(_ text: String) throws -> TranscodeSpec { try transcodeRequest(text) }
  func refusal(_ text: String) -> String? { transcodeRefusal(text) }

  static let storage =
    #""storage": [{"id": "main", "url": "s3://media/shows/", "auth": {"key": "AKID", "secret": "top/secret"}}]"#

  @Test func anHLSOutput_isOneMoreOutputOfTheSingleDecode() throws {
    let r = try request(
      #"""
      {"inputs": [{"source": "dlb://in.mp4"}], \#(Self.storage),
       "outputs": [{"id": "a", "kind": "mp3", "destination": {"storage": "main", "path": "talk.mp3"}},
                   {"id": "s", "kind": "hls", "destination": {"storage": "main", "path": "hls/talk"}, "video": {"height": 360}},
                   {"id": "r", "kind": "hls", "destination": "dlb://radio/", "video": {"enable": false},
                    "audio": {"bitrate_kb": 64}, "hls": {"segment_sec": 4}}]}
      """#)
    #expect(r.outputs[0].destination.target == .s3(bucket: "media", key: "shows/talk.mp3"))
    let fromStorage = try request(
      #"{"inputs": [{"source": {"storage": "main", "path": "in/talk.wav"}}], \#(Self.storage), "outputs": [{"kind": "hls", "destination": {"storage": "main", "path": "hls/"}}]}"#
    )
    #expect(fromStorage.input.target == .s3(bucket: "media", key: "shows/in/talk.wav") && fromStorage.input.auth != nil)
    #expect(r.outputs[1].destination.target == .s3(bucket: "media", key: "shows/hls/talk/"))
    #expect(r.outputs[1].segmentSeconds == 6 && r.outputs[1].carriesVideo == nil)
    #expect(r.outputs[2].carriesVideo == false && r.outputs[2].segmentSeconds == 4)
    let args = TranscodeCommand.arguments(r, input: "/w/input", directory: "/w")
    let text = args.joined(separator: " ")
    #expect(args.filter { $0 == "-i" }.count == 1, "one decode for every output")
    #expect(
      text.contains(
        "-map 0:v:0 -map 0:a:0? -c:v libx264 -preset veryfast -pix_fmt yuv420p -crf 23 -vf scale=-2:360 -force_key_frames expr:gte(t,n_forced*6) -c:a aac -b:a 192k -map_metadata -1 -f hls -hls_time 6 -hls_playlist_type vod -hls_segment_type mpegts -hls_flags independent_segments -hls_segment_filename /w/stream-1/segment-%05d.ts -master_pl_name master.m3u8 /w/stream-1/index.m3u8"
      ), "\(text)")
    #expect(
      text.contains(
        "-map 0:a:0 -vn -c:a aac -b:a 64k -map_metadata -1 -f hls -hls_time 4 -hls_playlist_type vod -hls_segment_type mpegts -hls_flags independent_segments -hls_segment_filename /w/stream-2/segment-%05d.ts"
      ), "\(text)")
    #expect(!args.contains { $0.contains("://") || $0.contains("secret") }, "ffmpeg gets work files only")
    // A data_dir with `%` in its name: the segment pattern escapes it, the playlist path is taken as it is.
    let percent = TranscodeCommand.arguments(r, input: "/100%d/input", directory: "/100%d").joined(separator: " ")
    #expect(
      percent.contains(
        "-hls_segment_filename /100%%d/stream-1/segment-%05d.ts -master_pl_name master.m3u8 /100%d/stream-1/index.m3u8"),
      "\(percent)")
    #expect(TranscodeCommand.hlsContentType("index.m3u8") == "application/vnd.apple.mpegurl")
    #expect(TranscodeCommand.hlsContentType("segment-00001.ts") == "video/mp2t")
  }

  @Test func refusals_nameTheFieldAndSayWhy() {
    let source = #""inputs": [{"source": "dlb://a"}]"#
    func refused(_ outputs: String, storage: String = Self.storage) -> String? {
      refusal(#"{\#(source), \#(storage), "outputs": [\#(outputs)]}"#)
    }
    #expect(refused(#"{"kind": "dash", "destination": "dlb://x/"}"#) == nil, "dash is a stream too (DASHJobTests)")
    #expect(
      refused(#"{"kind": "hls", "destination": "dlb://x/"}, {"kind": "dash", "destination": "dlb://x/"}"#)
        == "outputs[1].destination: names the folder of outputs[0]; each stream needs its own")
    let presigned =
      "https://b.s3.amazonaws.com/out/index.m3u8?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Date=20300101T000000Z&X-Amz-Expires=60&X-Amz-Credential=AK%2F20300101%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-SignedHeaders=host&X-Amz-Signature=feedface"
    let signed = refused(#"{"kind": "hls", "destination": "\#(presigned)"}"#)
    #expect(signed?.hasPrefix("outputs[0].destination: a pre-signed URL holds one file, and an hls output") == true)
    #expect(signed?.contains("feedface") == false)
    #expect(
      refused(#"{"kind": "hls", "destination": {"url": "https://cdn.example/hls/"}}"#)?.hasPrefix(
        "outputs[0].destination.url: an http(s) URL holds one file") == true)
    #expect(
      refused(
        #"{"kind": "mp3", "destination": "dlb://a.mp3"}, {"kind": "wav", "destination": "dlb://b.wav"}, {"kind": "hls", "destination": {"storage": "x", "path": "a/"}}"#
      )
        == #"outputs[2].destination.storage: no storage "x" in storage[]"#)
    #expect(
      refused(#"{"kind": "hls", "destination": {"storage": "main"}}"#) == "outputs[0].destination.path is required")
    #expect(
      refused(
        #"{"kind": "hls", "destination": {"storage": "main", "path": "a"}}, {"kind": "hls", "destination": {"url": "s3://media/shows/a/", "auth": {"key": "K", "secret": "S"}}}"#
      ) == "outputs[1].destination: names the folder of outputs[0]; each stream needs its own")
    #expect(
      refused(#"{"kind": "hls", "destination": {"storage": "main", "path": "../up/"}}"#)?.hasPrefix(
        "outputs[0].destination.path:") == true)
    #expect(
      refused(#"{"kind": "hls", "destination": {"storage": "main", "path": "/abs/"}}"#)?.hasPrefix(
        "outputs[0].destination.path:") == true)
    #expect(
      refused(#"{"kind": "hls", "destination": "dlb://x/", "hls": {"segment_sec": 0.5}}"#)?.hasPrefix(
        "outputs[0].hls.segment_sec") == true)
    #expect(
      refused(#"{"kind": "mp3", "destination": "dlb://x", "hls": {}}"#)?.hasPrefix("outputs[0].hls:") == true)
    #expect(
      refused(#"{"kind": "mp4", "destination": "dlb://x", "video": {"enable": false}}"#)?.hasPrefix(
        "outputs[0].video.enable") == true)
    #expect(
      refused(#"{"kind": "hls", "destination": "dlb://x/", "audio": {"codec": "mp3"}}"#)?.hasPrefix(
        "outputs[0].audio.codec") == true)
    let badStorage = refused(
      #"{"kind": "hls", "destination": "dlb://x/"}"#,
      storage:
        #""storage": [{"id": "main", "url": "s3://media/shows/", "auth": {"key": "AKID", "secret": "top/secret", "token": 5}}]"#
    )
    #expect(badStorage?.hasPrefix("storage[0].auth.token") == true && badStorage?.contains("top/secret") == false)
  }
}

@Suite struct HLSPlaylistTests {
  static let media = """
    #EXTM3U
    #EXT-X-VERSION:3
    #EXT-X-TARGETDURATION:2
    #EXT-X-MEDIA-SEQUENCE:0
    #EXT-X-PLAYLIST-TYPE:VOD
    #EXTINF:2.005333,
    segment-00000.ts
    #EXTINF:2.005333,
    segment-00001.ts
    #EXTINF:1.984000,
    segment-00002.ts
    #EXTINF:0.021333,
    segment-00003.ts
    #EXT-X-ENDLIST

    """

  @Test func aMediaPlaylist_isRead() throws {
    let playlist = try #require(HLSPlaylist(parsing: Self.media))
    #expect(playlist.targetDuration == 2 && playlist.ended && playlist.segments.count == 4)
    #expect(playlist.segments[2] == .init(uri: "segment-00002.ts", duration: 1.984))
    #expect(abs(playlist.duration - 6.015999) < 1e-9)
    #expect(HLSPlaylist(parsing: "not a playlist") == nil)
    #expect(HLSPlaylist(parsing: "#EXTM3U\nsegment.ts\n") == nil, "a URI without #EXTINF")
    #expect(HLSPlaylist(parsing: "#EXTM3U\n#EXTINF:2,\na.ts\n")?.ended == false)
  }

  @Test func bandwidth_isThePeakOverRunsOfAboutATargetDuration() throws {
    let playlist = try #require(HLSPlaylist(parsing: Self.media))
    // The 0.02 s tail alone would be a huge rate: it only counts inside a run of at least 1 s.
    let peak = playlist.peakBitRate(sizes: [50_000, 60_000, 40_000, 1_316])
    #expect(peak == Int((60_000.0 * 8 / 2.005333).rounded(.up)), "\(peak)")
    let master = """
      #EXTM3U
      #EXT-X-VERSION:6
      #EXT-X-STREAM-INF:BANDWIDTH=140800,RESOLUTION=320x240,CODECS="avc1.64000d,mp4a.40.2"
      index.m3u8

      """
    #expect(
      HLSPlaylist.master(master, peak: 250_000, average: 200_000).contains(
        #"#EXT-X-STREAM-INF:BANDWIDTH=250000,AVERAGE-BANDWIDTH=200000,RESOLUTION=320x240,CODECS="avc1.64000d,mp4a.40.2""#
          + "\nindex.m3u8\n"))
  }
}

/// hls into Ferry's own storage with real ffmpeg: no credentials needed, and what lands plays.
@Suite(.serialized) struct HLSJobTests {
  let harness = try! MediaHarness("hls") { [TranscodeOperation(transfers: $0, tools: $1)] }

  @Test func anHLSOutput_landsUnderADLBPrefix_andEveryNamedSegmentProbes() async throws {
    defer { harness.pool.stop() }
    try await harness.fixture(
      "in/clip.mp4",
      fiveSecondClip)
    let job = try await harness.run(
      "/media/transcode",
      #"""
      {"inputs": [{"source": "dlb://in/clip.mp4"}],
       "outputs": [{"id": "v", "kind": "hls", "destination": "dlb://out/v/", "video": {"width": 160}, "hls": {"segment_sec": 2}},
                   {"id": "a", "kind": "hls", "destination": "dlb://out/a/", "video": {"enable": false}, "hls": {"segment_sec": 2}}]}
      """#)
    #expect(job.status == .success, "\(String(describing: job.error))")
    let result = try #require(
      try JSONSerialization.jsonObject(with: Data((job.result ?? "{}").utf8)) as? [String: Any])
    let entries = try #require(result["outputs"] as? [[String: Any]])
    #expect(entries.first?["playlist"] as? String == "dlb://out/v/master.m3u8")
    #expect(entries.first?["media_playlist"] as? String == "dlb://out/v/index.m3u8")
    for (prefix, entry, video) in [("out/v/", entries[0], true), ("out/a/", entries[1], false)] {
      let text = try String(
        contentsOfFile: harness.storage.path(owner: "app", key: prefix + "index.m3u8"), encoding: .utf8)
      let playlist = try #require(HLSPlaylist(parsing: text))
      #expect(playlist.ended && entry["segments"] as? Int == playlist.segments.count)
      #expect(abs(playlist.duration - 5) <= 2, "within a segment of the input: \(playlist.duration)")
      #expect(playlist.segments.allSatisfy { $0.duration <= 2.5 }, "\(playlist.segments)")
      for segment in playlist.segments {
        let info = try #require(try await harness.probe(prefix + segment.uri))
        #expect(info.audioCodec == "aac" && info.hasVideo == video)
        if video { #expect(info.videoCodec == "h264" && info.width == 160) }
      }
      let master = try String(
        contentsOfFile: harness.storage.path(owner: "app", key: prefix + "master.m3u8"), encoding: .utf8)
      #expect(master.contains("AVERAGE-BANDWIDTH=") && master.contains("index.m3u8"), "\(master)")
    }
  }
}

/// DASH outputs: a folder of a manifest and fragmented-MP4 segments, made in the same decode and uploaded
/// segments first.
@Suite(.serialized) struct DASHJobTests {
  let harness = try! MediaHarness("dash") { [TranscodeOperation(transfers: $0, tools: $1)] }

  @Test func aDASHOutput_isAManifestAndSegmentsUnderItsFolder_thatFFprobeReadsBack() async throws {
    let spec = try transcodeRequest(
      #"{"inputs": [{"source": "dlb://in.mp4"}], "outputs": [{"kind": "dash", "destination": "dlb://d/", "dash": {"segment_sec": 2}}]}"#
    )
    let text = TranscodeCommand.arguments(spec, input: "/w/input", directory: "/w").joined(separator: " ")
    #expect(
      text.contains(
        "-force_key_frames expr:gte(t,n_forced*2) -c:a aac -b:a 192k -map_metadata -1 -f dash -seg_duration 2 -use_template 1 -use_timeline 1"
      ) && text.hasSuffix("/w/stream-0/manifest.mpd"), "\(text)")
    #expect(
      transcodeRefusal(
        #"{"inputs": [{"source": "dlb://a"}], "outputs": [{"kind": "dash", "destination": "dlb://d/", "hls": {"segment_sec": 2}}]}"#
      ) == "outputs[0].hls: only hls outputs take hls settings")

    defer { harness.pool.stop() }
    try await harness.fixture(
      "in/clip.mp4",
      fiveSecondClip)
    let job = try await harness.run(
      "/media/transcode",
      #"""
      {"inputs": [{"source": "dlb://in/clip.mp4"}],
       "outputs": [{"id": "d", "kind": "dash", "destination": "dlb://out/d/", "video": {"width": 160}, "dash": {"segment_sec": 2}}]}
      """#)
    #expect(job.status == .success, "\(String(describing: job.error))")
    let result = try #require(
      try JSONSerialization.jsonObject(with: Data((job.result ?? "{}").utf8)) as? [String: Any])
    let entry = try #require((result["outputs"] as? [[String: Any]])?.first)
    #expect(entry["manifest"] as? String == "dlb://out/d/manifest.mpd" && entry["kind"] as? String == "dash")
    #expect((entry["segments"] as? Int ?? 0) >= 4, "two streams of about three 2 s segments: \(entry)")
    // ffprobe reads the manifest (and through it every segment) back from where it was uploaded.
    let manifest = harness.storage.path(owner: "app", key: "out/d/manifest.mpd")
    let streams = try await blocking {
      var lines: [String] = []
      _ = try ProcessRunner().run(
        "ffprobe", ["-v", "error", "-show_entries", "stream=codec_name,width", "-of", "csv=p=0", manifest]
      ) { lines.append(String($0)) }
      // Each stream once (ffprobe lists a program's streams again under the program).
      return Set(lines.filter { !$0.isEmpty }).sorted()
    }
    #expect(streams == ["aac", "h264,160"], "\(streams)")
  }
}
