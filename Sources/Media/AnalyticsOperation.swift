import Foundation
import JSON
import Jobs
import Locations

/// The music and speech analytics (`music(transfers:tools:)`, `speech(transfers:tools:)`): one spec, one
/// validation and one run (fetch, probe, classify, deliver), each kind adding its own block to the result's
/// `processed_region.audio`.
public struct AnalyticsOperation: JobOperation {
  public let path: String
  let work: AnalyticsWork
  /// The kind's blocks of `processed_region.audio`, from the classified region.
  let audio: @Sendable (ContentAnalysis) -> [String: JSONValue]

  init(
    path: String, transfers: JobTransfers, tools: MediaTools,
    audio: @escaping @Sendable (ContentAnalysis) -> [String: JSONValue]
  ) {
    self.path = path
    work = AnalyticsWork(transfers: transfers, tools: tools)
    self.audio = audio
  }

  public func validate(_ request: JSONValue) throws(InvalidRequest) -> AnalyticsSpec {
    let (input, output) = try MediaRequest.inputAndOptionalOutput(request)
    return AnalyticsSpec(input: input, output: output, region: try MediaRegion(request))
  }

  public func run(_ spec: AnalyticsSpec, context: JobContext) throws -> String {
    try work.run(spec, context: context, audio: audio)
  }
}
