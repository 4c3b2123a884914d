import Foundation
import Jobs
import Locations

extension JobTransfers {
  /// Writes a JSON result (analyze's, the analytics') to `name` in the job's work folder and delivers it to
  /// `output`, the request's `output` field, as the last part of the progress (90-99).
  func deliverResult(_ text: String, named name: String, to output: Location, context: JobContext) throws(JobFailure) {
    let file = context.workDirectory + "/" + name
    guard FileManager.default.createFile(atPath: file, contents: Data(text.utf8)) else {
      throw JobFailure(.internalError, "cannot write the result", retry: true)
    }
    try deliver(
      file: file, to: output, field: "output", contentType: "application/json", context: context, share: 90...99)
  }
}
