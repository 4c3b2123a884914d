import AudioAnalysis
import Foundation
import TestSupport
import Testing

/// The classifier on a labelled set: speech from espeak-ng and festival voices, music from hyperrogue-music's
/// soundtrack and fluidsynth renders, digital silence, pink noise, and the voices over the music 12 dB down.
@Suite(.serialized) struct ContentClassifierTests {
  /// Clips with their true class, laid end to end on 0.5 s boundaries.
  struct Programme {
    var samples: [Float] = []
    var labels: [ContentClass] = []
    var sources: [String] = []

    mutating func add(_ clip: [Float], _ label: ContentClass, _ source: String) {
      let padded = AnalyticsMaterial.padded(clip, toMultipleOf: ContentClassifier.hopSeconds)
      samples += padded
      labels += Array(repeating: label, count: padded.count / 8000)
      sources.append("\(label.rawValue): \(source)")
    }
  }

  static func speechClips(
    voices: [AnalyticsMaterial.Voice] = AnalyticsMaterial.voices, sentences: [String] = AnalyticsMaterial.sentences
  ) throws -> [([Float], String)] {
    try voices.enumerated().map { i, voice in
      let text = sentences[i % sentences.count]
      return (AnalyticsMaterial.scaled(try AnalyticsMaterial.speech(text, voice: voice), to: -20), "\(voice)")
    }
  }

  /// Soundtrack excerpts of 6 s from `start` and three grooves; the training set's tracks, tempos and programs
  /// (`training`; `second` for three more grooves) are not the tests'.
  static func musicClips(training: Bool = false, start: Double = 20, second: Bool = false) throws
    -> [([Float], String)]
  {
    let folder = (try AnalyticsMaterial.soundtrack()[0] as NSString).deletingLastPathComponent
    let names =
      training
      ? [
        "hr-domina-hunting", "hr3-caves", "hr3-jungle", "hr3-motion", "hr3-crossroads", "hr3-desert", "hr3-hell",
        "hr3-icyland", "hr3-mirror", "hr3-rlyeh",
      ]
      : ["hr-domina-mountain", "hr-savino-palace", "hr3-graveyard", "hr3-laboratory"]
    var clips: [([Float], String)] = []
    for track in names.map({ "\(folder)/\($0).ogg" }) {
      clips.append(
        (
          AnalyticsMaterial.scaled(try AnalyticsMaterial.decode(track, start: start, length: 6), to: -20),
          "hyperrogue-music \((track as NSString).lastPathComponent) \(Int(start))-\(Int(start) + 6) s"
        ))
    }
    for (bpm, program) in training
      ? (second ? [(76.0, UInt8(11)), (104, 19), (132, 73)] : [(88.0, UInt8(4)), (116, 40), (140, 26)])
      : [(96.0, UInt8(0)), (128, 48), (150, 24)]
    {
      let clip = Array(try AnalyticsMaterial.groove(bpm: bpm, bars: 4, chordProgram: program).prefix(6 * 16000))
      clips.append(
        (AnalyticsMaterial.scaled(clip, to: -20), "fluidsynth FluidR3_GM groove \(Int(bpm)) BPM program \(program)"))
    }
    return clips
  }

  func accuracy(_ programme: Programme, _ labels: ContentClassifier.Labels, counting: Set<ContentClass>) -> Double {
    var right = 0
    var total = 0
    for (i, truth) in programme.labels.enumerated() where counting.contains(truth) && i < labels.classes.count {
      total += 1
      if labels.classes[i] == truth { right += 1 }
    }
    return total == 0 ? 0 : Double(right) / Double(total)
  }

