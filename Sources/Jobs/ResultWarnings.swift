import Foundation
import JSON

/// The `warnings` list of a job's result: what the run found worth telling although it succeeded (a truncated
/// input), in every operation's result, added by the engine from `JobContext.warn`. Absent when there is
/// nothing to say; nothing else in the result changes.
public enum ResultWarnings {
  /// `result` (a JSON object's text) with `warnings` appended to its `warnings` list (made when absent);
  /// the very same text when there are none, or when it already lists them all (an operation that writes its
  /// result to a file adds them itself first, so the file and the job's result stay the same bytes).
  public static func adding(_ warnings: [String], to result: String) -> String {
    guard !warnings.isEmpty,
      case .object(var object)? = try? JSONValue.parse(Data(result.utf8), duplicateKeys: .lastWins)
    else { return result }
    var listed: [JSONValue] = []
    if case .array(let existing)? = object["warnings"] { listed = existing }
    let missing = warnings.filter { !listed.contains(.string($0)) }
    guard !missing.isEmpty else { return result }
    object["warnings"] = .array(listed + missing.map { .string($0) })
    return JSONValue.object(object).description
  }
}
