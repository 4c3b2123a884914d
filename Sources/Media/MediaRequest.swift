import JSON
import Jobs
import Locations

/// Reading the `input` and `output` of a request.
enum MediaRequest {
  static func inputAndOutput(_ request: JSONValue) throws(InvalidRequest) -> (Location, Location) {
    // `region` on the input is a time range (COMPAT), not an AWS region.
    let parser = LocationParser(extraFields: ["region"])
    do {
      let input = try parser.parse(request.object?["input"], field: "input")
      let output = try parser.parse(request.object?["output"], field: "output")
      return (input, output)
    } catch {
      throw InvalidRequest(error)
    }
  }
}
