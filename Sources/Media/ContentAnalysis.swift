import AudioAnalysis
import Foundation
import JSON
import Jobs

/// What the input holds, hop by hop: the region decoded once by ffmpeg to 16 kHz mono float (a work file,
/// read a minute at a time), its frames, and the classifier's sections. Analyze, diagnose and the analytics
/// operations build their `speech`, `music`, `other` and `silence` blocks from it.
struct ContentAnalysis {
  /// The raw samples' work file.
  let path: String
  let frames: FrameAnalysis
  let labels: ContentClassifier.Labels
  let sections: [ContentSection]
  /// Where the region starts in the input (section times are reported in the input's time).
  let offset: Double

  static let rate = FrameAnalysis.sampleRate

  /// Decodes `input` from `start` to `end` and classifies it.
  static func run(
    _ input: String, from start: Double, to end: Double, tools: MediaTools, context: JobContext,
    share: ClosedRange<Int>, reports: Bool = true
  ) throws(JobFailure) -> ContentAnalysis {
    let name = "analytics.f32"
    var arguments = ["-hide_banner", "-nostdin", "-y", "-nostats", "-loglevel", "error", "-progress", "pipe:1"]
    if start > 0 { arguments += ["-ss", AnalyzeCommand.number(start)] }
    arguments += ["-t", AnalyzeCommand.number(end - start)]
    arguments +=
      MediaTools.safeInput + [
        "-i", input, "-map", "0:a:0", "-ac", "1", "-ar", "\(rate)", "-c:a", "pcm_f32le", "-f", "f32le", name,
      ]
    try MediaSteps.ffmpeg(
      arguments, tools: tools, duration: end - start, context: context, share: share, reports: reports,
      in: context.workDirectory)
    let path = context.workDirectory + "/" + name
    guard let frames = FrameAnalysis(file: path) else {
      throw JobFailure(.internalError, "the decoded audio could not be read", retry: true)
    }
    try context.checkCancelled()
    let labels = ContentClassifier().classify(frames)
    return ContentAnalysis(
      path: path, frames: frames, labels: labels,
      sections: ContentClassifier.sections(labels, duration: frames.duration), offset: start)
  }

  /// The samples from `from` to `to` seconds (the region's time).
  func samples(from: Double, to: Double) -> [Float] {
    guard let handle = FileHandle(forReadingAtPath: path) else { return [] }
    defer { try? handle.close() }
    let first = max(0, Int(from * Double(Self.rate)))
    let count = max(0, Int(to * Double(Self.rate)) - first)
    do {
      try handle.seek(toOffset: UInt64(first * 4))
    } catch {
      return []
    }
    let data = handle.readData(ofLength: count * 4)
    return data.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
  }

  /// The 400 ms block loudnesses and 3 s short-term loudnesses from `from` to `to`, read ten seconds at a time
  /// into one meter: a section of hours keeps its memory to one read and its figures.
  func loudnessBlocks(from: Double, to: Double) -> (blocks: [Double], shortTerm: [Double]) {
    var meter = SectionLoudness.Meter(sampleRate: Self.rate)
    var start = from
    while start < to {
      let end = min(to, start + 10)
      meter.feed(samples(from: start, to: end)[...])
      start = end
    }
    return (meter.blocks, meter.shortTerm)
  }

  /// Sections of one class.
  func sections(_ kind: ContentClass) -> [ContentSection] { sections.filter { $0.contentClass == kind } }

  /// The share of the region (percent) in sections of `kind`.
  func percentage(_ kind: ContentClass) -> Double {
    guard frames.duration > 0 else { return 0 }
    return min(100, sections(kind).reduce(0) { $0 + $1.duration } / frames.duration * 100)
  }

  /// True for a time (the region's) inside a speech section.
  func isSpeech(at time: Double) -> Bool {
    let hop = Int(time / ContentClassifier.hopSeconds)
    return hop >= 0 && hop < labels.classes.count && labels.classes[hop] == .speech
  }

  /// A number rounded to `places` decimals, null when not finite.
  static func rounded(_ value: Double?, _ places: Double = 100) -> JSONValue {
    guard let value, value.isFinite else { return .null }
    return .double((value * places).rounded() / places)
  }

  /// The block of one class in Dolby's shape: `{percentage, num_sections, sections: [{section_id, start,
  /// duration, confidence, loudness}]}`; section ids are `<prefix>_<n>` from 1.
  func block(_ kind: ContentClass, prefix: String, extra: (ContentSection) -> [String: JSONValue] = { _ in [:] })
    -> JSONValue
  {
    let list = sections(kind)
    return .object([
      "percentage": Self.rounded(percentage(kind), 10), "num_sections": .int(list.count),
      "sections": .array(
        list.enumerated().map { index, section in
          var fields: [String: JSONValue] = [
            "section_id": .string("\(prefix)_\(index + 1)"), "start": Self.rounded(offset + section.start, 1000),
            "duration": Self.rounded(section.duration, 1000), "confidence": Self.rounded(section.confidence),
          ]
          if kind != .silence {
            fields["loudness"] = Self.rounded(
              SectionLoudness.gated(loudnessBlocks(from: section.start, to: section.end).blocks), 10)
          }
          return .object(fields.merging(extra(section)) { $1 })
        }),
    ])
  }

  /// Tempo and key are estimated on at most this many seconds from the middle of a music section.
  static let musicExcerpt = 120.0

  /// The music block: each section also carries `bpm` (null under 6 s, or with no pulse found), `key`
  /// (`[["A minor", correlation]]`, empty when no pitch is found), both from at most the middle two minutes
  /// of the section, and `genre`, `instrument`, `era` as empty lists: Ferry has no offline model that
  /// estimates them.
  func musicBlock() -> JSONValue {
    block(.music, prefix: "mu") { section in
      let middle = section.start + section.duration / 2
      let half = min(section.duration, Self.musicExcerpt) / 2
      let samples = self.samples(from: middle - half, to: middle + half)[...]
      let tempo = section.duration >= 6 ? TempoEstimator.estimate(samples, sampleRate: Self.rate) : nil
      let key = KeyEstimator.key(chroma: KeyEstimator.chroma(samples, sampleRate: Self.rate))
      return [
        "bpm": Self.rounded(tempo?.bpm, 10),
        "key": .array(key.map { [.array([.string($0.key.description), Self.rounded(max(0, $0.correlation))])] } ?? []),
        "genre": .array([]), "instrument": .array([]), "era": .array([]),
      ]
    }
  }

  /// `speech`, `music`, `other` and `silence` (the classifier's) blocks for a result's `audio`.
  func blocks() -> [String: JSONValue] {
    [
      "speech": block(.speech, prefix: "sp"), "music": musicBlock(), "other": block(.other, prefix: "ot"),
    ]
  }

  /// Removes the work file.
  func discard() { try? FileManager.default.removeItem(atPath: path) }
}
