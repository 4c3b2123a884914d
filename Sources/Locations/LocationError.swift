import Problems

/// Why a location was refused: the field at fault (`output.auth.secret`) and what is wrong with it.
/// Messages never contain a secret; answered as 400 `/problems/invalid-request`.
public struct LocationError: ProblemError, Sendable, Equatable, CustomStringConvertible {
  /// The JSON path of the field (`input`, `outputs[1].destination.url`).
  public var field: String
  /// What is wrong, written to be read after the field name.
  public var reason: String

  public init(_ field: String, _ reason: String) {
    self.field = field
    self.reason = reason
  }

  public var problem: Problem { .invalidRequest }
  public var detail: String { description }

  /// `output.auth.secret is required`, `input.url: unsupported scheme "ftp"`.
  public var description: String {
    reason.hasPrefix("is ") ? "\(field) \(reason)" : "\(field): \(reason)"
  }
}
