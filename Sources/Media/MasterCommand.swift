import Foundation

/// The ffmpeg filters of a master, as pure functions of an output's settings.
///
/// The track is first staged at `stagingLevel` (a gain from its measured loudness), so the profile's
/// compressors meet every track at the same level whatever its own; then the profile: a three-band
/// compressor (Linkwitz-Riley crossovers at 150 Hz and 2.5 kHz, which sum flat), the equalisation curve
/// (`firequalizer`, linear phase), and the stereo widening when asked for. Pass 2 (`EnhanceCommand.finish`)
/// then sets the loudness and limits the true peak to -1 dBTP with the profile's limiter timing.
public enum MasterCommand {
  /// The loudness (LUFS) the profile's dynamics work at.
  public static let stagingLevel = -20.0
  /// The crossovers of the multiband compressor, Hz.
  public static let crossovers = [150, 2500]
  /// How much `stereo_image` raises the side signal (L-R) against the mid (L+R): +2.9 dB (x1.4). The mid, and
  /// so the mono downmix, is untouched; the loudness stage then takes back the little loudness the side adds.
  public static let sideGain = 1.4
  /// The ceiling every master keeps, dBTP.
  public static let peakLimit = -1.0

  /// The gain (dB) that stages a track measured at `integrated` LUFS (none for silence).
  public static func stagingGain(integrated: Double) -> Double {
    integrated > -70 ? min(max(stagingLevel - integrated, -40), 40) : 0
  }

  /// Pass 1's filters for one output, after the staging gain `staging` (dB): the profile at `intensity`
  /// (none at 0) and the widening (stereo inputs only). Empty when the output asks for nothing.
  public static func filters(_ settings: MasterSettings, staging: Double, channels: Int) -> [String] {
    var chain: [String] = []
    if let profile = settings.profile, settings.intensity > 0 {
      chain += profileFilters(profile, intensity: settings.intensity)
    }
    if settings.stereoImage && channels == 2 {
      chain.append("extrastereo=m=\(EnhanceCommand.number(sideGain)):c=false")
    }
    guard !chain.isEmpty || settings.loudness else { return [] }
    return ["volume=\(EnhanceCommand.number(staging))dB"] + chain
  }

  /// The profile's compressor and curve at `intensity` (0-100): the curve's gains and the ratio's excess
  /// over 1:1 scale with it.
  public static func profileFilters(_ profile: MasterProfile, intensity: Double) -> [String] {
    let scale = intensity / 100
    let d = profile.dynamics
    let ratio = 1 + (d.ratio - 1) * scale
    let threshold = pow(10, d.threshold / 20)
    let bands = ["mbl", "mbm", "mbh"]
    let compressor =
      "acompressor=threshold=\(String(format: "%.6f", threshold)):ratio=\(EnhanceCommand.number(ratio)):"
      + "attack=\(EnhanceCommand.number(d.attack)):release=\(EnhanceCommand.number(d.release)):knee=4:detection=rms"
    // A sub-graph inside the chain: the labels are unique in the graph, the chain goes on after amix.
    let multiband =
      "acrossover=split=\(crossovers.map(String.init).joined(separator: " ")):order=4th"
      + bands.map { "[\($0)]" }.joined() + ";"
      + bands.map { "[\($0)]\(compressor)[\($0)c];" }.joined()
      + bands.map { "[\($0)c]" }.joined() + "amix=inputs=3:normalize=0"
    return [multiband, equalizer(profile, intensity: intensity)]
  }

  /// The profile's curve as a linear-phase `firequalizer`: points every third of an octave from 20 Hz to
  /// 20 kHz, on the curve's logarithmic interpolation (firequalizer joins its points linearly in frequency).
  public static func equalizer(_ profile: MasterProfile, intensity: Double) -> String {
    var entries: [String] = []
    var frequency = 20.0
    while frequency <= 20000 {
      let gain = (profile.gain(at: frequency, intensity: intensity) * 100).rounded() / 100
      entries.append("entry(\(EnhanceCommand.number(frequency.rounded())),\(gain))")
      frequency *= pow(2, 1.0 / 3)
    }
    return "firequalizer=gain_entry='\(entries.joined(separator: ";"))':zero_phase=on"
  }
}
