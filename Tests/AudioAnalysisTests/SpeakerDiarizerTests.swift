import AudioAnalysis
import Foundation
import TestSupport
import Testing

/// Talkers on conversations made of distinct synthetic voices (espeak-ng variants; festival's KAL diphone and
/// CMU SLT HTS voices) taking turns with 0.6 s pauses.
@Suite(.serialized) struct SpeakerDiarizerTests {
  struct Conversation {
    var samples: [Float] = []
    var truth: [(start: Double, end: Double, talker: Int)] = []
    var talkers: Int
  }

  static func conversation(voices: [Int], turns: Int) throws -> Conversation {
    var c = Conversation(talkers: voices.count)
    let pause = [Float](repeating: 0, count: Int(0.6 * 16000))
    c.samples = pause
    for t in 0..<turns {
      let v = voices[t % voices.count]
      let clip = AnalyticsMaterial.scaled(
        try AnalyticsMaterial.speech(
          AnalyticsMaterial.sentences[(t + v) % AnalyticsMaterial.sentences.count], voice: AnalyticsMaterial.voices[v]),
        to: -20 - Double(t % 3))
      let start = Double(c.samples.count) / 16000
      c.samples += clip
      c.truth.append((start, Double(c.samples.count) / 16000, t % voices.count))
      c.samples += pause
    }
    return c
  }

  @Test func talkers_areCountedAndPlaced() throws {
    let plans: [([Int], Int)] = [
      ([0, 1], 4), ([2, 3], 4), ([1, 2], 4), ([0, 2, 4], 6), ([1, 3, 5], 6), ([0, 1, 2, 3], 8),
    ]
    var exact = 0
    var boundaries = 0
    var boundariesRight = 0
    var missed = 0.0
    var falseAlarm = 0.0
    var confusion = 0.0
    var total = 0.0
    var counts: [String] = []
    for (voices, turns) in plans {
      let c = try Self.conversation(voices: voices, turns: turns)
      let frames = FrameAnalysis(samples: c.samples)
      let labels = ContentClassifier().classify(frames)
      let regions = ContentClassifier.sections(labels, duration: frames.duration).filter { $0.contentClass == .speech }
        .map { (start: $0.start, end: $0.end) }
      let turnsFound = SpeakerDiarizer.diarize(samples: c.samples, frames: frames, regions: regions)
      let found = Set(turnsFound.map(\.talker)).count
      if found == c.talkers { exact += 1 }
      counts.append("\(c.talkers)→\(found)")
      let edges = turnsFound.flatMap { [$0.start, $0.end] }
      for t in c.truth {
        for edge in [t.start, t.end] {
          boundaries += 1
          if edges.contains(where: { abs($0 - edge) <= 0.3 }) { boundariesRight += 1 }
        }
      }
      // Diarization error at 10 ms, with found talkers mapped to true ones by the largest overlap.
      let step = 0.01
      let n = Int(Double(c.samples.count) / 16000 / step)
      func truthAt(_ t: Double) -> Int? { c.truth.first { t >= $0.start && t < $0.end }?.talker }
      func foundAt(_ t: Double) -> Int? { turnsFound.first { t >= $0.start && t < $0.end }?.talker }
      var overlap: [Int: [Int: Int]] = [:]
      for i in 0..<n {
        let t = Double(i) * step
        if let a = truthAt(t), let b = foundAt(t) { overlap[b, default: [:]][a, default: 0] += 1 }
      }
      // One found talker to one true talker, the pairing with the most overlap (DER's optimal mapping),
      // found greedily: pairs taken by overlap, largest first.
      var mapping: [Int: Int] = [:]
      var taken: Set<Int> = []
      let pairs = overlap.flatMap { b, row in row.map { (b, $0.key, $0.value) } }.sorted { $0.2 > $1.2 }
      for (b, a, _) in pairs where mapping[b] == nil && !taken.contains(a) {
        mapping[b] = a
        taken.insert(a)
      }
      for i in 0..<n {
        let t = Double(i) * step
        let a = truthAt(t)
        let b = foundAt(t)
        if a != nil { total += step }
        switch (a, b) {
        case (.some, nil): missed += step
        case (nil, .some): falseAlarm += step
        case (.some(let x), .some(let y)) where mapping[y] != x: confusion += step
        default: break
        }
      }
    }
    let der = (missed + falseAlarm + confusion) / total
    print(
      "SpeakerDiarizer: num_talkers exact on \(exact) of \(plans.count) conversations (\(counts.joined(separator: " "))); "
        + "\(boundariesRight) of \(boundaries) boundaries within 0.3 s (\(String(format: "%.0f", Double(boundariesRight) / Double(boundaries) * 100))%); "
        + "DER \(String(format: "%.1f", der * 100))% (missed \(String(format: "%.1f", missed)) s, false alarm \(String(format: "%.1f", falseAlarm)) s, confusion \(String(format: "%.1f", confusion)) s of \(String(format: "%.1f", total)) s)"
    )
    #expect(Double(exact) / Double(plans.count) >= 0.8)
    #expect(Double(boundariesRight) / Double(boundaries) >= 0.9)
    #expect(der <= 0.2)
  }
}
