import Foundation
import Jobs
import TestSupport
import Testing

@testable import Media

/// Inputs whose header claims more than their data holds (issue 18: an MP3 cut to a third was analyzed as
/// 30 s with 20 made-up seconds at -70 LUFS; a WAV cut to 10% was processed without a word). Ferry reports and
/// measures what decodes, and every operation's result says so in `warnings`.
@Suite(.serialized) struct TruncatedInputTests {
  let harness = try! MediaHarness("truncated") { transfers, tools in
    [
      AnalyzeOperation(transfers: transfers, tools: tools),
      EnhanceOperation(transfers: transfers, tools: tools), TranscodeOperation(transfers: transfers, tools: tools),
      DiagnoseOperation(transfers: transfers, tools: tools),
    ]
  }

  /// Writes the first `fraction` of the bytes of `dlb://<key>` to `dlb://<to>`.
  func cut(_ key: String, to: String, fraction: Double) throws {
    let bytes = try Data(contentsOf: URL(fileURLWithPath: harness.storage.path(owner: "app", key: key)))
    let target = harness.storage.path(owner: "app", key: to)
    try bytes.prefix(Int(Double(bytes.count) * fraction)).write(to: URL(fileURLWithPath: target))
  }

  func result(_ job: Job) throws -> [String: Any] {
    #expect(job.status == .success, "\(String(describing: job.error))")
    return try #require(try JSONSerialization.jsonObject(with: Data((job.result ?? "{}").utf8)) as? [String: Any])
  }

  func duration(_ result: [String: Any]) -> Double? {
    ((result["media_info"] as? [String: Any])?["container"] as? [String: Any])?["duration"] as? Double
  }

  func loudness(_ result: [String: Any]) -> [String: Any] {
    (((result["processed_region"] as? [String: Any])?["audio"] as? [String: Any])?["loudness"] as? [String: Any]) ?? [:]
  }

