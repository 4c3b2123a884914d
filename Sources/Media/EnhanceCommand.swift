import Foundation

/// The ffmpeg arguments for an enhance: a pure function of the settings, the input's info and the format.
public enum EnhanceCommand {
  /// The audio filter chain, in processing order: clean (high-pass, hum, noise), shape (de-ess,
  /// compression), then level (loudness normalisation with a peak ceiling).
  public static func filters(_ settings: EnhanceSettings) -> [String] {
    var chain: [String] = []
    if let frequency = settings.highPass { chain.append("highpass=f=\(number(frequency))") }
    if settings.humReduction {
      chain.append("bandreject=f=50:width_type=h:w=4")
      chain.append("bandreject=f=60:width_type=h:w=4")
    }
    if let reduction = settings.noiseReduction { chain.append("afftdn=nr=\(number(reduction)):nf=-40") }
    if let amount = settings.sibilanceReduction { chain.append("deesser=i=\(number(amount / 100))") }
    if let amount = settings.rangeControl {
      // 0-100 maps to ratios 1.5:1 to 6:1 over a -24 dB threshold.
      chain.append("acompressor=threshold=-24dB:ratio=\(number(1.5 + amount / 100 * 4.5)):attack=10:release=200")
    }
    if let target = settings.targetLevel {
      // loudnorm's true-peak ceiling; with a sample-peak reference a limiter holds the sample ceiling instead.
      chain.append("loudnorm=I=\(number(target)):TP=\(number(settings.peakLimit)):LRA=11")
      if settings.peakReference == "sample" {
        chain.append("alimiter=limit=\(number(pow10(settings.peakLimit / 20))):level=false")
      }
    } else if settings.peakReference == "sample" || settings.peakLimit < 0 {
      chain.append("alimiter=limit=\(number(pow10(settings.peakLimit / 20))):level=false")
    }
    return chain
  }

  /// The whole argument array: progress on stdout, safe input options, the filter chain, the encoder.
  public static func arguments(
    input: String, output: String, settings: EnhanceSettings, info: MediaInfo, format: OutputFormat
  ) -> [String] {
    var arguments = ["-hide_banner", "-nostdin", "-y", "-loglevel", "error", "-progress", "pipe:1", "-nostats"]
    arguments += MediaTools.safeInput + ["-i", input, "-map", "0:a:0"]
    let keepVideo = format.keepsVideo && info.hasVideo
    if keepVideo { arguments += ["-map", "0:v:0", "-c:v", "copy"] }
    let chain = filters(settings)
    if !chain.isEmpty { arguments += ["-af", chain.joined(separator: ",")] }
    arguments += ["-ar", String(sampleRate(info: info, format: format))] + format.audioArguments
    if !keepVideo { arguments.append("-vn") }
    arguments += ["-map_metadata", "-1", "-f", format.muxer, output]
    return arguments
  }

  /// The output rate: the input's when the encoder takes it (loudnorm would otherwise run at 192 kHz and
  /// write that), else 48 kHz.
  static func sampleRate(info: MediaInfo, format: OutputFormat) -> Int {
    let rate = info.sampleRate ?? 48000
    let accepted = format.sampleRates ?? [48000, 44100, 32000, 24000, 22050, 16000]
    return accepted.contains(rate) ? rate : 48000
  }

  /// A filter argument: whole numbers without a fraction, others to three decimals.
  static func number(_ value: Double) -> String {
    value == value.rounded() ? String(Int(value)) : String((value * 1000).rounded() / 1000)
  }

  private static func pow10(_ exponent: Double) -> Double { pow(10, exponent) }
}
