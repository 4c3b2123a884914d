import AudioAnalysis
import Foundation
import JSON
import Jobs
import Locations
import Log
import Storage
import TestSupport
import Testing
import Transfer

@testable import Media

@Suite struct LoudnessMathTests {
  @Test func aSteadyLevel_isItsOwnIntegratedLoudness_andHasNoRange() {
    #expect(abs(LoudnessMath.integrated(Array(repeating: -23, count: 100)) - -23) < 1e-9)
    #expect(LoudnessMath.range(Array(repeating: -23, count: 100)) == 0)
  }

  @Test func gating_dropsSilenceAndBlocksFarUnderTheProgramme() {
    let programme =
      Array(repeating: -20.0, count: 50) + Array(repeating: -120, count: 50) + Array(repeating: -35, count: 10)
    // -120 is under the absolute gate; -35 is more than 10 LU under the rest (relative gate).
    #expect(abs(LoudnessMath.integrated(programme) - -20) < 1e-9)
    // BS.1770-1 has no relative gate: the quiet blocks pull the figure down.
    #expect(LoudnessMath.integrated(programme, relativeGate: false) < -20.5)
    #expect(LoudnessMath.integrated([-120, -80]) == -70)
  }

  @Test func range_isTheSpreadFromThe10thToThe95thPercentile() {
    let values = (0..<101).map { -30 + Double($0) / 10 }  // -30 ... -20 LUFS, evenly
    #expect(abs(LoudnessMath.range(values) - 8.5) < 1e-9)
    #expect(LoudnessMath.percentile([1, 2, 3, 4], 0.5) == 2.5)
  }

  @Test func theMetadataLog_isReadFrameByFrame() {
    let log = MetadataLog(
      "frame:0    pts:0       pts_time:0\nlavfi.r128.M=-120.691\nlavfi.silence_start=2.005\nframe:1    pts:4800    pts_time:0.1\nlavfi.r128.M=-23.5\n"
    )
    #expect(log.frames.count == 2 && log.frames[1].time == 0.1 && log.frames[1].values["lavfi.r128.M"] == -23.5)
    #expect(log.frames[0].values["lavfi.silence_start"] == 2.005)
  }

  @Test func theMetadataLogFile_isStreamedFrameByFrame_acrossChunkEdges() throws {
    let directory = try makeTemporaryDirectory("ferry-metadata-log")
    defer { try? FileManager.default.removeItem(atPath: directory) }
    let path = directory + "/log.txt"
    var text = ""
    for frame in 0..<50 {
      text += "frame:\(frame)    pts:\(frame * 4800)    pts_time:\(Double(frame) / 10)\nlavfi.r128.M=-\(frame)\n"
    }
    // No newline after the last line: it still counts.
    try Data((text + "lavfi.r128.S=-1.5").utf8).write(to: URL(fileURLWithPath: path))
    var streamed: [MetadataLog.Frame] = []
    MetadataLog.forEachFrame(inFile: path) { streamed.append($0) }
    #expect(streamed == MetadataLog(text + "lavfi.r128.S=-1.5").frames)
    #expect(streamed.count == 50 && streamed[49].values == ["lavfi.r128.M": -49, "lavfi.r128.S": -1.5])
    // Chunks smaller than a line split lines anywhere; the lines come out whole.
    var lines: [String] = []
    FileLines.forEach(inFile: path, chunkSize: 7) { lines.append(String($0)) }
    #expect(lines == (text + "lavfi.r128.S=-1.5").split(separator: "\n").map(String.init))
    var none = 0
    MetadataLog.forEachFrame(inFile: directory + "/missing.txt") { _ in none += 1 }
    #expect(none == 0)
  }

  @Test func theSpectrum_readFromARawFileInChunks_isTheSameAsFromMemory() throws {
    let directory = try makeTemporaryDirectory("ferry-spectrum")
    defer { try? FileManager.default.removeItem(atPath: directory) }
    // 70 windows (more than one 64-window read) of a 3 kHz tone with a little noise, and a partial window.
    var generator = SystemRandomNumberGenerator()
    let samples = (0..<(Bandwidth.windowSize * 70 + 100)).map { i -> Float in
      Float(0.3 * sin(2 * Double.pi * 3000 * Double(i) / 48000)) + Float.random(in: -1e-4...1e-4, using: &generator)
    }
    let path = directory + "/spectrum.raw"
    try samples.withUnsafeBytes { Data($0) }.write(to: URL(fileURLWithPath: path))
    var spectrum = Bandwidth.Spectrum()
    let added = spectrum.add(rawFile: path)
    #expect(added)
    let fromFile = try #require(spectrum.bandwidth(sampleRate: 48000))
    #expect(fromFile == Bandwidth.estimate(samples: samples, sampleRate: 48000))
    #expect(abs(fromFile - 3000) < 150, "\(fromFile)")
    var missing = Bandwidth.Spectrum()
    let read = missing.add(rawFile: directory + "/missing.raw")
    #expect(!read && missing.bandwidth(sampleRate: 48000) == nil)
  }

