import Foundation
import Jobs
import Locations
import Log
import Storage
import TestSupport
import Testing
import Transfer

@testable import Media

/// Enhance jobs through the real engine and real ffmpeg, on `dlb://` files (no network).
@Suite(.serialized) struct EnhanceJobTests {
  let harness = try! MediaHarness("enhance") { [EnhanceOperation(transfers: $0, tools: $1)] }

  /// Puts `bytes` at `dlb://key` of the test app.
  func put(_ key: String, _ bytes: Data) throws {
    let path = harness.storage.path(owner: "app", key: key)
    try FileManager.default.createDirectory(
      atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
    try bytes.write(to: URL(fileURLWithPath: path))
  }

  /// A quiet, noisy tone as WAV: enhance must raise it to the target.
  func fixture(_ key: String, seconds: Int = 4) async throws {
    let path = harness.storage.path(owner: "app", key: key)
    try FileManager.default.createDirectory(
      atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
    let exit = try await blocking {
      try ProcessRunner().run(
        "ffmpeg",
        [
          "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i", "sine=f=300:d=\(seconds):sample_rate=48000",
          "-f", "lavfi", "-i", "anoisesrc=d=\(seconds):a=0.02:r=48000:seed=7", "-filter_complex",
          "amix=inputs=2,volume=-30dB", "-f", "wav", path,
        ])
    }
    #expect(exit.status == 0, "\(exit.stderr)")
  }

  /// Integrated loudness (LUFS) of a file, measured by ffmpeg's ebur128.
  func loudness(_ path: String) async throws -> Double? {
    let exit = try await blocking {
      try ProcessRunner().run(
        "ffmpeg", ["-hide_banner", "-nostats", "-i", path, "-af", "ebur128", "-f", "null", "-"])
    }
    let line = exit.stderr.split(separator: "\n").last { $0.contains("I:") && $0.contains("LUFS") }
    return line?.split(separator: " ").compactMap { Double($0) }.first
  }

  func run(_ body: String) async throws -> Job {
    let job = try await harness.submit("/media/enhance", body)
    for _ in 0..<600 {
      if let stored = try harness.store.job(id: job.id), stored.status.isFinal { return stored }
      try await Task.sleep(for: .milliseconds(50))
    }
    throw RawHTTPClient.ClientError(description: "the job did not end in 30 s")
  }

  @Test func enhance_levelsAQuietInputToTheTarget() async throws {
    defer { harness.pool.stop() }
    try await fixture("in/quiet.wav")
    let before = try #require(try await loudness(harness.storage.path(owner: "app", key: "in/quiet.wav")))
    let job = try await run(
      #"{"input": "dlb://in/quiet.wav", "output": "dlb://out/loud.wav", "content": {"type": "podcast"}}"#)
    #expect(job.status == .success, "\(String(describing: job.error))")
    let afterMeasured = try await blocking { [harness] in
      try LoudnessMeter(tools: harness.tools).measure(harness.storage.path(owner: "app", key: "out/loud.wav"))
    }
    let after = try #require(afterMeasured)
    #expect(before < -40)
    #expect(abs(after.integrated - -16) <= 0.5, "measured \(after.integrated) LUFS")
    #expect(after.truePeak <= -1, "true peak \(after.truePeak) dBTP")
    #expect(job.result?.contains("\"target_level\":-16") == true)
    #expect(job.result?.contains("\"after\":{\"integrated\":") == true)
    #expect(job.result?.contains("\"version\":\"dev\"") == true, "every result says which release made it")
    #expect(abs(job.duration - 4) < 0.1, "the media duration is recorded: \(job.duration)")
  }

  /// Samples in the first audio stream of a WAV file (ffprobe's `duration_ts`).
  func sampleCount(_ path: String) async throws -> Int? {
    try await blocking {
      var text = ""
      _ = try ProcessRunner().run(
        "ffprobe",
        ["-v", "error", "-select_streams", "a:0", "-show_entries", "stream=duration_ts", "-of", "csv=p=0", path]
      ) { text += $0 }
      return Int(text.trimmingCharacters(in: .whitespaces))
    }
  }

  @Test func aLongInput_isCleanedInPieces_withoutLosingOrRepeatingASample() async throws {
    defer { harness.pool.stop() }
    // Over a minute: pass 1 runs in pieces (with warm-up overlaps) on every core, pass 2 joins them.
    try await fixture("in/long.wav", seconds: 64)
    // WAV is measured after it is written; MP3 while it is encoded (streamed to a second ffmpeg).
    for output in ["out/long.wav", "out/long.mp3"] {
      let job = try await run(
        #"{"input": "dlb://in/long.wav", "output": "dlb://\#(output)", "content": {"type": "podcast"}}"#)
      #expect(job.status == .success, "\(String(describing: job.error))")
      let path = harness.storage.path(owner: "app", key: output)
      let measured = try await blocking { [harness] in try LoudnessMeter(tools: harness.tools).measure(path) }
      let after = try #require(measured)
      #expect(abs(after.integrated - -16) <= 0.5, "\(output): \(after.integrated) LUFS")
      #expect(after.truePeak <= -1, "\(output): true peak \(after.truePeak) dBTP")
      // What the job reports is what the file measures (the streamed check read the same audio; the stream
      // lacks the file's gapless header; the report and ebur128's summary are both rounded to 0.1, so the
      // two may be one rounding step apart).
      let result = try JSONSerialization.jsonObject(with: Data((job.result ?? "{}").utf8)) as? [String: Any]
      let reported = ((result?["loudness"] as? [String: Any])?["after"] as? [String: Any])?["integrated"] as? Double
      #expect(
        reported.map { abs($0 - after.integrated) <= 0.1 + 1e-9 } == true,
        "\(output): \(after.integrated) vs \(job.result ?? "")")
    }
    #expect(try await sampleCount(harness.storage.path(owner: "app", key: "out/long.wav")) == 64 * 48000)
  }

  @Test func aLoudPeakyInput_isBroughtDownUnderTheTruePeakLimit() async throws {
    defer { harness.pool.stop() }
    // Near full scale with sharp peaks: the gain goes down and the limiter keeps the true peak at -1 dBTP.
    let path = harness.storage.path(owner: "app", key: "in/hot.wav")
    try FileManager.default.createDirectory(
      atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
    let made = try await blocking {
      try ProcessRunner().run(
        "ffmpeg",
        [
          "-loglevel", "error", "-y", "-f", "lavfi", "-i", "sine=f=3000:d=4:sample_rate=48000", "-f", "lavfi", "-i",
          "anoisesrc=d=4:a=0.3:r=48000:c=pink:seed=1", "-filter_complex", "amix=inputs=2:normalize=0,volume=6dB", path,
        ])
    }
    #expect(made.status == 0)
    let job = try await run(
      #"{"input": "dlb://in/hot.wav", "output": "dlb://out/hot.mp3", "content": {"type": "music"}}"#)
    #expect(job.status == .success, "\(String(describing: job.error))")
    let afterMeasured = try await blocking { [harness] in
      try LoudnessMeter(tools: harness.tools).measure(harness.storage.path(owner: "app", key: "out/hot.mp3"))
    }
    let after = try #require(afterMeasured)
    #expect(abs(after.integrated - -14) <= 0.5, "measured \(after.integrated) LUFS")
    #expect(after.truePeak <= -1, "true peak \(after.truePeak) dBTP")
  }

  @Test func humAt50Hz_isFound_andDropsByAtLeast20dB() async throws {
    defer { harness.pool.stop() }
    let path = harness.storage.path(owner: "app", key: "in/hum.wav")
    try FileManager.default.createDirectory(
      atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
    let made = try await blocking {
      try ProcessRunner().run(
        "ffmpeg",
        [
          "-loglevel", "error", "-y", "-f", "lavfi", "-i", "sine=f=1000:d=4:sample_rate=48000", "-f", "lavfi", "-i",
          "sine=f=50:d=4:sample_rate=48000", "-filter_complex", "amix=inputs=2:normalize=0", path,
        ])
    }
    #expect(made.status == 0)
    // Music: no high-pass, so the notches alone do the work.
    let job = try await run(
      #"{"input": "dlb://in/hum.wav", "output": "dlb://out/hum.wav", "content": {"type": "music"}, "audio": {"filter": {"hum": {"enable": true}}}}"#
    )
    #expect(job.status == .success)
    let before = try await humRelativeToTone(path)
    let after = try await humRelativeToTone(harness.storage.path(owner: "app", key: "out/hum.wav"))
    #expect(before - after >= 20, "hum relative to the tone: \(before) dB before, \(after) dB after")
  }

  /// The 50 Hz band's RMS level minus the 1 kHz band's, in dB, after the first half second (a 3 Hz notch
  /// takes about a tenth of a second to settle).
  func humRelativeToTone(_ path: String) async throws -> Double {
    func level(_ filter: String) async throws -> Double {
      let exit = try await blocking {
        try ProcessRunner().run(
          "ffmpeg",
          [
            "-hide_banner", "-nostats", "-i", path, "-af",
            "atrim=start=0.5,\(filter),astats=measure_overall=RMS_level:measure_perchannel=none", "-f", "null", "-",
          ])
      }
      let line = exit.stderr.split(separator: "\n").last { $0.contains("RMS level dB:") }
      return try #require(line?.split(separator: ":").last.flatMap { Double($0.trimmingCharacters(in: .whitespaces)) })
    }
    return try await level("bandpass=f=50:width_type=q:w=5") - level("bandpass=f=1000:width_type=q:w=5")
  }

  @Test func theOutputName_choosesTheFormat() async throws {
    defer { harness.pool.stop() }
    try await fixture("in/a.wav", seconds: 2)
    let job = try await run(#"{"input": "dlb://in/a.wav", "output": "dlb://out/a.mp3"}"#)
    #expect(job.status == .success)
    let info = try await blocking { [harness] in
      try MediaProbe(tools: harness.tools).probe(harness.storage.path(owner: "app", key: "out/a.mp3"))
    }
    #expect(info?.formatName == "mp3" && info?.audioCodec == "mp3")
  }

  @Test func somethingThatIsNotMedia_failsAsUnsupportedMedia() async throws {
    defer { harness.pool.stop() }
    try put("in/noise.bin", Data(testBytes(count: 50_000)))
    let job = try await run(#"{"input": "dlb://in/noise.bin", "output": "dlb://out/x.wav"}"#)
    #expect(job.status == .failed && job.error?.type == "/problems/unsupported-media")
  }

  @Test func aPlaylistDisguisedAsMedia_isRefused_notFollowed() async throws {
    defer { harness.pool.stop() }
    // An HLS playlist whose "segment" is another local file (MPEG-TS, which ffmpeg's own HLS checks accept
    // and plain ffprobe reads through it): Ferry's ffmpeg must not open it.
    let secret = harness.directory + "/secret.ts"
    let made = try await blocking {
      try ProcessRunner().run(
        "ffmpeg", ["-loglevel", "error", "-y", "-f", "lavfi", "-i", "sine=d=2", "-c:a", "mp2", "-f", "mpegts", secret])
    }
    #expect(made.status == 0)
    let playlist = "#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:2,\nfile://\(secret)\n#EXT-X-ENDLIST\n"
    try put("in/playlist.wav", Data(playlist.utf8))
    let job = try await run(#"{"input": "dlb://in/playlist.wav", "output": "dlb://out/leak.wav"}"#)
    #expect(job.status == .failed && job.error?.type == "/problems/unsupported-media")
    #expect(!FileManager.default.fileExists(atPath: harness.storage.path(owner: "app", key: "out/leak.wav")))
  }
}
