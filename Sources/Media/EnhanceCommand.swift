import Foundation

/// The ffmpeg work of an enhance, as pure functions of the settings, the input's info and the format.
///
/// Two passes and a check, because a one-pass `loudnorm` is both slow (~65x realtime here) and only
/// approximately on target: pass 1 cleans the audio into float WAVs while `ebur128` measures it (in pieces on
/// all cores for long inputs); pass 2 applies the exact gain to the target and a peak limiter, and encodes,
/// while a second ffmpeg measures the encoded audio as it comes; pass 2 is repeated with a corrected gain or
/// ceiling when it missed (the limiter can take some loudness).
public enum EnhanceCommand {
  /// The noise reducer a job uses.
  public enum Denoiser: String, Sendable {
    /// DeepFilterNet3 in Swift, between a decoding and a measuring ffmpeg.
    case neural = "deepfilternet3"
    /// ffmpeg's `afftdn` with the noise floor measured from the file.
    case afftdn
  }

  /// `afftdn`'s delay in samples at `rate`: half its 50 ms window (measured by cross-correlation: 1200 at
  /// 48 kHz, 1102 at 44.1 kHz, 800 at 32 kHz, 400 at 16 kHz, 2400 at 96 kHz; at most a sample off elsewhere).
  static func afftdnLatency(rate: Int) -> Int { Int((0.05 * Double(rate)).rounded(.toNearestOrEven)) / 2 }

  /// Pass 1's filters before the noise reduction: high-pass and the hum notches (narrow, at the mains
  /// fundamental and the harmonics the analysis found standing out; none when no hum was found).
  public static func preFilters(_ settings: EnhanceSettings, analysis: EnhanceAnalysis?) -> [String] {
    var chain: [String] = []
    if let frequency = settings.highPass { chain.append("highpass=f=\(number(frequency))") }
    if settings.humReduction, let analysis, let f0 = analysis.humFundamental {
      // Double precision: a 2 Hz notch at 50 Hz is out of reach of single-precision biquad coefficients.
      chain.append("aformat=sample_fmts=dbl")
      for k in analysis.humHarmonics {
        chain.append("bandreject=f=\(number(f0 * Double(k))):width_type=h:w=\(number(humWidth))")
      }
    }
    return chain
  }

  /// The most `afftdn` takes out, dB (`high`): past it, it eats quiet speech; the neural denoiser's `max`
  /// (no limit) is the default, and without it the default is this.
  static let afftdnMaximum = 20.0

  /// Width of each hum notch, Hz (mains drifts by a few tenths of a hertz; speech loses nothing audible).
  static let humWidth = 3.0

  /// Pass 1's filters after the noise reduction (and `afftdn` itself when it is the denoiser, with its delay
  /// taken out): clicks, plosives, dynamic EQ, de-essing, compression. None of these delays the audio.
  public static func postFilters(
    _ settings: EnhanceSettings, analysis: EnhanceAnalysis?, denoiser: Denoiser?, rate: Int = 48000
  ) -> [String] {
    var chain: [String] = []
    if denoiser == .afftdn { chain += afftdnFilters(settings, analysis: analysis, rate: rate) }
    if let amount = settings.clickReduction {
      // adeclick's threshold: 8 (only the plainest clicks) at 0 down to 2 (its default) at 100.
      chain.append("adeclick=t=\(number(8 - amount / 100 * 6))")
    }
    if let amount = settings.plosiveReduction {
      // A low shelf under 120 Hz that cuts only while the band around 80 Hz bursts past the speech's own low
      // end (a shelf at 0 dB is no filter: the rest passes untouched, with no delay).
      chain.append(
        "adynamicequalizer=dfrequency=80:dqfactor=0.7:tfrequency=120:tqfactor=0.7:tftype=lowshelf"
          + ":threshold=\(amplitude(plosiveThreshold(analysis))):ratio=\(number(4 + amount / 100 * 16))"
          + ":attack=1:release=60:mode=cut")
    }
    if settings.dynamicEQ == true {
      // Harshness: the 3.5 kHz band cut (gently: ffmpeg 5.1's ratio acts hard, and its range does not bound
      // it) only while it stands out of the speech (a threshold 14 dB under the speech level measured).
      let level = analysis?.loudLevel ?? -20
      let speech = level.isFinite ? level : -20
      chain.append(
        "adynamicequalizer=dfrequency=3500:dqfactor=1.5:tfrequency=3500:tqfactor=1.5"
          + ":threshold=\(amplitude(pow(10, (speech - 14) / 20))):ratio=1.2:attack=5:release=100:mode=cut")
    }
    if let amount = settings.sibilanceReduction { chain.append("deesser=i=\(number(amount / 100))") }
    if let amount = settings.rangeControl {
      // 0-100 maps to ratios 1.5:1 to 6:1 over a -24 dB threshold.
      chain.append("acompressor=threshold=-24dB:ratio=\(number(1.5 + amount / 100 * 4.5)):attack=10:release=200")
    }
    return chain
  }

