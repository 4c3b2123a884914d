import Foundation
import Problems

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
  public var problem: Problem
  /// What went wrong in this run; never a secret.
  public var detail: String

  /// A failure of `problem`; `retry` asks for another attempt, which only a problem that allows retries gets.
  public init(_ problem: Problem, _ detail: String, retry: Bool = false) {
    // A programmer's error, caught by the debug builds tests run; a release build ends the job rather than stop.
    assert(!retry || problem.retryable, "\(problem) is not retried")
    self.init(kind: retry && problem.retryable ? .retryable : .final, problem: problem, detail: detail)
  }

  private init(kind: Kind, problem: Problem, detail: String) {
    self.kind = kind
    self.problem = problem
    self.detail = detail
  }

  /// The job's public error for this failure.
  public var error: JobError { JobError(problem, detail: detail) }

  /// The run stopped because the job was cancelled.
  public static let cancelled = JobFailure(kind: .cancelled, problem: .cancelled, detail: "the job was cancelled")
}
