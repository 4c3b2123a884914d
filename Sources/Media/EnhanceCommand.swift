import Foundation

/// The ffmpeg work of an enhance, as pure functions of the settings, the input's info and the format.
///
/// Two passes and a check, because a one-pass `loudnorm` is both slow (~65x realtime here) and only
/// approximately on target: pass 1 cleans the audio into a float WAV while `ebur128` measures it; pass 2
/// applies the exact gain to the target and a peak limiter, and encodes; the output is then measured, and
/// pass 2 repeated with a corrected gain or ceiling when it missed (the limiter can take some loudness).
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

  /// Pass 1: clean `input` into the float WAV `clean` at the output's rate, measuring the cleaned audio.
  public static func cleanArguments(input: String, clean: String, settings: EnhanceSettings, rate: Int) -> [String] {
    let chain = cleanFilters(settings) + [LoudnessSummary.filter]
    return ["-hide_banner", "-nostdin", "-y", "-nostats", "-loglevel", "info", "-progress", "pipe:1"]
      + MediaTools.safeInput + ["-i", input, "-map", "0:a:0", "-af", chain.joined(separator: ","), "-ar", String(rate)]
      + ["-c:a", "pcm_f32le", "-f", "wav", clean]
  }

  /// The gain (dB) that brings `measured` to the target, and the limiter ceiling (dBFS) when the peaks
  /// would pass the limit; a gain of 0 when loudness correction is off or the audio is silent.
  public static func plan(measured: LoudnessSummary, settings: EnhanceSettings) -> (gain: Double, ceiling: Double?) {
    var gain = 0.0
    if let target = settings.targetLevel, measured.integrated > -70 {
      gain = min(max(target - measured.integrated, -40), 40)
    }
    let peak = settings.peakReference == "sample" ? measured.samplePeak : measured.truePeak
    // A sample-peak limiter lets inter-sample peaks through: keep 1 dB in hand for a true-peak limit.
    let ceiling = settings.peakReference == "sample" ? settings.peakLimit : settings.peakLimit - 1
    return (gain, peak + gain > ceiling ? ceiling : nil)
  }

  /// Pass 2: gain, limiter and encoder, from `clean` (with the video of `input` copied when the format
  /// keeps video and the input has some).
  public static func finishArguments(
    clean: String, input: String, output: String, gain: Double, ceiling: Double?, info: MediaInfo,
    format: OutputFormat
  ) -> [String] {
    var arguments = ["-hide_banner", "-nostdin", "-y", "-loglevel", "error", "-progress", "pipe:1", "-nostats"]
    arguments += MediaTools.safeInput + ["-i", clean]
    let keepVideo = format.keepsVideo && info.hasVideo
    if keepVideo { arguments += MediaTools.safeInput + ["-i", input] }
    arguments += ["-map", "0:a:0"]
    if keepVideo { arguments += ["-map", "1:v:0", "-c:v", "copy"] }
    var chain = ["volume=\(number(gain))dB"]
    if let ceiling {
      chain.append("alimiter=limit=\(number(pow(10, ceiling / 20))):level=false:attack=5:release=50")
    }
    arguments += ["-af", chain.joined(separator: ",")] + format.audioArguments
    if !keepVideo { arguments.append("-vn") }
    arguments += ["-map_metadata", "-1", "-f", format.muxer, output]
    return arguments
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