  /// `afftdn` with the noise floor measured from the file, its delay taken out (none when noise reduction and
  /// isolation are off).
  static func afftdnFilters(_ settings: EnhanceSettings, analysis: EnhanceAnalysis?, rate: Int) -> [String] {
    guard let limit = settings.attenuationLimit else { return [] }
    let floor = analysis?.noiseFloor ?? -50
    let n = afftdnLatency(rate: rate)
    return [
      "apad=pad_len=\(n)", "afftdn=nr=\(number(min(limit, afftdnMaximum))):nf=\(number(floor))",
      "atrim=start_sample=\(n)", "asetpts=PTS-STARTPTS",
    ]
  }

  /// Where the neural denoiser's attenuation limit over `high`'s stops (`max`, isolation 100): the quietest
  /// frames (the noise floor the analysis measured) brought down to this level, dBFS, and no further.
  static let quietTarget = -90.0

  /// The denoiser's attenuation limit (dB; 100 is none) for this input: the settings' limit, but one over
  /// `high`'s 20 dB only as deep as the measured noise needs (`quietTarget`), and never under 20 dB. Clean
  /// speech gains nothing from more, and loses (PESQ-WB against the input 3.92-4.52 with no limit on six
  /// clean voices, 4.25-4.58 at 20 dB); noisy speech keeps what it needs (noise at -40 dBFS: 50 dB).
  public static func attenuationLimit(_ settings: EnhanceSettings, analysis: EnhanceAnalysis?) -> Double? {
    guard let limit = settings.attenuationLimit else { return nil }
    guard limit > 20, let analysis else { return limit }
    let needed = analysis.quietLevel.isFinite ? (analysis.quietLevel - quietTarget).rounded(.up) : 0
    return min(limit, max(20, needed))
  }

  /// The plosive filter's detection threshold (adynamicequalizer takes a linear amplitude): 6 dB under the
  /// speech level (the loudest 10% of 20 ms frames, RMS), above a voice's own low end; -30 dBFS when nothing
  /// was measured.
  static func plosiveThreshold(_ analysis: EnhanceAnalysis?) -> Double {
    let level = analysis?.loudLevel ?? -20
    return pow(10, ((level.isFinite ? level : -20) - 6) / 20)
  }

  /// The whole of pass 1's filters when one ffmpeg does it (no neural denoiser).
  public static func cleanFilters(
    _ settings: EnhanceSettings, analysis: EnhanceAnalysis? = nil, denoiser: Denoiser? = nil, rate: Int = 48000
  ) -> [String] {
    preFilters(settings, analysis: analysis) + postFilters(settings, analysis: analysis, denoiser: denoiser, rate: rate)
  }

