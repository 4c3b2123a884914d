import Foundation

/// The work a worker runs for a job: fetch, process, upload. `OperationRouter` implements it for the
/// operations (each runs its typed spec); the job engine owns everything around it (claiming, leases,
/// progress, cancellation, retries, recovery).
public protocol JobWork: Sendable {
  /// Runs `context.job` and returns the result JSON text, or throws a `JobFailure` (any other error is a bug
  /// and ends the job `InternalError`). Blocking is expected: each run has a thread of its own.
  func run(_ context: JobContext) throws -> String
}

/// Why a run did not succeed, in the terms the job's status and error need.
public struct JobFailure: Error, Sendable, Equatable {
  public enum Kind: Sendable, Equatable {
    /// No retry will help (bad input, a source that said 403).
    case final
    /// Another attempt may succeed (a store down, a stall): retried after a backoff while attempts remain.
    case retryable
    /// The job was cancelled while it ran.
    case cancelled
  }

  public var kind: Kind
  public var error: JobError

  public init(_ kind: Kind, type: String, title: String, detail: String) {
    self.kind = kind
    error = JobError(type: type, title: title, detail: detail)
  }

  /// The run stopped because the job was cancelled.
  public static let cancelled = JobFailure(
    .cancelled, type: "/problems/cancelled", title: "Cancelled", detail: "the job was cancelled")
}