  @Test func analyzeSettings_readTheRequest_andNameBadFields() throws {
    let settings = try AnalyzeSettings(
      request: try JSONValue.parse(
        Data(
          #"{"loudness": {"metering_mode": "1770-1", "dialog_intelligence": true}, "content": {"silence": {"threshold": -50, "duration": 2}}, "validation": {"loudness": {"loudness_max": -22, "true_peak_max": -1}}}"#
            .utf8)))
    #expect(settings.meteringMode == "1770-1" && settings.dialogIntelligence && settings.silenceThreshold == -50)
    #expect(settings.silenceDuration == 2 && settings.loudnessMax == -22 && settings.truePeakMax == -1)
    #expect(throws: InvalidRequest("loudness.metering_mode", "must be one of 1770-1, 1770-2, 1770-3, 1770-4")) {
      try AnalyzeSettings(request: try JSONValue.parse(Data(#"{"loudness": {"metering_mode": "r128"}}"#.utf8)))
    }
    #expect(throws: InvalidRequest.self) {
      try AnalyzeSettings(request: try JSONValue.parse(Data(#"{"content": {"silence": {"duration": -1}}}"#.utf8)))
    }
  }

  @Test func silences_thatTouchAcrossPieces_becomeOne() {
    let merged = AnalyzeWork.Measurement.merged([(start: 30, end: 40), (start: 10, end: 12), (start: 40, end: 45)])
    #expect(merged.map(\.start) == [10, 30] && merged.map(\.end) == [12, 45])
  }

  @Test func theFFT_putsASineInItsBin_andTheBandwidthFollowsTheContent() {
    let n = 64
    var re = (0..<n).map { sin(2 * Double.pi * 5 * Double($0) / Double(n)) }
    var im = [Double](repeating: 0, count: n)
    FFT(size: n).transform(&re, &im)
    let magnitudes = (0..<(n / 2)).map { (re[$0] * re[$0] + im[$0] * im[$0]).squareRoot() }
    #expect(magnitudes.firstIndex(of: magnitudes.max()!) == 5 && abs(magnitudes[5] - Double(n) / 2) < 1e-9)
    #expect(magnitudes.enumerated().allSatisfy { $0.offset == 5 || $0.element < 1e-9 })
    // Tones at 1 and 5 kHz: the band ends at 5 kHz (one bin is 48000/4096 Hz).
    let rate = 48000.0
    let samples = (0..<(Bandwidth.windowSize * 4)).map { i -> Float in
      Float(0.5 * sin(2 * Double.pi * 1000 * Double(i) / rate) + 0.01 * sin(2 * Double.pi * 5000 * Double(i) / rate))
    }
    let band = try! #require(Bandwidth.estimate(samples: samples, sampleRate: 48000))
    #expect(abs(band - 5000) < 30, "\(band)")
    #expect(Bandwidth.estimate(samples: [Float](repeating: 0, count: 8192), sampleRate: 48000) == nil)
  }
}

/// Analyze jobs through the engine with real ffmpeg on generated fixtures, checking the numbers.
@Suite(.serialized) struct AnalyzeJobTests {
  let harness = try! MediaHarness("analyze", tools: MediaTools(version: "test")) {
    [AnalyzeOperation(transfers: $0, tools: $1)]
  }

  /// Makes `dlb://in/<name>` with ffmpeg (`arguments` go before the output path).
  func fixture(_ name: String, _ arguments: [String]) async throws -> String {
    let path = harness.storage.path(owner: "app", key: "in/\(name)")
    try FileManager.default.createDirectory(
      atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
    let exit = try await blocking {
      try ProcessRunner().run("ffmpeg", ["-hide_banner", "-loglevel", "error", "-y"] + arguments + [path])
    }
    #expect(exit.status == 0, "\(exit.stderr)")
    return path
  }

  /// Runs an analyze of `dlb://in/<name>` (its result also written to `dlb://out/<name>.json` unless
  /// `output` is false) and returns the result and the job.
  func analyze(_ name: String, extra: String = "", output: Bool = true) async throws -> ([String: Any], Job) {
    let destination = output ? #", "output": "dlb://out/\#(name).json""# : ""
    let body = #"{"input": "dlb://in/\#(name)"\#(destination)\#(extra)}"#
    let job = try await harness.submit("/media/analyze", body)
    for _ in 0..<1200 {
      if let stored = try harness.store.job(id: job.id), stored.status.isFinal {
        let result = try stored.result.map { try JSONSerialization.jsonObject(with: Data($0.utf8)) } as? [String: Any]
        return (result ?? [:], stored)
      }
      try await Task.sleep(for: .milliseconds(50))
    }
    throw RawHTTPClient.ClientError(description: "the analyze did not end in 60 s")
  }

  func loudness(_ result: [String: Any]) -> [String: Any] {
    let region = result["processed_region"] as? [String: Any]
    return ((region?["audio"] as? [String: Any])?["loudness"] as? [String: Any]) ?? [:]
  }

  func audio(_ result: [String: Any]) -> [String: Any] {
    ((result["processed_region"] as? [String: Any])?["audio"] as? [String: Any]) ?? [:]
  }

  @Test func aStereo1kHzSineAtMinus23dBFS_measuresMinus23LKFS() async throws {
    defer { harness.pool.stop() }
    _ = try await fixture(
      "ref.wav",
      [
        "-f", "lavfi", "-i", "sine=f=1000:d=20:sample_rate=48000", "-af",
        "volume=-23dB:precision=double,pan=stereo|c0=8*c0|c1=8*c0",
      ])
    // lavfi's sine is 1/8 of full scale: ×8 puts the peak at 0 dBFS before the -23 dB.
    let (result, job) = try await analyze("ref.wav")
    #expect(job.status == .success, "\(String(describing: job.error))")
    let measured = try #require(loudness(result)["measured"] as? Double)
    #expect(abs(measured - -23) <= 0.1, "measured \(measured)")
    #expect(abs((loudness(result)["true_peak"] as? Double ?? 0) - -23) <= 0.2)
    #expect(loudness(result)["gating_mode"] as? String == "level")
    #expect((loudness(result)["time_series"] as? [[Any]])?.count == 20)
    let info = try #require(result["media_info"] as? [String: Any])
    #expect((info["audio"] as? [String: Any])?["channels"] as? Int == 2)
    #expect(result["version"] as? String == "test")
    // The same JSON went to the output.
    let written = FileManager.default.contents(atPath: harness.storage.path(owner: "app", key: "out/ref.wav.json"))
    #expect(written.map { String(decoding: $0, as: UTF8.self) } == job.result)
  }

  @Test func withoutAnOutput_theResultIsTheJobsOnly() async throws {
    defer { harness.pool.stop() }
    _ = try await fixture("tone.wav", ["-f", "lavfi", "-i", "sine=f=1000:d=4:sample_rate=48000"])
    // Dolby's media_analyze.py and its JS sample post only an input and read `result`.
    let (result, job) = try await analyze("tone.wav", output: false)
    #expect(job.status == .success && job.progress == 100, "\(String(describing: job.error))")
    #expect(loudness(result)["measured"] is Double && result["version"] as? String == "test")
    #expect(!FileManager.default.fileExists(atPath: harness.storage.path(owner: "app", key: "out/tone.wav.json")))
  }

  @Test func bandwidth_isTheHighestFrequencyWithContent() async throws {
    defer { harness.pool.stop() }
    // Noise made at 8 kHz and resampled (steeply) to 48 kHz has nothing above 4 kHz; noise made at 48 kHz
    // reaches 24 kHz.
    _ = try await fixture(
      "narrow.wav",
      ["-f", "lavfi", "-i", "anoisesrc=d=8:a=0.3:r=8000:seed=1", "-af", "aresample=48000:resampler=soxr:precision=28"])
    _ = try await fixture("wide.wav", ["-f", "lavfi", "-i", "anoisesrc=d=8:a=0.3:r=48000:seed=1"])
    _ = try await fixture("quiet.wav", ["-f", "lavfi", "-i", "anullsrc=r=48000:cl=mono", "-t", "3"])
    let narrow = try #require(audio(try await analyze("narrow.wav").0)["bandwidth"] as? Int)
    #expect((3800...4100).contains(narrow), "narrow: \(narrow) Hz")
    let wide = try #require(audio(try await analyze("wide.wav").0)["bandwidth"] as? Int)
    #expect(wide >= 22000, "wide: \(wide) Hz")
    #expect(audio(try await analyze("quiet.wav").0)["bandwidth"] is NSNull)
  }

  @Test func aLongInput_measuredInParallelPieces_agreesWithOneWholePass() async throws {
    defer { harness.pool.stop() }
    // 75 s whose level changes: loud, quiet, loud; measured in pieces that must combine exactly.
    let path = try await fixture(
      "long.wav",
      [
        "-f", "lavfi", "-i", "anoisesrc=d=75:a=0.2:r=48000:c=pink:seed=1", "-af",
        "volume='if(between(t,20,40),0.1,1)':eval=frame,aformat=channel_layouts=stereo",
      ])
    let (result, job) = try await analyze("long.wav")
    #expect(job.status == .success)
    let wholeMeasured = try await blocking { [harness] in try LoudnessMeter(tools: harness.tools).measure(path) }
    let whole = try #require(wholeMeasured)
    let measured = try #require(loudness(result)["measured"] as? Double)
    let range = try #require(loudness(result)["range"] as? Double)
    let truePeak = try #require(loudness(result)["true_peak"] as? Double)
    #expect(abs(measured - whole.integrated) <= 0.1, "pieces \(measured), whole \(whole.integrated)")
    #expect(abs(range - whole.range) <= 0.5, "pieces \(range), whole \(whole.range)")
    #expect(abs(truePeak - whole.truePeak) <= 0.3, "oversampled \(truePeak), ebur128 \(whole.truePeak)")
    #expect((loudness(result)["time_series"] as? [[Any]])?.count == 75)
  }

  @Test func silences_areFoundAndGatedOut() async throws {
    defer { harness.pool.stop() }
    let path = try await fixture(
      "gaps.wav",
      [
        "-f", "lavfi", "-i", "sine=f=1000:d=12:sample_rate=48000", "-af",
        "volume='if(between(t,3,6)+between(t,9,12),0,8*0.0707946)':eval=frame:precision=double,pan=stereo|c0=c0|c1=c0",
      ])
    let (result, job) = try await analyze("gaps.wav")
    #expect(job.status == .success)
    let silence = try #require(audio(result)["silence"] as? [String: Any])
    #expect(silence["num_sections"] as? Int == 2)
    #expect(abs((silence["percentage"] as? Double ?? 0) - 50) <= 3, "\(silence)")
    // The silent half does not pull the integrated loudness down (-23 dBFS tone in both channels): only the
    // blocks that straddle an edge count, as BS.1770 has it, and ffmpeg's own whole-file figure agrees.
    let measured = try #require(loudness(result)["measured"] as? Double)
    let wholeMeasured = try await blocking { [harness] in try LoudnessMeter(tools: harness.tools).measure(path) }
    let whole = try #require(wholeMeasured)
    #expect(abs(measured - -23) <= 0.5 && abs(measured - whole.integrated) <= 0.1, "\(measured), \(whole.integrated)")
  }

  @Test func peaksAtFullScale_reportClipping_andFailValidation() async throws {
    defer { harness.pool.stop() }
    _ = try await fixture(
      "clipped.wav",
      [
        "-f", "lavfi", "-i", "sine=f=440:d=6:sample_rate=48000", "-af",
        "volume='if(between(t,2,3),20,1)':eval=frame,alimiter=limit=1:level=false:attack=0.1,volume=12dB",
      ]
    )
    let (result, job) = try await analyze(
      "clipped.wav", extra: #", "validation": {"loudness": {"true_peak_max": -1, "loudness_max": -10}}"#)
    #expect(job.status == .success)
    let clipping = try #require(audio(result)["clipping"] as? [String: Any])
    #expect((clipping["num_sections"] as? Int ?? 0) >= 1, "\(clipping)")
    let validation = (audio(result)["validation"] as? [String: Any])?["loudness"] as? [String: Any]
    #expect(validation?["pass"] as? Bool == false)
    #expect((validation?["detail"] as? String)?.contains("true peak") == true)
  }
}