  /// The decoding ffmpeg in front of the neural denoiser: one piece of the input (from `start`, `length`
  /// seconds) through the pre-filters, as 48 kHz float PCM of `channels` channels to descriptor 3.
  ///
  /// With `bypass` (music detection), the piece goes out twice over, `channels` × 2 channels: first through
  /// the pre-filters (and `afftdn` when it is the `denoiser`), then untouched, for the music sections.
  public static func decodeArguments(
    input: String, start: Double?, length: Double?, channels: Int, settings: EnhanceSettings,
    analysis: EnhanceAnalysis?, bypass: Bool = false, denoiser: Denoiser? = nil
  ) -> [String] {
    var arguments = ["-hide_banner", "-nostdin", "-y", "-nostats", "-loglevel", "error", "-progress", "pipe:1"]
    if let start { arguments += ["-ss", number(start)] }
    if let length { arguments += ["-t", number(length)] }
    arguments += MediaTools.safeInput + ["-i", input]
    if bypass {
      // The processed channels, then the same channels untouched: `channels` × 2 in all.
      let format = "aformat=sample_fmts=flt:channel_layouts=\(channels)c"
      var processed = preFilters(settings, analysis: analysis)
      if denoiser == .afftdn {
        processed += afftdnFilters(settings, analysis: analysis, rate: DeepFilter.sampleRate)
      }
      let graph = [
        "[0:a:0]aresample=\(DeepFilter.sampleRate),\(format),asplit=2[p][r]",
        "[p]" + (processed + [format]).joined(separator: ",") + "[q]",
        "[q][r]amerge=inputs=2,aformat=sample_fmts=flt[out]",
      ]
      return arguments + [
        "-filter_complex", graph.joined(separator: ";"), "-map", "[out]", "-ar", String(DeepFilter.sampleRate),
        "-c:a", "pcm_f32le", "-f", "f32le", "pipe:3",
      ]
    }
    arguments += ["-map", "0:a:0"]
    let chain = preFilters(settings, analysis: analysis) + ["aresample=\(DeepFilter.sampleRate)"]
    return arguments + [
      "-af", chain.joined(separator: ","), "-ac", String(channels), "-ar", String(DeepFilter.sampleRate), "-c:a",
      "pcm_f32le", "-f", "f32le", "pipe:3",
    ]
  }

  /// Pass 1 for one piece of the input (`MediaPieces`; the whole input is one piece when short): clean it,
  /// measure the cleaned audio, and write the piece's own part (after `warm` seconds of warm-up, which let
  /// the filters and the 3 s loudness windows settle) as the float WAV `clean` at `rate`. Momentary and
  /// short-term loudness go to the metadata log `log` (one frame per 100 ms, warm-up included); the sample and
  /// true peaks of the piece's own part to stderr (`astats@sp`, `astats@tp`; true peaks 4x oversampled as
  /// analyze does). Pieces run in parallel and combine exactly (`LoudnessMath`); names are plain (ffmpeg runs
  /// in the work directory).
  ///
  /// With `raw` (a channel count), the input is the neural denoiser's output on stdin (48 kHz float PCM,
  /// already decoded, pre-filtered and cut to the piece) and only the post-filters run here.
  public static func cleanArguments(
    input: String, start: Double?, length: Double?, warm: Double, inputRate: Int, clean: String, log: String,
    settings: EnhanceSettings, rate: Int, analysis: EnhanceAnalysis? = nil, denoiser: Denoiser? = nil,
    raw: Int? = nil
  ) -> [String] {
    let filters =
      raw == nil
      ? cleanFilters(settings, analysis: analysis, denoiser: denoiser, rate: inputRate)
      : postFilters(settings, analysis: analysis, denoiser: denoiser)
    return cleanArguments(
      input: input, start: start, length: length, warm: warm, inputRate: inputRate, clean: clean, log: log,
      filters: filters, rate: rate, raw: raw)
  }

  /// Pass 1 as above with any filter chain `filters` (mastering's profiles use it; an empty chain only
  /// measures and converts). Without `truePeak` only the sample peak is measured (`astats@sp`): mastering
  /// always limits in pass 2 and checks the true peak of what it encoded, so it skips the 4x oversampling.
  public static func cleanArguments(
    input: String, start: Double?, length: Double?, warm: Double, inputRate: Int, clean: String, log: String,
    filters: [String], rate outputRate: Int, raw: Int? = nil, truePeak: Bool = true
  ) -> [String] {
    var arguments = ["-hide_banner", "-nostdin", "-y", "-nostats", "-loglevel", "info", "-progress", "pipe:1"]
    var inputRate = inputRate
    if let raw {
      arguments += [
        "-protocol_whitelist", "pipe", "-f", "f32le", "-ar", String(DeepFilter.sampleRate), "-ac", String(raw), "-i",
        "pipe:0",
      ]
      inputRate = DeepFilter.sampleRate
    } else {
      if let start { arguments += ["-ss", number(start)] }
      if let length { arguments += ["-t", number(length)] }
      arguments += MediaTools.safeInput + ["-i", input]
    }
    let measured =
      filters + [
        "ebur128=metadata=1", "ametadata=mode=print:file=\(AnalyzeCommand.quoted(log))", "asplit=2[w][p]",
      ]
    let trim = warm > 0 ? "atrim=start=\(number(warm)),asetpts=PTS-STARTPTS," : ""
    let samplePeak = "astats@sp=measure_perchannel=none:measure_overall=Peak_level,anullsink"
    let graph =
      truePeak
      ? [
        "[0:a:0]" + measured.joined(separator: ","),
        "[w]\(trim)anull[out]",
        "[p]\(trim)asplit=2[t][s]",
        "[t]aformat=sample_fmts=fltp,aresample=\(inputRate * 4):filter_size=12,"
          + "astats@tp=measure_perchannel=none:measure_overall=Peak_level,anullsink",
        "[s]" + samplePeak,
      ]
      : ["[0:a:0]" + measured.joined(separator: ","), "[w]\(trim)anull[out]", "[p]\(trim)" + samplePeak]
    return arguments + [
      "-filter_complex", graph.joined(separator: ";"), "-map", "[out]", "-ar", String(outputRate), "-c:a",
      "pcm_f32le",
      "-f", "wav", clean,
    ]
  }

