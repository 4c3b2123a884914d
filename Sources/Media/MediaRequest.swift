import JSON
import Jobs
import Locations

/// Reading the media a request names: its `input` and `output`, or the one entry of its `inputs`.
enum MediaRequest {
  // `region` on the input is a time range (COMPAT), not an AWS region.
  static let parser = LocationParser(extraFields: ["region"])

  static func inputAndOutput(_ request: JSONValue) throws(InvalidRequest) -> (Location, Location) {
    let input = try parser.parse(request.object?["input"], field: "input")
    let output = try parser.parse(request.object?["output"], field: "output")
    return (input, output)
  }

  /// The input, and the output when the request names one (absent or `null`: none).
  static func inputAndOptionalOutput(_ request: JSONValue) throws(InvalidRequest) -> (Location, Location?) {
    let input = try parser.parse(request.object?["input"], field: "input")
    guard let value = request.object?["output"], value != .null else { return (input, nil) }
    return (input, try parser.parse(value, field: "output"))
  }

  /// The one input of a request's `inputs` list (transcode, master); `tooMany` says why a second is refused.
  static func onlyInput(_ root: [String: JSONValue], tooMany: String) throws(InvalidRequest) -> [String: JSONValue] {
    guard case .array(let inputs)? = root["inputs"], !inputs.isEmpty else {
      throw InvalidRequest("inputs", "is required: a list with one input")
    }
    guard inputs.count == 1 else { throw InvalidRequest("inputs", tooMany) }
    guard case .object(let first) = inputs[0] else { throw InvalidRequest("inputs[0]", "must be an object") }
    return first
  }
}
