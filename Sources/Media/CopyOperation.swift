import JSON
import Jobs
import Locations

/// A job kind that copies `input` to `output` unchanged: the engine's reference operation, served only
/// where a test or an embedding registers it (`FerryApplication(operations:)`). The media operations follow
/// the same shape with processing in between.
public struct CopyOperation: JobOperation {
  public let path: String
  public let transfers: JobTransfers

  public init(path: String = "/media/copy", transfers: JobTransfers) {
    self.path = path
    self.transfers = transfers
  }

  public struct Spec: JobSpec {
    public var input: Location
    public var output: Location

    public var reads: [Location] { [input] }
    public var writes: [Location] { [output] }
  }

  public func validate(_ request: JSONValue) throws(InvalidRequest) -> Spec {
    let parser = LocationParser()
    return Spec(
      input: try parser.parse(request.object?["input"], field: "input"),
      output: try parser.parse(request.object?["output"], field: "output"))
  }

  public func run(_ spec: Spec, context: JobContext) throws -> String {
    let file = context.workDirectory + "/input"
    try transfers.fetch(spec.input, field: "input", to: file, context: context, share: 0...50)
    try transfers.deliver(
      file: file, to: spec.output, field: "output", contentType: nil, context: context, share: 50...99)
    return "{}"
  }
}