  /// The overall peak (dBFS) `astats@<name>` reported on stderr; nil when it did not.
  public static func reportedPeak(_ stderr: String, filter name: String) -> Double? {
    var peak: Double?
    for line in stderr.split(separator: "\n") where line.hasPrefix("[astats@\(name) ") {
      if let range = line.range(of: "Peak level dB: ") {
        peak = Double(line[range.upperBound...].trimmingCharacters(in: .whitespaces)) ?? peak
      }
    }
    return peak
  }

  /// The gain (dB) that brings `measured` to the target, and the limiter ceiling (dBFS) when the peaks
  /// would pass the limit; a gain of 0 when loudness correction is off or the audio is silent.
  public static func plan(measured: LoudnessSummary, settings: EnhanceSettings) -> (gain: Double, ceiling: Double?) {
    var gain = 0.0
    if let target = settings.targetLevel, measured.integrated > -70 {
      gain = min(max(target - measured.integrated, -40), 40)
    }
    let peak = settings.peakReference == .sample ? measured.samplePeak : measured.truePeak
    // A sample-peak limiter lets inter-sample peaks through: keep 1 dB in hand for a true-peak limit.
    let ceiling = settings.peakReference == .sample ? settings.peakLimit : settings.peakLimit - 1
    return (gain, peak + gain > ceiling ? ceiling : nil)
  }

  /// Pass 2: gain, limiter and encoder, from the pieces `cleans` joined (with the video of `input` copied
  /// when the format keeps video and the input has some). With `check` (a streamable muxer for the encoded
  /// audio, `checkMuxer(for:)`), the encoded audio also goes to descriptor 3 as it is written, for a second
  /// ffmpeg to measure at the same time (`checkArguments`): the check then costs no time of its own.
  public static func finishArguments(
    cleans: [String], input: String, output: String, gain: Double, ceiling: Double?, info: MediaInfo,
    format: OutputFormat, video span: (start: Double, end: Double?) = (0, nil), check: String? = nil,
    limiter: LimiterTiming = .enhance, compress: Bool = true
  ) -> [String] {
    var arguments = ["-hide_banner", "-nostdin", "-y", "-loglevel", "error", "-progress", "pipe:1", "-nostats"]
    for clean in cleans { arguments += MediaTools.safeInput + ["-i", clean] }
    let keepVideo = format.keepsVideo && info.hasVideo
    if keepVideo {
      // The video of the span processed (`input.region`), cut where the audio was.
      if span.start > 0 { arguments += ["-ss", number(span.start)] }
      if let end = span.end, span.start > 0 || end < (info.duration ?? .infinity) {
        arguments += ["-t", number(end - span.start)]
      }
      arguments += MediaTools.safeInput + ["-i", input]
    }
    var chain = ["volume=\(number(gain))dB"]
    if let ceiling {
      // Gentle compression of the peaks first, so the limiter only catches what is left (no pumping): 2.5:1
      // from 8 dB under the ceiling, soft knee, slow enough to leave syllables their shape (enhance; a
      // mastering profile brings its own dynamics and asks for none here). Then the limiter, its look-ahead
      // compensated (`latency`), so the output lines up with the input.
      if compress {
        chain.append(
          "acompressor=threshold=\(number(pow(10, (ceiling - compressionHeadroom) / 20))):ratio=2.5:attack=5"
            + ":release=120:knee=4")
      }
      chain.append(
        "alimiter=limit=\(number(pow(10, ceiling / 20))):level=false:attack=\(number(limiter.attack)):"
          + "release=\(number(limiter.release)):latency=1")
    }
    let joined = cleans.count > 1 ? ["concat=n=\(cleans.count):v=0:a=1"] : []
    let sources = cleans.indices.map { "[\($0):a:0]" }.joined()
    arguments += ["-filter_complex", sources + (joined + chain).joined(separator: ",") + "[a]", "-map", "[a]"]
    if keepVideo { arguments += ["-map", "\(cleans.count):v:0", "-c:v", "copy"] }
    arguments += format.audioArguments
    if !keepVideo { arguments.append("-vn") }
    arguments += ["-map_metadata", "-1"]
    if let check {
      // The tee muxer encodes once and writes twice; a failing check never fails the output.
      return arguments + ["-f", "tee", "[f=\(format.muxer)]\(output)|[f=\(check):select=a:onfail=ignore]pipe:3"]
    }
    return arguments + ["-f", format.muxer, output]
  }