  @Test func anMP3CutToAThird_isAnalyzedAsTenSeconds_withAWarning() async throws {
    defer { harness.pool.stop() }
    // 30 s of a steady tone at about -20 LUFS, as a 128 kb/s MP3 (LAME writes a header with the frame count).
    try await harness.fixture(
      "in/whole.mp3",
      ["-f", "lavfi", "-i", "sine=f=440:d=30:sample_rate=44100", "-ac", "2", "-c:a", "libmp3lame", "-b:a", "128k"])
    try cut("in/whole.mp3", to: "in/third.mp3", fraction: 1.0 / 3)
    let whole = try result(
      try await harness.run("/media/analyze", #"{"input": "dlb://in/whole.mp3", "output": "dlb://out/whole.json"}"#))
    let thirdJob = try await harness.run(
      "/media/analyze", #"{"input": "dlb://in/third.mp3", "output": "dlb://out/third.json"}"#)
    let third = try result(thirdJob)

    #expect(whole["warnings"] == nil, "a whole file has nothing to warn of")
    #expect(abs((duration(whole) ?? 0) - 30) < 0.1)
    let seconds = try #require(duration(third))
    #expect(abs(seconds - 10) < 0.3, "reported \(seconds) s")
    #expect(abs(thirdJob.duration - seconds) < 0.001, "the job's recorded duration is the decoded one")
    #expect(
      third["warnings"] as? [String]
        == ["input: the header says 30.0 s but only 10.0 s of audio decodes; the file looks truncated"])
    // Only real audio is measured: ten rows, none of them made-up silence (the first two are -70 in any file:
    // ebur128's 3 s short-term window is not full yet), no silence found, and the whole file's loudness.
    let series = try #require(loudness(third)["time_series"] as? [[Double]])
    #expect(series.count == 10 && series.dropFirst(2).allSatisfy { $0[1] > -30 }, "\(series.map { $0[1] })")
    let silence = ((third["processed_region"] as? [String: Any])?["audio"] as? [String: Any])?["silence"]
    #expect((silence as? [String: Any])?["percentage"] as? Double == 0, "\(String(describing: silence))")
    let measured = try #require(loudness(third)["measured"] as? Double)
    let wholeMeasured = try #require(loudness(whole)["measured"] as? Double)
    #expect(abs(measured - wholeMeasured) <= 0.2, "third \(measured), whole \(wholeMeasured)")
    // The result file says the same.
    let written = FileManager.default.contents(atPath: harness.storage.path(owner: "app", key: "out/third.json"))
    #expect(written.map { String(decoding: $0, as: UTF8.self) } == thirdJob.result)
  }

  @Test func aWAVCutTo10Percent_reportsItsRealLength_inEveryOperationsResult() async throws {
    defer { harness.pool.stop() }
    try await harness.fixture(
      "in/whole.wav", ["-f", "lavfi", "-i", "sine=f=440:d=30:sample_rate=48000", "-ac", "2", "-af", "volume=-6dB"])
    try cut("in/whole.wav", to: "in/cut.wav", fraction: 0.1)
    let warning = "input: the header says 30.0 s but only 3.0 s of audio decodes; the file looks truncated"

    let analyzed = try result(
      try await harness.run("/media/analyze", #"{"input": "dlb://in/cut.wav", "output": "dlb://out/cut.json"}"#))
    #expect(abs((duration(analyzed) ?? 0) - 3) < 0.05 && analyzed["warnings"] as? [String] == [warning])
    #expect((loudness(analyzed)["time_series"] as? [Any])?.count == 3)

    let diagnosed = try result(try await harness.run("/media/diagnose", #"{"input": "dlb://in/cut.wav"}"#))
    #expect(abs((duration(diagnosed) ?? 0) - 3) < 0.05 && diagnosed["warnings"] as? [String] == [warning])

    let enhanced = try result(
      try await harness.run(
        "/media/enhance", #"{"input": "dlb://in/cut.wav", "output": "dlb://out/cut-enhanced.wav"}"#))
    #expect(enhanced["warnings"] as? [String] == [warning])
    let output = try #require(try await harness.probe("out/cut-enhanced.wav"))
    #expect(abs((output.duration ?? 0) - 3) < 0.05)

    let transcoded = try result(
      try await harness.run(
        "/media/transcode",
        #"{"inputs": [{"source": "dlb://in/cut.wav"}], "outputs": [{"id": "a", "kind": "mp3", "destination": "dlb://out/cut.mp3"}]}"#
      ))
    #expect(transcoded["warnings"] as? [String] == [warning] && (transcoded["outputs"] as? [Any])?.count == 1)

    // The whole file: no warnings in any result.
    let clean = try result(try await harness.run("/media/diagnose", #"{"input": "dlb://in/whole.wav"}"#))
    #expect(clean["warnings"] == nil && abs((duration(clean) ?? 0) - 30) < 0.05)
  }

  /// Every container Ferry takes, cut to a third: the length that decodes, and a warning where the header
  /// says more. Ogg, ADTS AAC, W64 and CAF carry no length that outlives a cut (ffprobe measures what is
  /// there), so they have nothing to warn of; a WAV's header does, read by `WAVHeader`.
  @Test func everyContainer_cutToAThird_isInspectedAsTheThird() async throws {
    defer { harness.pool.stop() }
    let tone = ["-f", "lavfi", "-i", "sine=f=440:d=30:sample_rate=48000", "-ac", "2"]
    let video = ["-f", "lavfi", "-i", "testsrc=size=160x120:rate=10:d=30"]
    let cases: [(name: String, arguments: [String], warns: Bool)] = [
      ("a.mp3", tone + ["-c:a", "libmp3lame"], true), ("a.flac", tone, true), ("a.wav", tone, true),
      ("a.aiff", tone, true), ("a.au", tone, true), ("a.mka", tone + ["-c:a", "flac"], true),
      ("v.mp4", tone + video + ["-c:v", "libx264", "-preset", "ultrafast", "-movflags", "+faststart"], true),
      ("a.ogg", tone + ["-c:a", "libvorbis"], false), ("a.opus", tone + ["-c:a", "libopus"], false),
      ("a.aac", tone + ["-c:a", "aac"], false), ("a.w64", tone, false), ("a.caf", tone, false),
    ]
    for (name, arguments, warns) in cases {
      try await harness.fixture("in/\(name)", arguments)
      try cut("in/\(name)", to: "in/cut-\(name)", fraction: 1.0 / 3)
      let path = harness.storage.path(owner: "app", key: "in/cut-\(name)")
      let inspected = try await blocking { [harness] in try MediaProbe(tools: harness.tools).inspect(path) }
      let info = try #require(inspected, "\(name): not read")
      // A third of the bytes is about a third of the time (Opus: 9.0 s, its pages' overhead).
      #expect(abs((info.duration ?? 0) - 10) < 1.5, "\(name): \(String(describing: info.duration)) s")
      #expect((info.durationWarning != nil) == warns, "\(name): \(String(describing: info.durationWarning))")
      if warns { #expect(abs((info.claimedDuration ?? 0) - 30) < 0.1, "\(name)") }
      // The whole file: its own length (ADTS: ffprobe's estimate, 30.24 s), nothing to say.
      let whole = try await blocking { [harness] in
        try MediaProbe(tools: harness.tools).inspect(harness.storage.path(owner: "app", key: "in/\(name)"))
      }
      #expect(abs((whole?.duration ?? 0) - 30) < 0.3 && whole?.durationWarning == nil, "\(name) whole")
    }
  }
}
