import Foundation
import JSON
import Jobs

/// `POST /media/analyze/music`: where the input holds music, and for each music section its loudness, tempo
/// (`bpm`) and key; `genre`, `instrument` and `era` are empty lists (no offline model estimates them here).
/// The result is `processed_region.audio.music {percentage, num_sections, sections}` as Dolby's clients read it.
public struct AnalyzeMusicOperation: JobOperation {
  public let path = "/media/analyze/music"
  let work: AnalyticsWork

  public init(transfers: JobTransfers, tools: MediaTools) {
    work = AnalyticsWork(transfers: transfers, tools: tools)
  }

  public func validate(_ request: JSONValue) throws(InvalidRequest) -> AnalyticsSpec {
    try AnalyticsWork.validate(request)
  }

  public func run(_ spec: AnalyticsSpec, context: JobContext) throws -> String {
    try work.run(spec, context: context) { content in ["music": content.musicBlock()] }
  }
}
