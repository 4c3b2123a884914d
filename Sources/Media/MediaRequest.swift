import JSON
import Jobs
import Locations

/// Reading the `input` and `output` of a request.
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
}
