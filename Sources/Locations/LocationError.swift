/// Why a location was refused: the field at fault (`output.auth.secret`) and what is wrong with it.
/// Messages never contain a secret; the API answers them as 400 `/problems/invalid-request`.
public struct LocationError: Error, Sendable, Equatable, CustomStringConvertible {
  /// The JSON path of the field (`input`, `outputs[1].destination.url`).
  public var field: String
  /// What is wrong, written to be read after the field name.
  public var problem: String

  public init(_ field: String, _ problem: String) {
    self.field = field
    self.problem = problem
  }

  /// `output.auth.secret is required`, `input.url: unsupported scheme "ftp"`.
  public var description: String {
    problem.hasPrefix("is ") ? "\(field) \(problem)" : "\(field): \(problem)"
  }
}
