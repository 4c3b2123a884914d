import JSON
import Locations

/// A job kind that copies `input` to `output` unchanged: the engine's reference operation, served only
/// where a test or an embedding registers it (`FerryApplication(operations:)`).
public struct CopyOperation: JobOperation {
  public let path: String
  public let work: any JobWork

  public init(path: String = "/media/copy", transfers: JobTransfers) {
    self.path = path
    work = CopyWork(transfers: transfers)
  }

  public func validate(_ request: JSONValue) throws(InvalidRequest) -> ValidatedRequest {
    let parser = LocationParser()
    do {
      let input = try parser.parse(request.object?["input"], field: "input")
      let output = try parser.parse(request.object?["output"], field: "output")
      return ValidatedRequest(inputs: [input], outputs: [output])
    } catch {
      throw InvalidRequest(error)
    }
  }
}