  /// How far under the limiter's ceiling the peak compressor starts, dB.
  static let compressionHeadroom = 8.0

  /// A muxer that can stream the format's encoded audio down a pipe (and its demuxer's name), or nil when the
  /// output is measured after it is written (PCM: quick to read back).
  /// With `pcm`, PCM streams too (in NUT): mastering's short previews save a process per output that way.
  public static func checkMuxer(for format: OutputFormat, pcm: Bool = false) -> (muxer: String, demuxer: String)? {
    guard let codec = format.audioArguments.drop(while: { $0 != "-c:a" }).dropFirst().first else { return nil }
    if pcm && codec.hasPrefix("pcm_") { return ("nut", "nut") }
    switch codec {
    case "libmp3lame": return ("mp3", "mp3")
    case "aac": return ("adts", "aac")
    case "libvorbis", "libopus": return ("ogg", "ogg")
    case "flac": return ("flac", "flac")
    default: return nil
    }
  }

  /// The measuring ffmpeg of a checked pass 2: the encoded audio from stdin (`demuxer`), `ebur128` on stderr.
  /// With `log` (a plain name: the checker runs in the work directory), the momentary loudness of every
  /// 100 ms goes to that metadata log too, for dialog intelligence's speech gating.
  public static func checkArguments(demuxer: String, log: String? = nil) -> [String] {
    let filter = log.map { speechLoudnessFilter(log: $0) } ?? LoudnessSummary.filter
    return ["-hide_banner", "-nostdin", "-nostats", "-loglevel", "info", "-protocol_whitelist", "pipe"]
      + [
        "-format_whitelist", demuxer, "-f", demuxer, "-i", "pipe:0", "-map", "0:a:0", "-af", filter, "-f", "null", "-",
      ]
  }

  /// `LoudnessSummary.filter` that also logs each frame's momentary loudness to `log` (a plain name).
  static func speechLoudnessFilter(log: String) -> String {
    LoudnessSummary.filter + ":metadata=1,ametadata=mode=print:file=\(AnalyzeCommand.quoted(log))"
  }

  /// The output rate: the input's when the encoder takes it, else 48 kHz.
  static func sampleRate(info: MediaInfo, format: OutputFormat) -> Int {
    let rate = info.sampleRate ?? 48000
    let accepted = format.sampleRates ?? [48000, 44100, 32000, 24000, 22050, 16000]
    return accepted.contains(rate) ? rate : 48000
  }

  /// A filter argument: whole numbers without a fraction, others to three decimals.
  /// A linear amplitude for a filter argument, to six significant digits (quiet inputs have small ones).
  static func amplitude(_ value: Double) -> String { String(format: "%.6g", value) }

  static func number(_ value: Double) -> String {
    value == value.rounded() ? String(Int(value)) : String((value * 1000).rounded() / 1000)
  }
}

/// The peak limiter's timing in milliseconds: how fast it clamps a peak and how fast it lets go.
public struct LimiterTiming: Sendable, Equatable, Codable {
  public var attack: Double
  public var release: Double

  public init(attack: Double, release: Double) {
    self.attack = attack
    self.release = release
  }

  /// Enhance's limiter: 5 ms attack, 50 ms release.
  public static let enhance = LimiterTiming(attack: 5, release: 50)
}
