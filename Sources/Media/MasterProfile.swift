import Foundation

/// One of the mastering profiles behind Dolby's preset letters (`a` ... `n`): Ferry's own chain of
/// multiband dynamics, a linear-phase equalisation curve and a limiter character, built from ffmpeg filters.
///
/// Dolby publishes a description per letter (its .NET client's `DynamicEqPreset`, its music-mastering sample
/// app); the curves and dynamics here are Ferry's reading of those descriptions, not Dolby's processing.
public struct MasterProfile: Sendable, Equatable {
  /// How hard the multiband compressor works and how the final limiter moves.
  public struct Dynamics: Sendable, Equatable {
    /// Compression ratio above the threshold at full intensity.
    public var ratio: Double
    /// Threshold in dBFS with the track staged at `MasterCommand.stagingLevel` (-20 LUFS): stationary
    /// material at that loudness (pink noise's bands sit near -27 dBFS) stays under it; louder passages of
    /// music go over it.
    public var threshold: Double
    /// Compressor attack and release, milliseconds.
    public var attack: Double
    public var release: Double
    /// The limiter's timing.
    public var limiter: LimiterTiming

    /// Tight: 3:1 from -22 dBFS, quick; a fast limiter.
    public static let tight = Dynamics(
      ratio: 3, threshold: -22, attack: 10, release: 120, limiter: LimiterTiming(attack: 1, release: 40))
    /// Tight but smooth: 2.5:1 from -22 dBFS, slow; an unhurried limiter.
    public static let smooth = Dynamics(
      ratio: 2.5, threshold: -22, attack: 30, release: 300, limiter: LimiterTiming(attack: 4, release: 120))
    /// Moderate: 2:1 from -20 dBFS.
    public static let moderate = Dynamics(
      ratio: 2, threshold: -20, attack: 20, release: 200, limiter: LimiterTiming(attack: 3, release: 80))
    /// Wide: 1.4:1 from -18 dBFS, slow; a gentle limiter.
    public static let wide = Dynamics(
      ratio: 1.4, threshold: -18, attack: 30, release: 300, limiter: LimiterTiming(attack: 5, release: 150))
  }

  /// Dolby's letter (lowercase).
  public var letter: String
  /// The name Dolby's music-mastering sample app gives the letter (Bubbly, Oasis, ...).
  public var name: String
  /// Dolby's description of the letter.
  public var description: String
  /// The genres Dolby suggests it for.
  public var genres: String
  /// The equalisation curve at full intensity: dB at each of `curveFrequencies`.
  public var curve: [Double]
  public var dynamics: Dynamics

  /// The frequencies (Hz) the curves are given at: octave centres from 31.5 Hz to 16 kHz.
  public static let curveFrequencies: [Double] = [31.5, 63, 125, 250, 500, 1000, 2000, 4000, 8000, 16000]

  /// The curve's gain (dB) at `frequency`: straight lines between the points on a logarithmic frequency axis,
  /// flat beyond the first and last point.
  public func gain(at frequency: Double, intensity: Double = 100) -> Double {
    let points = Self.curveFrequencies
    let scale = intensity / 100
    if frequency <= points[0] { return curve[0] * scale }
    for k in 1..<points.count where frequency <= points[k] {
      let t = log2(frequency / points[k - 1]) / log2(points[k] / points[k - 1])
      return (curve[k - 1] + (curve[k] - curve[k - 1]) * t) * scale
    }
    return curve[curve.count - 1] * scale
  }

  /// The profiles by letter.
  public static let all: [MasterProfile] = [
    .init(
      letter: "a", name: "Bubbly", description: "Tight dynamics and ample brightness in the upper frequencies.",
      genres: "pop", curve: [0, 0.5, 0.5, 0, -0.5, 0, 1, 2, 3, 3.5], dynamics: .tight),
    .init(
      letter: "b", name: "Oasis",
      description: "Tight dynamics, a solid low-end, and mid-frequency clarity for vocal emphasis.",
      genres: "club", curve: [2, 2.5, 1.5, 0, -0.5, 1, 1.5, 0.5, 0.5, 0.5], dynamics: .tight),
    .init(
      letter: "c", name: "Bouncy", description: "Big bass presence and tight dynamics.", genres: "hip hop",
      curve: [3, 3.5, 2.5, 0.5, -0.5, 0, 0, 0.5, 1, 1], dynamics: .tight),
    .init(
      letter: "d", name: "Thump", description: "Heavy bass and sub-bass presence.", genres: "hip hop",
      curve: [5, 4.5, 2.5, 0, -0.5, -0.5, 0, 0, 0.5, 0.5], dynamics: .moderate),
    .init(
      letter: "e", name: "Rumble",
      description: "Big bass and sub-bass presence with additional openness in the mid and high frequencies.",
      genres: "hip hop, trap", curve: [4.5, 4, 2, 0, 0, 1, 1.5, 2, 2.5, 2.5], dynamics: .moderate),
    .init(
      letter: "f", name: "Ambiance", description: "Wide low-end processing with a light and ethereal tone.",
      genres: "lighter electronic", curve: [1.5, 1.5, 0.5, -0.5, -1, 0, 1, 2, 3, 3.5], dynamics: .moderate),
    .init(
      letter: "g", name: "Crystal", description: "Wide low-end processing with dark and moody tone.",
      genres: "darker electronic", curve: [2, 2, 1, 0.5, 0, -0.5, -1, -1.5, -2, -2.5], dynamics: .moderate),
    .init(
      letter: "h", name: "Electric",
      description: "Wide dynamics and ample openness in the mids and highs to allow for a wide spectrum of sound.",
      genres: "EDM", curve: [0.5, 0.5, 0, 0, 0.5, 1.5, 2, 2.5, 2.5, 2.5], dynamics: .wide),
    .init(
      letter: "i", name: "Balance", description: "Tight dynamics, and a well rounded, balanced tone.",
      genres: "diverse", curve: [1, 1, 0.5, 0, -0.5, 0, 0.5, 1, 1, 1], dynamics: .tight),
    .init(
      letter: "j", name: "Skyscraper",
      description: "Smooth, tight dynamics, and a light lift in the upper frequencies.",
      genres: "rock", curve: [0, 0, 0, 0, 0, 0, 0.5, 1, 1.5, 1.5], dynamics: .smooth),
    .init(
      letter: "k", name: "Hilltop", description: "Wide dynamics with a solid low and mid-frequency boost.",
      genres: "pop", curve: [2, 2, 1.5, 1, 1, 1, 0.5, 0, 0, 0], dynamics: .wide),
    .init(
      letter: "l", name: "Lift", description: "Emphasis on the mid-frequencies to highlight vocals.",
      genres: "lyrical, vocal", curve: [-1, -1, -0.5, 0, 1, 2, 2.5, 1, 0, 0], dynamics: .moderate),
    .init(
      letter: "m", name: "Shimmer",
      description: "Light touch with ample mid-frequency clarity to let acoustic instruments shine in the mix.",
      genres: "acoustic", curve: [0, 0, -0.5, -0.5, 0, 1, 1.5, 1.5, 1, 1], dynamics: .wide),
    .init(
      letter: "n", name: "Subtle", description: "Wide dynamics, and warm full tones for orchestral instruments.",
      genres: "classical", curve: [1, 1, 1, 0.5, 0, 0, -0.5, -0.5, -1, -1], dynamics: .wide),
  ]

  /// The profile for a letter (either case), nil for an unknown one.
  public static func named(_ letter: String) -> MasterProfile? {
    all.first { $0.letter == letter.lowercased() }
  }
}
