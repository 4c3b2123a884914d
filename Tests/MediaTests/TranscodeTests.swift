import Foundation
import JSON
import Jobs
import Locations
import Storage
import TestSupport
import Testing
import Transfer

@testable import Media

/// A transcode request parsed from JSON text (the request suites' helper).
func transcodeRequest(_ text: String) throws -> TranscodeSpec {
  try TranscodeSpec(request: try JSONValue.parse(Data(text.utf8)))
}

/// Why `text` is refused as a transcode request (the field and problem), or nil when it is accepted.
func transcodeRefusal(_ text: String) -> String? {
  do {
    _ = try transcodeRequest(text)
    return nil
  } catch {
    return (error as? InvalidRequest)?.description ?? "unexpected: \(error)"
  }
}

@Suite struct TranscodeSpecTests {
  func request(_ text: String) throws -> TranscodeSpec { try transcodeRequest(text) }
  func refusal(_ text: String) -> String? { transcodeRefusal(text) }

  @Test func aRequest_isReadWithItsSettings() throws {
    let r = try request(
      #"{"inputs": [{"source": "dlb://in.mov", "segment": {"start": 2, "duration": 5}}], "outputs": [{"id": "a", "kind": "mp3", "destination": "dlb://a.mp3", "audio": {"bitrate_kb": 128, "sample_rate": 44100, "channels": 1}}, {"id": "v", "kind": "mp4", "destination": "dlb://v.mp4", "video": {"width": 641, "frame_rate": 25}}]}"#
    )
    #expect(r.segmentStart == 2 && r.segmentDuration == 5 && r.outputs.count == 2)
    #expect(r.outputs[0].audioBitrate == 128 && r.outputs[0].sampleRate == 44100 && r.outputs[0].channels == 1)
    #expect(r.outputs[1].width == 640, "sizes are made even for the encoders")
    let args = TranscodeCommand.arguments(r, input: "/w/input", directory: "/w")
    let text = args.joined(separator: " ")
    #expect(text.contains("-ss 2 -t 5 -protocol_whitelist file"))
    #expect(
      text.contains("-map 0:a:0 -vn -c:a libmp3lame -b:a 128k -ar 44100 -ac 1 -map_metadata -1 -f mp3 /w/output-0.mp3"))
    #expect(text.contains("-c:v libx264") && text.contains("-vf scale=640:-2 -r 25"))
    #expect(!args.contains { $0.contains("://") })
    // Rates the encoders refuse are snapped; sizes not asked for are evened for H.264.
    let snapped = try request(
      #"{"inputs": [{"source": "dlb://a"}], "outputs": [{"kind": "mp3", "destination": "dlb://b", "audio": {"sample_rate": 96000}}, {"kind": "mp4", "destination": "dlb://c"}]}"#
    )
    let snappedText = TranscodeCommand.arguments(snapped, input: "/w/input", directory: "/w").joined(separator: " ")
    #expect(snappedText.contains("-ar 48000") && snappedText.contains("scale=trunc(iw/2)*2:trunc(ih/2)*2"))
  }

  @Test func badRequests_nameTheField() {
    let output = #""destination": "dlb://x""#
    #expect(refusal(#"{"outputs": []}"#)?.hasPrefix("inputs") == true)
    #expect(
      refusal(#"{"inputs": [{"source": "dlb://a"}, {"source": "dlb://b"}], "outputs": [{"kind": "mp3", \#(output)}]}"#)?
        .hasPrefix("inputs:") == true)
    #expect(
      refusal(#"{"inputs": [{"source": "dlb://a"}], "outputs": [{"kind": "flv", \#(output)}]}"#)?.hasPrefix(
        #"outputs[0].kind: unsupported "flv"; use one of aac, flac, m4a, mp3, ogg, opus, wav, mov, mp4, webm, jpg, hls, dash"#
      )
        == true)
    #expect(
      refusal(#"{"inputs": [{"source": "dlb://a"}], "outputs": [{"kind": "dash", \#(output)}]}"#)
        == "outputs[0].destination: names a folder, so it must end with / (dlb://.../folder/)")
    #expect(
      refusal(#"{"inputs": [{"source": "dlb://a"}], "outputs": [{"kind": "hls", \#(output)}]}"#)
        == "outputs[0].destination: names a folder, so it must end with / (dlb://.../folder/)")
    #expect(
      refusal(
        #"{"inputs": [{"source": "dlb://a"}], "outputs": [{"kind": "mp3", \#(output), "audio": {"codec": "opus"}}]}"#)?
        .hasPrefix("outputs[0].audio.codec") == true)
    #expect(
      refusal(#"{"inputs": [{"source": "dlb://a"}], "outputs": [{"kind": "wav", \#(output), "video": {}}]}"#)?
        .hasPrefix("outputs[0].video") == true)
    #expect(
      refusal(
        #"{"inputs": [{"source": "dlb://a"}], "outputs": [{"kind": "mp3", \#(output), "audio": {"channels": 9}}]}"#)
        == "outputs[0].audio.channels: must be between 1 and 8")
    #expect(
      refusal(
        #"{"inputs": [{"source": "dlb://a"}], "outputs": [{"id": "x", "kind": "mp3", \#(output)}, {"id": "x", "kind": "wav", \#(output)}]}"#
      )?.hasPrefix("outputs[1].id") == true)
    #expect(
      refusal(#"{"inputs": [{"source": "ftp://a"}], "outputs": [{"kind": "mp3", \#(output)}]}"#)?.hasPrefix(
        "inputs[0].source") == true)
  }

  @Test func dolbysCodecNames_bitrateModes_andSeveralAudioTracks_areTakenWhereTheyFit() throws {
    let out = #""destination": "dlb://o""#
    let mp4 = try request(
      #"""
      {"inputs": [{"source": "dlb://a"}], "outputs": [{"kind": "mp4", \#(out),
        "video": {"codec": "h265", "bitrate_mode": "cbr", "bitrate_kb": 150000},
        "audio": [{"codec": "aac_lc", "bitrate_kb": 128}, {"codec": "mpeg4_aac", "bitrate_kb": 64, "channels": 1}]}]}
      """#
    ).outputs[0]
    #expect(mp4.videoCodec == "h265" && mp4.videoBitrateMode == "cbr" && mp4.videoBitrate == 150_000)
    #expect(
      mp4.audioTracks == [
        .init(codec: "aac", bitrate: 128), .init(codec: "aac", bitrate: 64, sampleRate: nil, channels: 1),
      ])
    let arguments = TranscodeCommand.outputArguments(mp4)
    #expect(
      arguments.joined(separator: " ").contains(
        "-map 0:a:0? -c:a:0 aac -b:a:0 128k -map 0:a:0? -c:a:1 aac -b:a:1 64k -ac:a:1 1"))
    #expect(arguments.joined(separator: " ").contains("-b:v 150000k -minrate 150000k -maxrate 150000k"))
    #expect(
      try request(
        #"{"inputs": [{"source": "dlb://a"}], "outputs": [{"kind": "webm", \#(out), "video": {"codec": "vp8"}}]}"#
      )
      .outputs[0].videoCodec == "vp8")
    #expect(
      try request(
        #"{"inputs": [{"source": "dlb://a"}], "outputs": [{"kind": "wav", \#(out), "audio": {"codec": "pcm"}}]}"#
      )
      .outputs[0].audioCodec == "pcm_s16le")
    let refusals = [
      (#""kind": "mp3", "audio": [{}, {}]"#, "outputs[0].audio[1]: a mp3 output carries one audio track"),
      (#""kind": "mp4", "audio": {"codec": "he_aac"}"#, "outputs[0].audio.codec: \"he_aac\" (HE-AAC) is not available"),
      (#""kind": "mp4", "audio": [{"codec": "pcm"}]"#, "outputs[0].audio[0].codec: \"pcm\" does not fit mp4"),
      (#""kind": "mp4", "video": {"bitrate_mode": "cbr"}"#, "outputs[0].video.bitrate_mode: cbr needs"),
      (
        #""kind": "mp4", "video": {"bitrate_mode": "abr", "bitrate_kb": 900}"#, "outputs[0].video.bitrate_mode: must be"
      ),
      (
        #""kind": "mp4", "video": {"bitrate_kb": 600000}"#, "outputs[0].video.bitrate_kb: must be between 50 and 500000"
      ),
      (
        #""kind": "webm", "video": {"codec": "h264"}"#,
        "outputs[0].video.codec: \"h264\" does not fit webm; use vp9 or vp8"
      ),
    ]
    for (fields, expected) in refusals {
      let text = #"{"inputs": [{"source": "dlb://a"}], "outputs": [{\#(fields), \#(out)}]}"#
      #expect(refusal(text)?.hasPrefix(expected) == true, "\(fields): \(String(describing: refusal(text)))")
    }
  }
}

/// Transcodes through the engine with real ffmpeg: outputs probe as the codecs, sizes and rates asked.
@Suite(.serialized) struct TranscodeJobTests {
  let harness = try! MediaHarness("transcode") { [TranscodeOperation(transfers: $0, tools: $1)] }

  func run(_ body: String) async throws -> Job {
    let job = try await harness.submit("/media/transcode", body)
    for _ in 0..<1200 {
      if let stored = try harness.store.job(id: job.id), stored.status.isFinal { return stored }
      try await Task.sleep(for: .milliseconds(50))
    }
    throw RawHTTPClient.ClientError(description: "the transcode did not end in 60 s")
  }

  func probe(_ key: String) async throws -> MediaInfo? {
    let path = harness.storage.path(owner: "app", key: key)
    return try await blocking { [harness] in try MediaProbe(tools: harness.tools).probe(path) }
  }

  @Test func oneVideoInput_becomesEveryKindAsked() async throws {
    defer { harness.pool.stop() }
    let input = harness.storage.path(owner: "app", key: "in/clip.mp4")
    try FileManager.default.createDirectory(
      atPath: (input as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
    let made = try await blocking {
      try ProcessRunner().run(
        "ffmpeg",
        [
          "-loglevel", "error", "-y", "-f", "lavfi", "-i", "testsrc=d=2:s=320x240:r=25", "-f", "lavfi", "-i",
          "sine=f=440:d=2:sample_rate=48000", "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", "-shortest",
          input,
        ])
    }
    #expect(made.status == 0)
    let job = try await run(
      #"""
      {"inputs": [{"source": "dlb://in/clip.mp4"}],
       "outputs": [
         {"id": "mp3", "kind": "mp3", "destination": "dlb://out/a.mp3", "audio": {"bitrate_kb": 96, "sample_rate": 44100, "channels": 1}},
         {"id": "wav", "kind": "wav", "destination": "dlb://out/a.wav"},
         {"id": "small", "kind": "mp4", "destination": "dlb://out/small.mp4", "video": {"width": 160}},
         {"id": "web", "kind": "webm", "destination": "dlb://out/v.webm", "video": {"height": 120}},
         {"id": "thumb", "kind": "jpg", "destination": "dlb://out/t.jpg", "image": {"width": 160, "offset_sec": 1}},
         {"id": "opus", "kind": "opus", "destination": "dlb://out/a.opus", "audio": {"sample_rate": 44100}}]}
      """#)
    #expect(job.status == .success, "\(String(describing: job.error))")
    let mp3 = try #require(try await probe("out/a.mp3"))
    #expect(mp3.audioCodec == "mp3" && mp3.sampleRate == 44100 && mp3.channels == 1 && !mp3.hasVideo)
    #expect(try await probe("out/a.wav")?.audioCodec == "pcm_s16le")
    let small = try #require(try await probe("out/small.mp4"))
    #expect(small.videoCodec == "h264" && small.width == 160 && small.height == 120 && small.audioCodec == "aac")
    let web = try #require(try await probe("out/v.webm"))
    #expect(web.videoCodec == "vp9" && web.height == 120 && web.audioCodec == "opus")
    // Ferry's own probe refuses image demuxers (its inputs are media): read the thumbnail directly.
    let thumbPath = harness.storage.path(owner: "app", key: "out/t.jpg")
    let thumb = try await blocking {
      var text = ""
      _ = try ProcessRunner().run(
        "ffprobe", ["-v", "error", "-show_entries", "stream=codec_name,width", "-of", "csv=p=0", thumbPath]
      ) { text += $0 }
      return text
    }
    #expect(thumb == "mjpeg,160", "\(thumb)")
    #expect(try await probe("out/a.opus")?.sampleRate == 48000, "Opus outputs are resampled to 48 kHz")
    #expect(job.result?.contains(#""id":"thumb""#) == true && job.result?.contains(#""version":"dev""#) == true)
  }

  @Test func aSegment_isCut_andAVideoKindFromAudioFails() async throws {
    defer { harness.pool.stop() }
    let input = harness.storage.path(owner: "app", key: "in/tone.wav")
    try FileManager.default.createDirectory(
      atPath: (input as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
    _ = try await blocking {
      try ProcessRunner().run(
        "ffmpeg", ["-loglevel", "error", "-y", "-f", "lavfi", "-i", "sine=f=440:d=6:sample_rate=48000", input])
    }
    let cut = try await run(
      #"{"inputs": [{"source": "dlb://in/tone.wav", "segment": {"start": 1, "duration": 2}}], "outputs": [{"kind": "flac", "destination": "dlb://out/cut.flac"}]}"#
    )
    #expect(cut.status == .success)
    let duration = try #require(try await probe("out/cut.flac")?.duration)
    #expect(abs(duration - 2) < 0.05, "\(duration)")
    let video = try await run(
      #"{"inputs": [{"source": "dlb://in/tone.wav"}], "outputs": [{"kind": "mp4", "destination": "dlb://out/x.mp4"}]}"#)
    #expect(video.status == .failed && video.error?.type == "/problems/unsupported-media")
    #expect(video.error?.detail.hasPrefix("outputs[0]") == true)
  }

  @Test func hevcWithTwoAudioTracks_andVP8_areMadeAsAsked() async throws {
    defer { harness.pool.stop() }
    try await harness.fixture("in/clip2.mp4", fiveSecondClip)
    let job = try await run(
      #"""
      {"inputs": [{"source": "dlb://in/clip2.mp4"}],
       "outputs": [
         {"id": "hevc", "kind": "mp4", "destination": "dlb://out/hevc.mp4",
          "video": {"codec": "h265", "bitrate_mode": "cbr", "bitrate_kb": 300},
          "audio": [{"codec": "aac_lc", "bitrate_kb": 128}, {"codec": "aac_lc", "bitrate_kb": 48, "channels": 1}]},
         {"id": "vp8", "kind": "webm", "destination": "dlb://out/v8.webm", "video": {"codec": "vp8", "bitrate_kb": 400}}]}
      """#)
    #expect(job.status == .success, "\(String(describing: job.error))")
    func streams(_ key: String) async throws -> String {
      let path = harness.storage.path(owner: "app", key: key)
      return try await blocking {
        var lines: [String] = []
        _ = try ProcessRunner().run(
          "ffprobe", ["-v", "error", "-show_entries", "stream=codec_name,channels", "-of", "csv=p=0", path]
        ) { lines.append(String($0)) }
        return lines.joined(separator: ";")
      }
    }
    // The input's audio is mono: the first track keeps it, the second asks for it.
    let hevc = try await streams("out/hevc.mp4")
    #expect(hevc == "hevc;aac,1;aac,1", "\(hevc)")
    let vp8 = try await streams("out/v8.webm")
    #expect(vp8 == "vp8;opus,1", "\(vp8)")
  }
}