  @Test func speechMusicAndSilence_areToldApart() throws {
    let speech = try Self.speechClips()
    let music = try Self.musicClips()
    var programme = Programme()
    for i in 0..<max(speech.count, music.count) {
      if i < speech.count { programme.add(speech[i].0, .speech, speech[i].1) }
      if i % 2 == 0 { programme.add([Float](repeating: 0, count: 32000), .silence, "digital silence 2 s") }
      if i < music.count { programme.add(music[i].0, .music, music[i].1) }
    }
    programme.add(
      AnalyticsMaterial.scaled(try AnalyticsMaterial.noise(seconds: 4), to: -25), .other, "ffmpeg anoisesrc pink")
    let labels = ContentClassifier().classify(FrameAnalysis(samples: programme.samples))
    dump(programme, labels)
    let figure = accuracy(programme, labels, counting: [.speech, .music, .silence])
    print(
      "ContentClassifier: \(String(format: "%.1f", figure * 100))% of \(programme.labels.count) hops right on speech vs music vs silence (\(Int(Double(programme.labels.count) * 0.5)) s)"
    )
    #expect(figure >= 0.9)
  }

  @Test func speechOverBackgroundMusic_isSpeech() throws {
    let speech = try Self.speechClips()
    let music = try Self.musicClips()
    var programme = Programme()
    for (i, clip) in speech.enumerated() {
      let bed = music[i % music.count]
      let background = AnalyticsMaterial.scaled(Array(bed.0.prefix(clip.0.count)), to: -32)
      programme.add(AnalyticsMaterial.mixed(clip.0, background), .speech, "\(clip.1) over \(bed.1) at -12 dB")
      programme.add(bed.0, .music, bed.1)
    }
    let labels = ContentClassifier().classify(FrameAnalysis(samples: programme.samples))
    dump(programme, labels)
    let figure = accuracy(programme, labels, counting: [.speech])
    let overall = accuracy(programme, labels, counting: [.speech, .music])
    print(
      "ContentClassifier: \(String(format: "%.1f", figure * 100))% of speech-over-music hops right (\(String(format: "%.1f", overall * 100))% with the music alone)"
    )
    #expect(figure >= 0.85)
  }

  /// Voices for the training set only, none of them in the tests' sets (`AnalyticsMaterial.voices`): espeak-ng
  /// with other accents and variants, and festival's KED diphone voice (`festvox-kdlpc16k`, free to use and
  /// distribute), its Catalan HTS voice Ona (`festvox-ca-ona-hts`, LGPL-2.1+) and Italian diphone voice Lucia
  /// (`festvox-italp16k`, GPL-2+) reading English.
  static let trainingVoices: [AnalyticsMaterial.Voice] = [
    .espeak("en-gb-x-rp+m1", pitch: 40), .espeak("en-029+f2", pitch: 75), .festival("voice_ked_diphone"),
    .festival("voice_upc_ca_ona_hts"), .espeak("en-us-nyc+m6", pitch: 55), .espeak("en-gb-x-gbclan+f5", pitch: 80),
    .festival("voice_lp_diphone"),
  ]

  /// Sentences for the training set only (written for it; no test reads them).
  static let trainingSentences = [
    "The bakery on the corner opens early, and the smell of fresh bread fills the whole street.",
    "Turn left after the bridge, follow the river for a mile, and you will see the old mill.",
    "Our team finished the report late last night, so the meeting moved to Friday afternoon.",
    "When the train stopped in the tunnel, the lights flickered and everyone went quiet.",
    "She planted tomatoes, beans and sunflowers along the fence behind the garden shed.",
    "The museum keeps its oldest maps in a cool dark room that few visitors ever see.",
    "Could you read the last paragraph again, a little slower this time, please?",
  ]

