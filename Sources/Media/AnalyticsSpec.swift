import Foundation
import JSON
import Jobs
import Locations

/// A music or speech analytics job as validated.
public struct AnalyticsSpec: JobSpec {
  /// The media to analyse.
  public var input: Location
  /// Where the result JSON is also written; nil when the request named none (the job's `result` has it).
  public var output: Location?
  /// The part of the input to analyse; nil for all of it.
  public var region: MediaRegion?

  public var reads: [Location] { [input] }
  public var writes: [Location] { output.map { [$0] } ?? [] }
}

/// The steps the analytics operations share: fetch, probe, classify, then write the result.
struct AnalyticsWork {
  let transfers: JobTransfers
  let tools: MediaTools

  /// Fetches and classifies the spec's region, hands it to `audio` for the result's `processed_region.audio`,
  /// and delivers the result.
  func run(_ spec: AnalyticsSpec, context: JobContext, audio: (ContentAnalysis) -> [String: JSONValue]) throws
    -> String
  {
    let inputFile = context.workDirectory + "/input"
    try transfers.fetch(spec.input, field: "input", to: inputFile, context: context, share: 0...30)
    let info = try MediaSteps.probe(inputFile, tools: tools, context: context)
    let (start, end) = try MediaRegion.analyzed(spec.region, of: info)
    let content = try ContentAnalysis.run(
      inputFile, from: start, to: end, tools: tools, context: context, share: 30...80)
    defer { content.discard() }
    let result: JSONValue = .object([
      "media_info": AnalyzeWork.mediaInfo(info),
      "processed_region": .object([
        "start": ContentAnalysis.rounded(start, 1000), "end": ContentAnalysis.rounded(end, 1000),
        "audio": .object(audio(content)),
      ]),
      "version": .string(tools.version),
    ])
    let resultText = ResultWarnings.adding(context.warnings, to: result.description)
    guard let output = spec.output else { return resultText }
    try transfers.deliverResult(resultText, named: "analytics.json", to: output, context: context)
    return resultText
  }
}
