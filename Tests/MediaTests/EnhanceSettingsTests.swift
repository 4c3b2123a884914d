import Foundation
import JSON
import Jobs
import Locations
import TestSupport
import Testing

@testable import Media

@Suite struct EnhanceSettingsTests {
  func settings(_ json: String) throws -> EnhanceSettings {
    try EnhanceSettings(request: try JSONValue.parse(.init(json.utf8)))
  }

  func refusal(_ json: String) -> String? {
    do {
      _ = try settings(json)
      return nil
    } catch {
      return (error as? InvalidRequest)?.description
    }
  }

  @Test func aMinimalRequest_getsTheDefaultsOfOther() throws {
    let s = try settings(#"{"input": "dlb://a", "output": "dlb://b"}"#)
    #expect(s == EnhanceSettings.defaults(for: "other"))
    #expect(s.targetLevel == -24 && s.peakLimit == -1 && s.noiseReduction == 30 && s.highPass == 80)
  }

  @Test func contentTypes_chooseTheirTargets_andMusicIsNotDenoised() throws {
    #expect(try settings(#"{"content": {"type": "podcast"}}"#).targetLevel == -16)
    #expect(try settings(#"{"content": {"type": "voice_over"}}"#).targetLevel == -19)
    let music = try settings(#"{"content": {"type": "music"}}"#)
    #expect(music.targetLevel == -14 && music.noiseReduction == nil && music.highPass == nil)
  }

  @Test func speech_asDolbysCppSampleSendsIt_getsTheDefaultsOfOther() throws {
    let speech = try settings(#"{"content": {"type": "speech"}}"#)
    var other = EnhanceSettings.defaults(for: "other")
    other.contentType = "speech"
    #expect(speech == other)
    #expect(speech.targetLevel == -24 && speech.noiseReduction == 30 && speech.highPass == 80)
    #expect(refusal(#"{"content": {"type": "Speech"}}"#)?.hasPrefix(#"content.type: unsupported "Speech""#) == true)
    // Refusals list the documented types only.
    let listed = refusal(#"{"content": {"type": "dash"}}"#)?.split(separator: ";").last ?? ""
    #expect(listed.contains("voice_over") && !listed.contains("speech"))
  }

  @Test func explicitSettings_overrideTheDefaults() throws {
    let s = try settings(
      #"""
      {"content": {"type": "podcast"}, "audio": {
        "loudness": {"enable": true, "target_level": -18, "peak_limit": "-2.5", "peak_reference": "sample"},
        "noise": {"reduction": {"enable": true, "amount": "high"}},
        "filter": {"high_pass": {"enable": true, "frequency": 120}, "hum": {"enable": true}},
        "dynamics": {"range_control": {"enable": true, "amount": 20}},
        "speech": {"sibilance": {"reduction": {"enable": true}}, "isolation": {"enable": true, "amount": 50}}}}
      """#)
    #expect(s.targetLevel == -18 && s.peakLimit == -2.5 && s.peakReference == .sample)
    #expect(s.noiseReduction == 20 && s.highPass == 120 && s.humReduction)
    #expect(s.rangeControl == 20 && s.sibilanceReduction == 50)
    let off = try settings(
      #"{"audio": {"loudness": {"enable": false}, "noise": {"reduction": {"enable": false, "amount": "max"}}, "filter": {"high_pass": {"enable": false}}}}"#
    )
    #expect(off.targetLevel == nil && off.noiseReduction == nil && off.highPass == nil)
  }

  @Test func amountsSpelledAsDolbySpellsThem_areAcceptedWhereDolbyTakesThem() throws {
    let words = try settings(
      #"""
      {"content": {"type": "music"}, "audio": {
        "noise": {"reduction": {"enable": true, "amount": "auto"}},
        "dynamics": {"range_control": {"enable": true, "amount": "high"}},
        "speech": {"sibilance": {"reduction": {"enable": true, "amount": "medium"}},
                   "plosive": {"reduction": {"enable": true, "amount": "max"}},
                   "click": {"reduction": {"enable": true, "amount": "low"}}, "isolation": {"amount": 80}}}}
      """#)
    #expect(words.noiseReduction == 12, "auto on music: medium (music has no amount of its own)")
    #expect(words.rangeControl == 75 && words.sibilanceReduction == 50)
    let auto = try settings(
      #"{"audio": {"dynamics": {"range_control": {"enable": true, "amount": "auto"}}, "noise": {"reduction": {"amount": "low"}}}}"#
    )
    #expect(auto.rangeControl == 50 && auto.noiseReduction == 6)
    #expect(
      try settings(#"{"audio": {"speech": {"sibilance": {"reduction": {"enable": true, "amount": 30}}}}}"#)
        .sibilanceReduction == 30, "numbers stay accepted")
    #expect(
      refusal(#"{"audio": {"speech": {"plosive": {"reduction": {"amount": "lots"}}}}}"#)
        == "audio.speech.plosive.reduction.amount: must be low, medium, high, max or auto, or a number from 0 to 100")
    #expect(
      refusal(#"{"audio": {"noise": {"reduction": {"amount": 12}}}}"#)
        == "audio.noise.reduction.amount: must be low, medium, high, max or auto")
    #expect(
      refusal(#"{"audio": {"speech": {"isolation": {"amount": 150}}}}"#)
        == "audio.speech.isolation.amount: must be between 0 and 100")
  }

  @Test func badValues_areRefusedNamingTheField() {
    #expect(refusal(#"{"content": {"type": "dash"}}"#)?.hasPrefix(#"content.type: unsupported "dash""#) == true)
    #expect(
      refusal(#"{"audio": {"loudness": {"target_level": -3}}}"#)
        == "audio.loudness.target_level: must be between -70 and -5")
    #expect(
      refusal(#"{"audio": {"loudness": {"peak_limit": "loud"}}}"#) == "audio.loudness.peak_limit: must be a number")
    #expect(
      refusal(#"{"audio": {"noise": {"reduction": {"amount": "lots"}}}}"#)?.hasPrefix("audio.noise.reduction.amount")
        == true)
    #expect(refusal(#"{"audio": {"loudness": 5}}"#) == "audio.loudness: must be an object")
    #expect(
      refusal(#"{"audio": {"filter": {"hum": {"enable": "yes"}}}}"#) == "audio.filter.hum.enable: must be true or false"
    )
  }

  @Test func theCleanChain_cleansThenShapes() throws {
    let s = try settings(
      #"{"audio": {"filter": {"hum": {"enable": true}}, "dynamics": {"range_control": {"enable": true, "amount": 0}}}}"#
    )
    // Hum found at 50 Hz with three harmonics; a noise floor measured at -62 dBFS (+20: afftdn's -42).
    let analysis = EnhanceAnalysis(quietLevel: -62, loudLevel: -20, humFundamental: 50, humHarmonics: [1, 2, 3])
    let chain = EnhanceCommand.cleanFilters(s, analysis: analysis, denoiser: .afftdn, rate: 48000)
    #expect(chain.first == "highpass=f=80")
    #expect(
      chain.filter { $0.hasPrefix("bandreject=f=") }
        == [
          "bandreject=f=50:width_type=h:w=3", "bandreject=f=100:width_type=h:w=3", "bandreject=f=150:width_type=h:w=3",
        ])
    // afftdn's 25 ms delay is taken out: padded at the end, trimmed at the start.
    #expect(
      chain.suffix(5) == [
        "apad=pad_len=1200", "afftdn=nr=20:nf=-42", "atrim=start_sample=1200", "asetpts=PTS-STARTPTS",
        "acompressor=threshold=-24dB:ratio=1.5:attack=10:release=200",
      ])
    // No hum found: no notch at all.
    let clean = EnhanceAnalysis(quietLevel: -62, loudLevel: -20, humFundamental: nil, humHarmonics: [])
    #expect(!EnhanceCommand.cleanFilters(s, analysis: clean).contains { $0.hasPrefix("bandreject") })
    let pass1 = EnhanceCommand.cleanArguments(
      input: "/w/input", start: 297, length: 303, warm: 3, inputRate: 44100, clean: "clean-1.wav", log: "clean-1.txt",
      settings: s, rate: 48000)
    let graph = pass1[pass1.firstIndex(of: "-filter_complex")! + 1]
    #expect(graph.hasPrefix("[0:a:0]highpass=f=80,"))
    #expect(graph.contains("ebur128=metadata=1,ametadata=mode=print:file=clean-1.txt,asplit=2[w][p]"))
    // The warm-up is measured (its loudness windows fill) but neither written nor counted in the peaks.
    #expect(graph.contains("[w]atrim=start=3,asetpts=PTS-STARTPTS,anull[out]"))
    #expect(graph.contains("[p]atrim=start=3,asetpts=PTS-STARTPTS,asplit=2[t][s]"))
    #expect(graph.contains("aresample=176400:filter_size=12,astats@tp="))
    #expect(Array(pass1[pass1.firstIndex(of: "-ss")!...].prefix(4)) == ["-ss", "297", "-t", "303"])
    #expect(pass1.suffix(9) == ["-map", "[out]", "-ar", "48000", "-c:a", "pcm_f32le", "-f", "wav", "clean-1.wav"])
    let whole = EnhanceCommand.cleanArguments(
      input: "/w/input", start: nil, length: nil, warm: 0, inputRate: 48000, clean: "clean-0.wav", log: "clean-0.txt",
      settings: s, rate: 48000)
    #expect(!whole.contains("-ss") && !whole.joined(separator: " ").contains("atrim"))
    let stderr = """
      [astats@sp @ 0x55] Overall
      [astats@sp @ 0x55] Peak level dB: -12.500000
      [astats@tp @ 0x56] Overall
      [astats@tp @ 0x56] Peak level dB: -11.750000
      """
    #expect(EnhanceCommand.reportedPeak(stderr, filter: "sp") == -12.5)
    #expect(EnhanceCommand.reportedPeak(stderr, filter: "tp") == -11.75)
    #expect(EnhanceCommand.reportedPeak("nothing", filter: "tp") == nil)
  }

  @Test func maxsAttenuationLimit_goesAsDeepAsTheMeasuredNoiseNeeds_andMusicAndDialogOptionsAreRead() throws {
    let max = try settings(#"{"audio": {"noise": {"reduction": {"amount": "max"}}}}"#)
    func analysis(_ quiet: Double) -> EnhanceAnalysis {
      EnhanceAnalysis(quietLevel: quiet, loudLevel: -20, humFundamental: nil, humHarmonics: [])
    }
    // Clean speech (digital silence in its pauses, or a -75 dBFS floor): 20 dB, high's limit.
    #expect(EnhanceCommand.attenuationLimit(max, analysis: analysis(-.infinity)) == 20)
    #expect(EnhanceCommand.attenuationLimit(max, analysis: analysis(-75)) == 20)
    // Noise at -40 dBFS: down to -90 dBFS, 50 dB; at -5 dBFS, 85 dB; nothing measured: no limit (100).
    #expect(EnhanceCommand.attenuationLimit(max, analysis: analysis(-40)) == 50)
    #expect(EnhanceCommand.attenuationLimit(max, analysis: analysis(-5)) == 85)
    #expect(EnhanceCommand.attenuationLimit(max, analysis: nil) == 100)
    let low = try settings(#"{"audio": {"noise": {"reduction": {"amount": "low"}}}}"#)
    #expect(EnhanceCommand.attenuationLimit(low, analysis: analysis(-.infinity)) == 6)
    let options = try settings(
      #"{"audio": {"music": {"detection": {"enable": true}}, "loudness": {"dialog_intelligence": true, "speech_threshold": 30}}}"#
    )
    #expect(options.musicDetection == true && options.dialogIntelligence == true && options.speechThreshold == 30)
    #expect(max.musicDetection == nil && max.dialogIntelligence == nil)
    #expect(
      refusal(#"{"audio": {"music": {"detection": {"enable": "yes"}}}}"#)?.contains("audio.music.detection.enable")
        == true)
  }

  @Test func thePlan_bringsTheMeasuredLoudnessToTheTarget_andLimitsOnlyWhenPeaksWouldPass() throws {
    let podcast = EnhanceSettings.defaults(for: "podcast")
    let quiet = LoudnessSummary(integrated: -40, range: 3, samplePeak: -21, truePeak: -20)
    let (gain, ceiling) = EnhanceCommand.plan(measured: quiet, settings: podcast)
    #expect(gain == 24 && ceiling == -2)  // -20 + 24 would pass -1 dBTP less the 1 dB margin
    let gentle = LoudnessSummary(integrated: -20, range: 3, samplePeak: -12, truePeak: -11.8)
    #expect(EnhanceCommand.plan(measured: gentle, settings: podcast).ceiling == nil)
    let silence = LoudnessSummary(integrated: -70, range: 0, samplePeak: -.infinity, truePeak: -.infinity)
    #expect(EnhanceCommand.plan(measured: silence, settings: podcast).gain == 0)
    var sample = podcast
    sample.peakReference = .sample
    #expect(EnhanceCommand.plan(measured: quiet, settings: sample).ceiling == -1)
  }

  @Test func theSummary_isReadFromFFmpegsOutput() throws {
    let stderr = """
      [Parsed_ebur128_0 @ 0x5] Summary:

        Integrated loudness:
          I:         -21.1 LUFS
          Threshold: -31.1 LUFS

        Loudness range:
          LRA:        20.0 LU
          Threshold: -41.1 LUFS

        Sample peak:
          Peak:      -18.1 dBFS

        True peak:
          Peak:      -17.9 dBFS
      """
    #expect(
      LoudnessSummary.parse(stderr) == LoudnessSummary(integrated: -21.1, range: 20, samplePeak: -18.1, truePeak: -17.9)
    )
    #expect(LoudnessSummary.parse("no summary here") == nil)
  }

  @Test func theArguments_neverNameAURL_andKeepFFmpegToPlainFiles() throws {
    let info = MediaInfo(
      formatName: "mov,mp4,m4a,3gp,3g2,mj2", duration: 10, audioCodec: "aac", sampleRate: 44100, channels: 2,
      hasVideo: true, videoCodec: "h264")
    let format = OutputFormat.choose(outputName: "talk.mp4", inputFormat: info.formatName)
    let args = EnhanceCommand.finishArguments(
      cleans: ["clean-0.wav", "clean-1.wav"], input: "/w/input", output: "output.mp4", gain: 6.5, ceiling: -2,
      info: info, format: format)
    let text = args.joined(separator: " ")
    #expect(args.filter { $0 == "-protocol_whitelist" }.count == 3, "every input is limited")
    // Gentle compression from 8 dB under the ceiling, then the limiter with its look-ahead compensated.
    #expect(
      text.contains(
        "[0:a:0][1:a:0]concat=n=2:v=0:a=1,volume=6.5dB,acompressor=threshold=0.316:ratio=2.5:attack=5:release=120"
          + ":knee=4,alimiter=limit=0.794:level=false:attack=5:release=50:latency=1[a]"))
    #expect(text.contains("-map [a] -map 2:v:0 -c:v copy"))
    #expect(args.last == "output.mp4" && !args.contains { $0.contains("://") })
    // Checked while it encodes: the tee muxer writes the file and streams the audio to descriptor 3.
    let check = try #require(EnhanceCommand.checkMuxer(for: format))
    #expect(check == ("adts", "aac"))
    let teed = EnhanceCommand.finishArguments(
      cleans: ["clean-0.wav"], input: "/w/input", output: "output.mp4", gain: 0, ceiling: nil, info: info,
      format: format, check: check.muxer)
    #expect(teed.suffix(3) == ["-f", "tee", "[f=mp4]output.mp4|[f=adts:select=a:onfail=ignore]pipe:3"])
    #expect(teed.joined(separator: " ").contains("[0:a:0]volume=0dB[a]"))
    #expect(EnhanceCommand.checkMuxer(for: OutputFormat.choose(outputName: "a.wav", inputFormat: "wav")) == nil)
    #expect(EnhanceCommand.checkArguments(demuxer: "mp3").contains("pipe:0"))
    #expect(EnhanceCommand.sampleRate(info: info, format: format) == 44100)
  }

  @Test func theOutputFormat_followsTheOutputName_thenTheInput() {
    #expect(OutputFormat.choose(outputName: "a.MP3", inputFormat: "wav").muxer == "mp3")
    #expect(OutputFormat.choose(outputName: "out", inputFormat: "flac").muxer == "flac")
    #expect(OutputFormat.choose(outputName: "out", inputFormat: "mov,mp4,m4a,3gp,3g2,mj2").muxer == "mp4")
    #expect(OutputFormat.choose(outputName: "x.unknown", inputFormat: "aiff").muxer == "wav")
    #expect(OutputFormat.choose(outputName: "v.opus", inputFormat: "wav").sampleRates == [48000])
  }

  @Test func progressLines_giveTheFractionDone() {
    var progress = FFmpegProgress()
    let first = progress.feed("out_time_us=5000000")
    let second = progress.feed("progress=continue")
    #expect(!first && second)
    #expect(progress.fraction(of: 10) == 0.5)
    _ = progress.feed("out_time_ms=20000000")
    #expect(progress.fraction(of: 10) == 1)
    _ = progress.feed("progress=end")
    #expect(progress.ended && progress.fraction(of: nil) == 1)
  }
}

@Suite struct ProcessRunnerTests {
  /// Children spawned by other threads must not inherit a run's pipes: if one did, that run would wait for
  /// the other child to end before seeing its own output end.
  @Test func concurrentSpawns_doNotHoldEachOthersPipes() async throws {
    // Plain threads, not tasks: blocking the concurrency pool would stall every other test.
    let worst = try await blocking { () -> Double in
      let group = DispatchGroup()
      for _ in 0..<8 {
        group.enter()
        Thread.detachNewThread {
          let deadline = Date() + 2
          while Date() < deadline { _ = try? ProcessRunner().run("/bin/sleep", ["1"]) }
          group.leave()
        }
      }
      var worst = 0.0
      for _ in 0..<300 {
        let start = Date()
        _ = try ProcessRunner().run("/bin/true", [])
        worst = max(worst, Date().timeIntervalSince(start))
      }
      group.wait()
      return worst
    }
    #expect(worst < 0.5, "a /bin/true took \(worst) s")
  }

  @Test func children_getNoneOfFerrysEnvironment() throws {
    setenv("FERRY_SECRETS_KEY", "do-not-leak", 1)
    defer { unsetenv("FERRY_SECRETS_KEY") }
    var output = ""
    _ = try ProcessRunner().run("/usr/bin/env", []) { output += $0 + "\n" }
    #expect(!output.contains("do-not-leak") && output.contains("PATH="))
  }
}