  /// Writes the features of a set made like the test's from other voices, sentences, tracks and renders, for
  /// fitting the classifier's weights (scripts/fit-content-classifier.py); runs only when asked. Each voice
  /// speaks alone, over a soundtrack or groove 10 dB down that then goes on alone, over another 15 dB down,
  /// and over pink noise 15 dB down; then each reads another sentence over other excerpts and grooves 8 dB
  /// down that then go on alone, and again alone straight after them.
  @Test(.enabled(if: ProcessInfo.processInfo.environment["FERRY_ANALYTICS_TRAIN"] != nil))
  func trainingFeatures() throws {
    let speech = try Self.speechClips(voices: Self.trainingVoices, sentences: Self.trainingSentences)
    let music = try Self.musicClips(training: true)
    var programme = Programme()
    for i in 0..<speech.count {
      programme.add(speech[i].0, .speech, speech[i].1)
      if i % 2 == 0 { programme.add([Float](repeating: 0, count: 16000), .silence, "digital silence 1 s") }
      let bed = music[i % music.count]
      programme.add(
        AnalyticsMaterial.mixed(speech[i].0, AnalyticsMaterial.scaled(Array(bed.0.prefix(speech[i].0.count)), to: -30)),
        .speech, "over \(bed.1) 10 dB down")
      programme.add(bed.0, .music, bed.1)
      let other = music[(i + 7) % music.count].0
      programme.add(
        AnalyticsMaterial.mixed(speech[i].0, AnalyticsMaterial.scaled(Array(other.prefix(speech[i].0.count)), to: -35)),
        .speech, "over music, 15 dB down")
      programme.add(
        AnalyticsMaterial.mixed(
          speech[i].0,
          AnalyticsMaterial.scaled(
            Array(try AnalyticsMaterial.noise(seconds: 12, seed: i + 5).prefix(speech[i].0.count)), to: -35)),
        .speech, "over noise")
    }
    let again = try Self.speechClips(
      voices: Self.trainingVoices, sentences: Array(Self.trainingSentences[3...] + Self.trainingSentences[..<3]))
    let more = try Self.musicClips(training: true, start: 38, second: true)
    for i in 0..<again.count {
      let bed = more[(i + 3) % more.count]
      programme.add(
        AnalyticsMaterial.mixed(again[i].0, AnalyticsMaterial.scaled(Array(bed.0.prefix(again[i].0.count)), to: -28)),
        .speech, "\(again[i].1) over \(bed.1) 8 dB down")
      programme.add(bed.0, .music, bed.1)
      programme.add(again[i].0, .speech, again[i].1)
    }
    for clip in music.dropFirst(speech.count) + more.prefix(3) + more.suffix(3) {
      programme.add(clip.0, .music, clip.1)
    }
    programme.add(AnalyticsMaterial.scaled(try AnalyticsMaterial.noise(seconds: 6, seed: 3), to: -25), .other, "pink")
    let features = ContentClassifier().features(FrameAnalysis(samples: programme.samples))
    var text = ""
    for (i, f) in features.enumerated() where i < programme.labels.count {
      text +=
        "\(programme.labels[i].rawValue)\t\(f.level)\t\(f.lowEnergyRatio)\t\(f.modulation)\t\(f.voicedFraction)\t\(f.voicedRun)\t\(f.pitchMotion)\t\(f.harmonicity)\t\(f.toggles)\t\(f.energySpread)\t\(f.tonalConcentration)\t\(f.centroidSpread)\t\(f.speechBandDepth)\n"
    }
    try Data(text.utf8).write(to: URL(fileURLWithPath: ProcessInfo.processInfo.environment["FERRY_ANALYTICS_TRAIN"]!))
  }

  func dump(_ programme: Programme, _ labels: ContentClassifier.Labels) {
    guard ProcessInfo.processInfo.environment["FERRY_ANALYTICS_DUMP"] == "1" else { return }
    for s in programme.sources { print(s) }
    for (i, f) in labels.features.enumerated() where i < programme.labels.count {
      print(
        String(
          format: "%6.1f %@ %@ lvl %6.1f ler %.2f mod %.2f voi %.2f run %.2f mot %.2f har %.2f tog %.1f spr %.1f",
          Double(i) * 0.5,
          programme.labels[i].rawValue, labels.classes[i].rawValue, f.level, f.lowEnergyRatio, f.modulation,
          f.voicedFraction, f.voicedRun, f.pitchMotion, f.harmonicity, f.toggles, f.energySpread))
    }
  }
}
