import Foundation
import JSON
import Locations

/// The simplest real job: fetch `input` and deliver it unchanged to `output`. The job engine's own tests run
/// it; the media operations follow the same shape with processing in between.
public struct CopyWork: JobWork {
  public let transfers: JobTransfers

  public init(transfers: JobTransfers) {
    self.transfers = transfers
  }

  public func run(_ context: JobContext) throws -> String {
    let body = try? JSONValue.parse(Data(context.request))
    let parser = LocationParser()
    let input: Location
    let output: Location
    do {
      input = try parser.parse(body?.object?["input"], field: "input")
      output = try parser.parse(body?.object?["output"], field: "output")
    } catch {
      // The API validated the request before storing it: a bad one here is a bug.
      throw JobFailure(.final, type: "/problems/internal-error", title: "Invalid stored request", detail: "\(error)")
    }
    let file = context.workDirectory + "/input"
    try transfers.fetch(input, field: "input", to: file, context: context, share: 0...50)
    try transfers.deliver(file: file, to: output, field: "output", contentType: nil, context: context, share: 50...99)
    return "{}"
  }
}
