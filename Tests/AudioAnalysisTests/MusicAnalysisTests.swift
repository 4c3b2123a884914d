import AudioAnalysis
import Foundation
import TestSupport
import Testing

/// Tempo and key on MIDI written here at known tempos and keys, rendered by fluidsynth with
/// fluid-soundfont-gm's FluidR3_GM.sf2.
@Suite(.serialized) struct MusicAnalysisTests {
  @Test func tempo_isWithinTwoPercent_from60To180BPM() throws {
    let tempos: [Double] = [60, 72, 84, 96, 108, 120, 132, 144, 156, 168, 180]
    var right = 0
    var octave = 0
    var report: [String] = []
    let rendered = try AnalyticsMaterial.renderBatch(
      name: "tempo-set", programs: [0: 0, 1: 33],
      pieces: tempos.map { bpm in
        // 16 s of each tempo.
        let bars = Int((bpm * 16 / 60 / 4).rounded(.up))
        return (bpm, Double(bars * 4), AnalyticsMaterial.grooveNotes(bars: bars))
      })
    for (bpm, samples) in zip(tempos, rendered) {
      let found = TempoEstimator.estimate(samples[...], sampleRate: AnalyticsMaterial.sampleRate)?.bpm ?? 0
      let error = abs(found - bpm) / bpm
      if error <= 0.02 {
        right += 1
      } else if abs(found - 2 * bpm) / (2 * bpm) <= 0.02 || abs(found - bpm / 2) / (bpm / 2) <= 0.02 {
        octave += 1
      }
      report.append("\(Int(bpm))→\(String(format: "%.1f", found))")
    }
    let share = Double(right) / Double(tempos.count)
    print(
      "TempoEstimator: \(right) of \(tempos.count) tempos within ±2% (\(String(format: "%.0f", share * 100))%), "
        + "\(octave) half or double; \(report.joined(separator: " "))")
    // Issue 23 asks for 90%.
    #expect(share >= 0.9)
  }

  /// A check outside the test set (`FERRY_TEMPO_EXTRA=1`): tempos the set does not hold, and the same groove
  /// with eighth-note hi-hats (a pulse at twice the tempo that must not be taken for the beat).
  @Test(.enabled(if: ProcessInfo.processInfo.environment["FERRY_TEMPO_EXTRA"] != nil))
  func tempo_outsideTheTestSet() throws {
    let pieces: [(bpm: Double, eighths: Bool)] =
      [66, 78, 90, 102, 114, 126, 138, 150, 162, 174].map { ($0, false) }
      + [64, 80, 100, 116, 140, 176].map { ($0, true) }
    let rendered = try AnalyticsMaterial.renderBatch(
      name: "tempo-extra", programs: [0: 0, 1: 33],
      pieces: pieces.map { piece in
        let bars = Int((piece.bpm * 16 / 60 / 4).rounded(.up))
        return (piece.bpm, Double(bars * 4), AnalyticsMaterial.grooveNotes(bars: bars, eighths: piece.eighths))
      })
    var right = 0
    var report: [String] = []
    for (piece, samples) in zip(pieces, rendered) {
      let found = TempoEstimator.estimate(samples[...], sampleRate: AnalyticsMaterial.sampleRate)?.bpm ?? 0
      if abs(found - piece.bpm) / piece.bpm <= 0.02 { right += 1 }
      report.append("\(Int(piece.bpm))\(piece.eighths ? "e" : "")→\(String(format: "%.1f", found))")
    }
    print("TempoEstimator outside the set: \(right) of \(pieces.count) within ±2%; \(report.joined(separator: " "))")
    #expect(right * 10 >= pieces.count * 9)
  }

  @Test func key_isRightOnMostOfThe24Keys() throws {
    var right = 0
    var relative = 0
    var fifth = 0
    var wrong: [String] = []
    let keys = (0..<12).flatMap { tonic in [false, true].map { (tonic, $0) } }
    let rendered = try AnalyticsMaterial.renderBatch(
      name: "key-set", programs: [0: 0, 1: 32],
      pieces: keys.map { (100, 14, AnalyticsMaterial.cadenceNotes(tonic: $0.0, minor: $0.1)) })
    for ((tonic, minor), samples) in zip(keys, rendered) {
      let truth = KeyEstimator.Key(tonic: tonic, minor: minor)
      let chroma = KeyEstimator.chroma(samples[...], sampleRate: AnalyticsMaterial.sampleRate)
      guard let found = KeyEstimator.key(chroma: chroma)?.key else { continue }
      if found == truth {
        right += 1
        continue
      }
      let relativeKey =
        minor
        ? KeyEstimator.Key(tonic: (tonic + 3) % 12, minor: false)
        : KeyEstimator.Key(tonic: (tonic + 9) % 12, minor: true)
      if found == relativeKey {
        relative += 1
      } else if found.minor == minor && (found.tonic == (tonic + 7) % 12 || found.tonic == (tonic + 5) % 12) {
        fifth += 1
      }
      wrong.append("\(truth)→\(found)")
    }
    print(
      "KeyEstimator: \(right) of 24 keys exactly right (\(String(format: "%.0f", Double(right) / 24 * 100))%), "
        + "\(relative) relative, \(fifth) a fifth off; wrong: \(wrong.joined(separator: ", "))")
    #expect(Double(right) / 24 >= 0.75)
  }
}
