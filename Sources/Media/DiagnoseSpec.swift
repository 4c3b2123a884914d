import Jobs
import Locations

/// A diagnose job as validated: an input and nothing to write.
public struct DiagnoseSpec: JobSpec {
  /// The media to check.
  public var input: Location

  public var reads: [Location] { [input] }
  public var writes: [Location] { [] }
}
