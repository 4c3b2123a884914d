import AudioAnalysis
import Foundation
import JSON
import Jobs
import Locations
import TestSupport
import Testing

@testable import Media

/// Music mastering (`/media/master`, `/media/master/preview`) through the real engine and ffmpeg on `dlb://`
/// files: the loudness and true peak of every profile, each profile's curve on pink noise, the stereo
/// widening on real music.
///
/// The real music is Muldjord's "Armygeddon" backing track (El Senator, CC BY-SA 3.0), from Debian's
/// `fretsonfire-songs-muldjord` (the Makefile's TEST_PACKAGES installs it); the tests that need it fail naming it.
@Suite(.serialized) struct MasterTests {
  let harness = try! MediaHarness("master") {
    [MasterOperation(transfers: $0, tools: $1), MasterOperation.preview(transfers: $0, tools: $1)]
  }

  static let music = "/usr/share/games/fretsonfire/data/songs/muldjord/armygeddon/song.ogg"

  /// The excerpt: 4 s from 60 s, 10 dB down (the backing track is mastered hot already), at 48 kHz.
  func musicFixture(_ key: String) async throws {
    try await harness.fixture(key, ["-ss", "60", "-t", "4", "-i", Self.music, "-af", "volume=-10dB", "-ar", "48000"])
  }

  /// Independent pink noise on both channels at about -23 LUFS, 4 s.
  func pinkFixture(_ key: String) async throws {
    try await harness.fixture(
      key,
      [
        "-f", "lavfi", "-i", "anoisesrc=c=pink:r=48000:a=0.1:d=4:s=1", "-f", "lavfi", "-i",
        "anoisesrc=c=pink:r=48000:a=0.1:d=4:s=2", "-filter_complex", "[0][1]join=inputs=2:channel_layout=stereo",
        "-c:a", "pcm_s16le",
      ])
  }

  /// A logarithmic sine sweep 20 Hz to 20 kHz in 4 s, on both channels.
  func sweepFixture(_ key: String) async throws {
    try await harness.fixture(
      key,
      [
        "-f", "lavfi", "-i",
        "aevalsrc=0.3*sin(2*PI*20*4/log(1000)*(exp(t/4*log(1000))-1)):s=48000:d=4,aformat=channel_layouts=stereo",
      ])
  }

  func path(_ key: String) -> String { harness.storage.path(owner: "app", key: key) }

