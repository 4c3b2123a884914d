import Jobs
import Locations

/// An enhance job as validated: where to read and write, and what to do.
public struct EnhanceSpec: JobSpec {
  /// The media to enhance.
  public var input: Location
  /// Where the enhanced media goes; its name chooses the format.
  public var output: Location
  /// What to do, with the content type's defaults filled in.
  public var settings: EnhanceSettings

  public var reads: [Location] { [input] }
  public var writes: [Location] { [output] }
}
