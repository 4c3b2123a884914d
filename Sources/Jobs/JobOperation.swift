import Foundation
import JSON
import Locations

/// One kind of job (`/media/enhance`, ...): how its request is checked at submission and the work that runs
/// it. The media operations implement it; the API serves one POST/GET pair per operation.
public protocol JobOperation: Sendable {
  /// The path jobs of this kind are posted to.
  var path: String { get }
  /// Checks a posted request (already parsed JSON) and returns its locations. Throws naming the field at fault.
  func validate(_ request: JSONValue) throws(InvalidRequest) -> ValidatedRequest
  /// Runs one job of this kind.
  var work: any JobWork { get }
}

/// A request that passed validation: its locations, for admission control and the API.
public struct ValidatedRequest: Sendable, Equatable {
  public var inputs: [Location]
  public var outputs: [Location]

  public init(inputs: [Location], outputs: [Location]) {
    self.inputs = inputs
    self.outputs = outputs
  }

  /// The earliest expiry among the outputs: the job's deadline.
  public var deadline: Date? { outputs.compactMap { $0.expiry?.date }.min() }
}

/// A request that cannot be accepted, naming the field at fault (`output.auth.secret`) and the problem.
public struct InvalidRequest: Error, Sendable, Equatable, CustomStringConvertible {
  public var field: String
  public var problem: String

  public init(_ field: String, _ problem: String) {
    self.field = field
    self.problem = problem
  }

  public init(_ error: LocationError) {
    self.init(error.field, error.problem)
  }

  /// `output.auth.secret is required`, `input.url: unsupported scheme "ftp"` (as `LocationError` reads).
  public var description: String {
    if field.isEmpty { return problem }
    return problem.hasPrefix("is ") ? "\(field) \(problem)" : "\(field): \(problem)"
  }
}

/// Dispatches each job to the work of the operation its path names.
public struct OperationRouter: JobWork {
  public let operations: [String: any JobOperation]

  public init(_ operations: [any JobOperation]) {
    self.operations = Dictionary(operations.map { ($0.path, $0) }, uniquingKeysWith: { first, _ in first })
  }

  public func run(_ context: JobContext) throws -> String {
    guard let operation = operations[context.job.path] else {
      throw JobFailure(
        .final, type: "/problems/internal-error", title: "Unknown operation",
        detail: "no operation serves \(context.job.path) in this version of Ferry")
    }
    return try operation.work.run(context)
  }
}
