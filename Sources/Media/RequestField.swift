import JSON
import Jobs
import Locations

/// Reading request fields the same way in every operation.
enum RequestField {
  /// A number (or a numeric string, as some clients send) in `range`, or nil when absent; refusals name `field`.
  static func number(_ value: JSONValue?, _ field: String, _ range: ClosedRange<Double>) throws(InvalidRequest)
    -> Double?
  {
    guard let value, value != .null else { return nil }
    guard let n = value.number ?? value.string.flatMap(Double.init), n.isFinite else {
      throw InvalidRequest(field, "must be a number")
    }
    guard range.contains(n) else {
      throw InvalidRequest(
        field,
        "must be between \(EnhanceSettings.format(range.lowerBound)) and \(EnhanceSettings.format(range.upperBound))")
    }
    return n
  }
}