  func output(_ key: String, preset: String?, intensity: Int = 100, loudness: Bool = true, stereo: Bool = false)
    -> String
  {
    let eq =
      preset.map { #"{"enable": true, "preset": "\#($0)", "intensity": \#(intensity)}"# } ?? #"{"enable": false}"#
    return #"{"destination": "dlb://\#(key)", "master": {"dynamic_eq": \#(eq), "#
      + #""loudness": {"enable": \#(loudness), "target_level": -14}, "stereo_image": {"enable": \#(stereo)}}}"#
  }

  func master(_ input: String, _ outputs: [String], path: String = "/media/master") async throws -> Job {
    let job = try await harness.run(
      path, #"{"inputs": [{"source": "dlb://\#(input)"}], "outputs": [\#(outputs.joined(separator: ","))]}"#)
    #expect(job.status == .success, "\(String(describing: job.error))")
    return job
  }

  func measured(_ key: String) async throws -> LoudnessSummary {
    let summary = try await blocking { [harness] in try LoudnessMeter(tools: harness.tools).measure(path(key)) }
    return try #require(summary, "\(key) could not be measured")
  }

  @Test(.timeLimit(.minutes(2)))
  func everyProfile_landsOnTheTargetUnderTheCeiling() async throws {
    defer { harness.pool.stop() }
    try #require(FileManager.default.fileExists(atPath: Self.music), "install fretsonfire-songs-muldjord (make test)")
    try await musicFixture("in/music.wav")
    try await sweepFixture("in/sweep.wav")
    // Every profile at 100 on the music, five outputs a job, and at 50 the profiles of each dynamics class;
    // intensity 0 is the same chain for every profile (`intensityZero_isNoProfileAtAll`), so one stands for
    // all; three profiles on the sweep. `make soak` (FERRY_SOAK=1) runs every profile at 0, 50 and 100 on
    // both.
    var cases: [(input: String, preset: String, intensity: Int)] = []
    if ProcessInfo.processInfo.environment["FERRY_SOAK"] == "1" {
      for input in ["music", "sweep"] {
        for profile in MasterProfile.all {
          for intensity in [0, 50, 100] { cases.append((input, profile.letter, intensity)) }
        }
      }
    } else {
      cases = [("music", "a", 0)] + MasterProfile.all.map { ("music", $0.letter, 100) }
      cases += ["a", "d", "h", "j"].map { ("music", $0, 50) } + ["c", "g", "m"].map { ("sweep", $0, 100) }
    }
    var worst = (loudness: 0.0, peak: -100.0)
    for input in ["music", "sweep"] {
      let mine = cases.filter { $0.input == input }
      for start in stride(from: 0, to: mine.count, by: 5) {
        let batch = Array(mine[start..<min(start + 5, mine.count)])
        let keys = batch.map { "out/\($0.input)-\($0.preset)-\($0.intensity).wav" }
        _ = try await master(
          "in/\(input).wav", zip(batch, keys).map { output($1, preset: $0.preset, intensity: $0.intensity) })
        for (item, key) in zip(batch, keys) {
          let m = try await measured(key)
          #expect(abs(m.integrated - -14) <= 0.5, "\(key): \(m.integrated) LUFS")
          #expect(m.truePeak <= -1, "\(key): true peak \(m.truePeak) dBTP")
          worst = (max(worst.loudness, abs(m.integrated + 14)), max(worst.peak, m.truePeak))
          _ = item
        }
      }
    }
    print(
      "master: \(cases.count) outputs, worst |loudness - target| \(worst.loudness) LU, highest true peak \(worst.peak) dBTP"
    )
  }

  @Test(.timeLimit(.minutes(2)))
  func eachProfile_shapesPinkNoiseAsItsCurve() async throws {
    defer { harness.pool.stop() }
    try await pinkFixture("in/pink.wav")
    let before = try await OctaveBands.measure(path("in/pink.wav"))
    // Loudness off: the level stays the input's, so the change is the profile's alone.
    var cases: [(preset: String, intensity: Int)] = MasterProfile.all.map { ($0.letter, 100) }
    // One profile at 50 and one at 0 here; `make soak` (FERRY_SOAK=1) every profile at both.
    if ProcessInfo.processInfo.environment["FERRY_SOAK"] == "1" {
      cases += MasterProfile.all.flatMap { [($0.letter, 50), ($0.letter, 0)] }
    } else {
      cases += [("d", 50), ("e", 0)]
    }
    var worst = 0.0
    var worstAtZero = 0.0
    for start in stride(from: 0, to: cases.count, by: 5) {
      let batch = Array(cases[start..<min(start + 5, cases.count)])
      let keys = batch.map { "out/pink-\($0.preset)-\($0.intensity).wav" }
      _ = try await master(
        "in/pink.wav",
        zip(batch, keys).map { output($1, preset: $0.preset, intensity: $0.intensity, loudness: false) })
      for (item, key) in zip(batch, keys) {
        let after = try await OctaveBands.measure(path(key))
        let profile = try #require(MasterProfile.named(item.preset))
        for (band, centre) in OctaveBands.centres.enumerated() {
          let change = after[band] - before[band]
          let expected = OctaveBands.expectedChange(profile, intensity: Double(item.intensity), centre: centre)
          if item.intensity == 0 {
            #expect(abs(change) <= 0.3, "\(key) \(centre) Hz: \(change) dB at intensity 0")
            worstAtZero = max(worstAtZero, abs(change))
          } else {
            #expect(abs(change - expected) <= 1.5, "\(key) \(centre) Hz: \(change) dB, the curve says \(expected)")
            worst = max(worst, abs(change - expected))
          }
        }
      }
    }
    print("master: pink noise, worst band off its curve \(worst) dB; at intensity 0 \(worstAtZero) dB")
  }

  @Test(.timeLimit(.minutes(1)))
  func stereoImage_widensWithoutMovingTheMonoDownmix() async throws {
    defer { harness.pool.stop() }
    try #require(FileManager.default.fileExists(atPath: Self.music), "install fretsonfire-songs-muldjord (make test)")
    try await musicFixture("in/music.wav")
    _ = try await master(
      "in/music.wav", [output("out/narrow.wav", preset: "i"), output("out/wide.wav", preset: "i", stereo: true)])
    let narrow = try await OctaveBands.sideToMid(path("out/narrow.wav"))
    let wide = try await OctaveBands.sideToMid(path("out/wide.wav"))
    let monoNarrow = try await OctaveBands.monoLoudness(path("out/narrow.wav"))
    let monoWide = try await OctaveBands.monoLoudness(path("out/wide.wav"))
    print("master: side/mid \(narrow) dB -> \(wide) dB; mono downmix \(monoNarrow) -> \(monoWide) LUFS")
    #expect(wide - narrow >= 2, "side/mid \(narrow) -> \(wide) dB")
    #expect(abs(monoWide - monoNarrow) <= 1, "mono downmix \(monoNarrow) -> \(monoWide) LUFS")
  }

  @Test(.timeLimit(.minutes(1)))
  func preview_mastersThirtySecondsAndAnswersAsDolby() async throws {
    defer { harness.pool.stop() }
    try await harness.fixture(
      "in/long.wav", ["-f", "lavfi", "-i", "anoisesrc=c=pink:r=44100:a=0.05:d=40", "-ac", "2", "-c:a", "pcm_s24le"])
    let job = try await master(
      "in/long.wav",
      [
        output("out/p-a.mp3", preset: "a"),
        #"{"destination": "dlb://out/p-trim.wav", "master": {"dynamic_eq": {"enable": false}, "loudness": {"enable": false}, "stereo_image": {"enable": false}}}"#,
        output("out/p-d.wav", preset: "d"), output("out/p-g.wav", preset: "g"),
      ], path: "/media/master/preview")
    let result = try JSONValue.parse(Data((job.result ?? "").utf8))
    #expect(result.object?["initial_level"]?.number != nil, "\(job.result ?? "")")
    #expect(result.object?["audio"]?.object?["loudness"]?.object?["measured"]?.number != nil)
    #expect(result.object?["audio"]?.object?["loudness"]?.object?["true_peak"]?.number != nil)
    // The mastered outputs (MP3 checked as decoded, the WAVs in the process that wrote them) and the files.
    guard case .array(let outputs)? = result.object?["outputs"] else {
      Issue.record("no outputs: \(job.result ?? "")")
      return
    }
    #expect(outputs.count == 4)
    for (index, key) in [0: "out/p-a.mp3", 2: "out/p-d.wav", 3: "out/p-g.wav"] where index < outputs.count {
      let reported = outputs[index].object ?? [:]
      #expect(abs((reported["final_level"]?.number ?? 0) - -14) <= 0.5, "\(key): \(reported)")
      #expect((reported["true_peak"]?.number ?? 0) <= -1, "\(key): \(reported)")
      let m = try await measured(key)
      #expect(abs(m.integrated - -14) <= 0.5 && m.truePeak <= -1, "\(key): \(m)")
    }
    #expect(result.object?["segment"]?.object?["duration"]?.number == 30)
    let mp3 = try #require(try await harness.probe("out/p-a.mp3"))
    #expect(mp3.audioCodec == "mp3" && mp3.sampleRate == 48000, "\(mp3)")
    #expect(abs((mp3.duration ?? 0) - 30) < 0.2)
    let trimmed = try #require(try await harness.probe("out/p-trim.wav"))
    // Nothing asked for: the segment as it came (24-bit stays 24-bit, 44.1 kHz stays 44.1 kHz).
    #expect(trimmed.audioCodec == "pcm_s24le" && trimmed.sampleRate == 44100, "\(trimmed)")
    #expect(abs((trimmed.duration ?? 0) - 30) < 0.05)
  }

  @Test func requests_areReadAsDolbyDocumentsThem() throws {
    let spec = try MasterSpec(
      request: try JSONValue.parse(
        Data(
          #"{"inputs": [{"source": "dlb://a.wav", "metadata": {"genre": "rock", "tags": ["x"]}}], "outputs": [{"destination": "dlb://b.mp3", "master": {"dynamic_eq": {"enable": true, "preset": "D"}}}]}"#
            .utf8)), preview: false)
    #expect(spec.outputs[0].kind == .mp3)
    #expect(spec.outputs[0].settings.preset == "d" && spec.outputs[0].settings.intensity == 100)
    #expect(spec.outputs[0].settings.loudness && spec.outputs[0].settings.targetLevel == -14)
    #expect(spec.segmentDuration == nil && spec.genre == "rock")
    let preview = try MasterSpec(
      request: try JSONValue.parse(
        Data(#"{"inputs": [{"source": "dlb://a.wav"}], "outputs": [{"destination": "dlb://b"}]}"#.utf8)),
      preview: true)
    #expect(preview.segmentStart == 0 && preview.segmentDuration == 30 && preview.outputs[0].kind == .wav)
    let refusals = [
      (
        #"{"inputs": [{"source": "dlb://a"}], "outputs": [{"destination": "dlb://b", "master": {"dynamic_eq": {"preset": "z"}}}]}"#,
        "outputs[0].master.dynamic_eq.preset"
      ),
      (
        #"{"inputs": [{"source": "dlb://a", "segment": {"start": 0, "duration": 31}}], "outputs": [{"destination": "dlb://b"}]}"#,
        "inputs[0].segment.duration"
      ),
      (
        #"{"inputs": [{"source": "dlb://a"}], "outputs": [{"destination": "dlb://b", "kind": "flac"}]}"#,
        "outputs[0].kind"
      ),
      (
        #"{"inputs": [{"source": "dlb://a"}], "outputs": [{"destination": "dlb://b", "master": {"dynamic_eq": {"intensity": 101}}}]}"#,
        "outputs[0].master.dynamic_eq.intensity"
      ),
      (
        #"{"inputs": [{"source": "dlb://a"}], "outputs": [\#(Array(repeating: #"{"destination": "dlb://b"}"#, count: 6).joined(separator: ","))]}"#,
        "outputs"
      ),
    ]
    for (body, field) in refusals {
      #expect(throws: InvalidRequest.self) {
        try MasterSpec(request: try JSONValue.parse(Data(body.utf8)), preview: true)
      }
      do {
        _ = try MasterSpec(request: try JSONValue.parse(Data(body.utf8)), preview: true)
      } catch let error as InvalidRequest {
        #expect(error.field == field, "\(error)")
      } catch {}
    }
  }

  @Test func intensityZero_isNoProfileAtAll() {
    for profile in MasterProfile.all {
      var settings = try! MasterSettings(nil, field: "m")
      settings.preset = profile.letter
      settings.intensity = 0
      #expect(MasterCommand.filters(settings, staging: 3, channels: 2) == ["volume=3dB"])
      settings.loudness = false
      #expect(MasterCommand.filters(settings, staging: 3, channels: 2) == [])
    }
  }
}

/// Long-term spectra in octave bands (63 Hz to 16 kHz) from a Hann-windowed FFT, and mid/side figures.
enum OctaveBands {
  static let centres: [Double] = [63, 125, 250, 500, 1000, 2000, 4000, 8000, 16000]

  /// Both channels' samples (interleaved stereo float at 48 kHz) of a file, decoded by ffmpeg.
  static func samples(_ path: String) async throws -> [Float] {
    let raw = path + ".f32"
    let exit = try await blocking {
      try ProcessRunner().run(
        "ffmpeg",
        ["-hide_banner", "-loglevel", "error", "-y", "-i", path, "-ac", "2", "-ar", "48000", "-f", "f32le", raw])
    }
    #expect(exit.status == 0, "\(exit.stderr)")
    defer { try? FileManager.default.removeItem(atPath: raw) }
    let data = try Data(contentsOf: URL(fileURLWithPath: raw))
    return data.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
  }

  /// The level (dB, arbitrary reference) of each octave band of the channels' sum (independent noise on
  /// each channel sums to noise of the same spectrum). 4096-point frames without overlap: enough for a change
  /// measured on the same noise before and after, and quick in a debug build.
  static func measure(_ path: String) async throws -> [Double] {
    let samples = try await samples(path)
    let n = 4096
    let window = (0..<n).map { 0.5 - 0.5 * cos(2 * Double.pi * Double($0) / Double(n)) }
    var power = [Double](repeating: 0, count: n / 2)
    let frames = samples.count / 2
    let fft = FFT(size: n)
    var start = 0
    while start + n <= frames {
      var re = (0..<n).map { Double(samples[2 * (start + $0)] + samples[2 * (start + $0) + 1]) * window[$0] }
      var im = [Double](repeating: 0, count: n)
      fft.transform(&re, &im)
      for k in 0..<(n / 2) { power[k] += re[k] * re[k] + im[k] * im[k] }
      start += n
    }
    return centres.map { centre in
      let (low, high) = (centre / 2.0.squareRoot(), centre * 2.0.squareRoot())
      var sum = 0.0
      for k in 0..<(n / 2) {
        let f = Double(k) * 48000 / Double(n)
        if f >= low && f < high { sum += power[k] }
      }
      return 10 * log10(sum)
    }
  }

  /// What the profile's curve does to pink noise's band around `centre`: the power mean of its gain over the
  /// band, pink noise having equal power in equal log-frequency steps.
  static func expectedChange(_ profile: MasterProfile, intensity: Double, centre: Double) -> Double {
    let steps = 64
    var sum = 0.0
    for k in 0..<steps {
      let f = centre * pow(2, -0.5 + (Double(k) + 0.5) / Double(steps))
      sum += pow(10, profile.gain(at: f, intensity: intensity) / 10)
    }
    return 10 * log10(sum / Double(steps))
  }

  /// Side (L-R) energy over mid (L+R) energy, dB.
  static func sideToMid(_ path: String) async throws -> Double {
    let samples = try await samples(path)
    var (mid, side) = (0.0, 0.0)
    for i in 0..<(samples.count / 2) {
      let (l, r) = (Double(samples[2 * i]), Double(samples[2 * i + 1]))
      mid += (l + r) * (l + r)
      side += (l - r) * (l - r)
    }
    return 10 * log10(side / mid)
  }

  /// The integrated loudness (LUFS) of the mono downmix (L+R)/2.
  static func monoLoudness(_ path: String) async throws -> Double {
    let exit = try await blocking {
      try ProcessRunner().run(
        "ffmpeg",
        ["-hide_banner", "-nostats", "-i", path, "-af", "pan=mono|c0=0.5*c0+0.5*c1,ebur128", "-f", "null", "-"])
    }
    let line = exit.stderr.split(separator: "\n").last { $0.contains("I:") && $0.contains("LUFS") }
    return line?.split(separator: " ").compactMap { Double($0) }.first ?? .nan
  }

}
