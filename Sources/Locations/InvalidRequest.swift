import Problems

/// A request that cannot be accepted, naming the field at fault (`output.auth.secret`) and what is wrong with
/// it. Messages never contain a secret; answered as 400 `/problems/invalid-request`. The location parser
/// throws it for a location's fields, an operation's validation for all the others.
public struct InvalidRequest: ProblemError, Sendable, Equatable, CustomStringConvertible {
  /// The JSON path of the field (`input`, `outputs[1].destination.url`); empty for the request as a whole.
  public var field: String
  /// What is wrong, written to be read after the field name (`is required`, `unsupported scheme "ftp"`).
  public var reason: String

  public init(_ field: String, _ reason: String) {
    self.field = field
    self.reason = reason
  }

  public var problem: Problem { .invalidRequest }
  public var detail: String { description }

  /// `output.auth.secret is required`, `input.url: unsupported scheme "ftp"`.
  public var description: String {
    if field.isEmpty { return reason }
    return reason.hasPrefix("is ") ? "\(field) \(reason)" : "\(field): \(reason)"
  }
}

/// Why a location was refused: the location parser's name for the invalid request it throws.
public typealias LocationError = InvalidRequest
