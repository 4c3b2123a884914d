import Jobs
import Locations

/// An analyze job as validated.
public struct AnalyzeSpec: JobSpec {
  /// The media to measure.
  public var input: Location
  /// Where the result JSON is also written; nil when the request named none (the job's `result` has it).
  public var output: Location?
  /// What to measure and check, with defaults.
  public var settings: AnalyzeSettings
  /// The part of the input to analyze; nil for all of it.
  public var region: MediaRegion?

  public var reads: [Location] { [input] }
  public var writes: [Location] { output.map { [$0] } ?? [] }
}
