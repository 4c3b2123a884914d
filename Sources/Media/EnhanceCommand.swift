import Foundation

/// The ffmpeg work of an enhance, as pure functions of the settings, the input's info and the format.
///
/// Two passes and a check, because a one-pass `loudnorm` is both slow (~65x realtime here) and only
/// approximately on target: pass 1 cleans the audio into float WAVs while `ebur128` measures it (in pieces on
/// all cores for long inputs); pass 2 applies the exact gain to the target and a peak limiter, and encodes,
/// while a second ffmpeg measures the encoded audio as it comes; pass 2 is repeated with a corrected gain or
/// ceiling when it missed (the limiter can take some loudness).
public enum EnhanceCommand {
  /// Pass 1's filters, in processing order: clean (high-pass, hum, noise), then shape (de-ess, compression).
  public static func cleanFilters(_ settings: EnhanceSettings) -> [String] {
    var chain: [String] = []
    if let frequency = settings.highPass { chain.append("highpass=f=\(number(frequency))") }
    if settings.humReduction {
      // Notch 50 and 60 Hz mains and their first harmonics (whichever is present, the other costs nothing).
      for frequency in [50, 60, 100, 120, 150, 180] {
        chain.append("bandreject=f=\(frequency):width_type=q:w=8")
      }
    }
    if let reduction = settings.noiseReduction { chain.append("afftdn=nr=\(number(reduction)):nf=-40") }
    if let amount = settings.sibilanceReduction { chain.append("deesser=i=\(number(amount / 100))") }
    if let amount = settings.rangeControl {
      // 0-100 maps to ratios 1.5:1 to 6:1 over a -24 dB threshold.
      chain.append("acompressor=threshold=-24dB:ratio=\(number(1.5 + amount / 100 * 4.5)):attack=10:release=200")
    }
    return chain
  }

  /// Pass 1 for one piece of the input (`MediaPieces`; the whole input is one piece when short): clean it,
  /// measure the cleaned audio, and write the piece's own part (after `warm` seconds of warm-up, which let
  /// the filters and the 3 s loudness windows settle) as the float WAV `clean` at `rate`. Momentary and
  /// short-term loudness go to the metadata log `log` (one frame per 100 ms, warm-up included); the sample and
  /// true peaks of the piece's own part to stderr (`astats@sp`, `astats@tp`; true peaks 4x oversampled as
  /// analyze does). Pieces run in parallel and combine exactly (`LoudnessMath`); names are plain (ffmpeg runs
  /// in the work directory).
  public static func cleanArguments(
    input: String, start: Double?, length: Double?, warm: Double, inputRate: Int, clean: String, log: String,
    settings: EnhanceSettings, rate: Int
  ) -> [String] {
    cleanArguments(
      input: input, start: start, length: length, warm: warm, inputRate: inputRate, clean: clean, log: log,
      filters: cleanFilters(settings), rate: rate)
  }

  /// Pass 1 as above with any filter chain `filters` (mastering's profiles use it; an empty chain only
  /// measures and converts). Without `truePeak` only the sample peak is measured (`astats@sp`): mastering
  /// always limits in pass 2 and checks the true peak of what it encoded, so it skips the 4x oversampling.
  public static func cleanArguments(
    input: String, start: Double?, length: Double?, warm: Double, inputRate: Int, clean: String, log: String,
    filters: [String], rate: Int, truePeak: Bool = true
  ) -> [String] {
    var arguments = ["-hide_banner", "-nostdin", "-y", "-nostats", "-loglevel", "info", "-progress", "pipe:1"]
    if let start { arguments += ["-ss", number(start)] }
    if let length { arguments += ["-t", number(length)] }
    arguments += MediaTools.safeInput + ["-i", input]
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
      "-filter_complex", graph.joined(separator: ";"), "-map", "[out]", "-ar", String(rate), "-c:a", "pcm_f32le",
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
    format: OutputFormat, check: String? = nil, limiter: LimiterTiming = .enhance
  ) -> [String] {
    var arguments = ["-hide_banner", "-nostdin", "-y", "-loglevel", "error", "-progress", "pipe:1", "-nostats"]
    for clean in cleans { arguments += MediaTools.safeInput + ["-i", clean] }
    let keepVideo = format.keepsVideo && info.hasVideo
    if keepVideo { arguments += MediaTools.safeInput + ["-i", input] }
    var chain = ["volume=\(number(gain))dB"]
    if let ceiling {
      chain.append(
        "alimiter=limit=\(number(pow(10, ceiling / 20))):level=false:attack=\(number(limiter.attack)):"
          + "release=\(number(limiter.release))")
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
  public static func checkArguments(demuxer: String) -> [String] {
    ["-hide_banner", "-nostdin", "-nostats", "-loglevel", "info", "-protocol_whitelist", "pipe", "-format_whitelist"]
      + [demuxer, "-f", demuxer, "-i", "pipe:0", "-map", "0:a:0", "-af", LoudnessSummary.filter, "-f", "null", "-"]
  }

  /// The output rate: the input's when the encoder takes it, else 48 kHz.
  static func sampleRate(info: MediaInfo, format: OutputFormat) -> Int {
    let rate = info.sampleRate ?? 48000
    let accepted = format.sampleRates ?? [48000, 44100, 32000, 24000, 22050, 16000]
    return accepted.contains(rate) ? rate : 48000
  }

  /// A filter argument: whole numbers without a fraction, others to three decimals.
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
