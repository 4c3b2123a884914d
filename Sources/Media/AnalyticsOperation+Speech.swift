import AudioAnalysis
import Foundation
import JSON
import Jobs

extension AnalyticsOperation {
  /// `POST /media/analyze/speech`: the talkers of the input's speech (`SpeakerDiarizer`) and, per talker, the
  /// share of the talking, loudness, a quality score and the sections they speak, as
  /// `processed_region.audio.speech {num_talkers, percentage, details}`.
  ///
  /// Quality scores are Ferry's own, as diagnose's noise score: a section's loudness above the input's noise
  /// floor (the quietest tenth of its 20 ms frames) from 5 dB (0) to 40 dB (10).
  public static func speech(transfers: JobTransfers, tools: MediaTools) -> AnalyticsOperation {
    AnalyticsOperation(path: "/media/analyze/speech", transfers: transfers, tools: tools) {
      ["speech": speechBlock($0)]
    }
  }

  /// The result's `processed_region.audio.speech` for the classified region.
  static func speechBlock(_ content: ContentAnalysis) -> JSONValue {
    let regions = content.sections(.speech).map { (start: $0.start, end: $0.end) }
    let turns = SpeakerDiarizer.diarize(frames: content.frames, regions: regions) { content.samples(from: $0, to: $1) }
    let energies = content.frames.frames.map { Double($0.energy) }.filter { $0 > 1e-12 }.sorted()
    let quiet = energies.prefix(max(1, energies.count / 10))
    let floor = quiet.isEmpty ? -90 : 10 * log10(quiet.reduce(0, +) / Double(quiet.count))
    func quality(_ loudness: Double?) -> Double? {
      loudness.map { min(10, max(0, ($0 + 0.691 - floor - 5) / 3.5)) }
    }
    let talkers = Set(turns.map(\.talker)).sorted()
    let totalSpeech = turns.reduce(0) { $0 + ($1.end - $1.start) }
    let r = ContentAnalysis.rounded
    let details: [JSONValue] = talkers.map { talker in
      let own = turns.filter { $0.talker == talker }
      let time = own.reduce(0) { $0 + ($1.end - $1.start) }
      var blocks: [Double] = []
      var shortTerm: [Double] = []
      let sections: [JSONValue] = own.enumerated().map { index, turn in
        let (sectionBlocks, sectionShortTerm) = content.loudnessBlocks(from: turn.start, to: turn.end)
        blocks += sectionBlocks
        shortTerm += sectionShortTerm
        let loudness = SectionLoudness.gated(sectionBlocks)
        let hops =
          Int(
            turn.start / ContentClassifier.hopSeconds)..<max(
            Int(turn.start / ContentClassifier.hopSeconds) + 1,
            Int((turn.end / ContentClassifier.hopSeconds).rounded(.up)))
        let confidences = hops.compactMap {
          $0 < content.labels.confidences.count ? content.labels.confidences[$0] : nil
        }
        let confidence = confidences.isEmpty ? 0 : confidences.reduce(0, +) / Double(confidences.count)
        return .object([
          "section_id": .string("tk_\(talker + 1)_\(index + 1)"), "start": r(content.offset + turn.start, 1000),
          "duration": r(turn.end - turn.start, 1000), "confidence": r(confidence, 100), "loudness": r(loudness, 100),
          "quality_score": r(quality(loudness), 100),
        ])
      }
      let measured = SectionLoudness.gated(blocks)
      return .object([
        "talker_id": .int(talker + 1),
        "talk_listen_ratio": r(totalSpeech - time > 0 ? time / (totalSpeech - time) : nil, 100),
        "loudness": .object(["measured": r(measured, 100), "range": r(SectionLoudness.range(shortTerm), 100)]),
        "quality_score": r(quality(measured), 100),
        "longest_monologue": r(own.map { $0.end - $0.start }.max() ?? 0, 100),
        "num_sections": .int(own.count), "sections": .array(sections),
      ])
    }
    return .object([
      "num_talkers": .int(talkers.count), "percentage": r(content.percentage(.speech), 10), "details": .array(details),
    ])
  }
}
