import Foundation
import JSON
import Locations
import Problems

/// One kind of job (`/media/enhance`, ...): how a posted request becomes its typed spec, and the work that
/// runs that spec. The media operations implement it; the API serves one POST/GET pair per operation.
public protocol JobOperation: Sendable {
  associatedtype Spec: JobSpec
  /// The path jobs of this kind are posted to.
  var path: String { get }
  /// Checks a posted request (already parsed JSON) and returns its spec. Throws naming the field at fault.
  func validate(_ request: JSONValue) throws(InvalidRequest) -> Spec
  /// Runs one job of this kind: fetch, process, upload. Returns the result JSON text, or throws a
  /// `JobFailure` (any other error is a bug and ends the job `InternalError`).
  func run(_ spec: Spec, context: JobContext) throws -> String
  /// Validates a whole posted body into what the store seals (the extension's implementation serves all).
  func admit(_ request: JSONValue) throws -> AdmittedRequest
}

extension JobOperation {
  /// Validates a whole posted body, the operation's fields and `on_complete`, into what the store seals.
  /// Throws `InvalidRequest` naming the field at fault.
  ///
  /// A requirement with an inlinable body, so each operation's conformance gets a copy specialized for its
  /// spec: run generically (through `any JobOperation`), the encoding looked up type metadata and
  /// conformances on every call, and two event loops submitting at once took turns (`Bench/SubmitBench`).
  @inlinable
  public func admit(_ request: JSONValue) throws -> AdmittedRequest {
    let spec = try validate(request)
    var onComplete: Callback?
    if let value = request.object?["on_complete"], value != .null {
      onComplete = try Callback.parse(value, field: "on_complete", allowBody: true)
    }
    return AdmittedRequest(
      payload: try StoredRequest(spec: spec, onComplete: onComplete).encoded(), reads: spec.reads,
      writes: spec.writes, hasOnComplete: onComplete != nil)
  }

  /// Runs a claimed job from its stored request.
  func runStored(_ context: JobContext) throws -> String {
    let stored = try StoredRequest<Spec>.decode(context.request) { request throws(InvalidRequest) in
      try validate(request)
    }
    return try run(stored.spec, context: context)
  }
}

/// A request that passed validation, ready to store: the payload to seal, and what admission control and the
/// job row need to know of it.
public struct AdmittedRequest: Sendable, Equatable {
  /// What the worker gets back when it runs the job (`StoredRequest`'s encoding for the operations).
  public var payload: [UInt8]
  /// The locations the job reads and writes.
  public var reads: [Location]
  public var writes: [Location]
  /// The request has an `on_complete` callback.
  public var hasOnComplete: Bool
  /// When the job must be done: the earliest expiry among the outputs, unless given.
  public var deadline: Date?

  public init(
    payload: [UInt8], reads: [Location] = [], writes: [Location] = [], hasOnComplete: Bool = false,
    deadline: Date? = nil
  ) {
    self.payload = payload
    self.reads = reads
    self.writes = writes
    self.hasOnComplete = hasOnComplete
    self.deadline = deadline ?? writes.compactMap { $0.expiry?.date }.min()
  }
}

/// Dispatches each job to the operation its path names, which decodes the job's stored spec and runs it.
public struct OperationRouter: JobWork {
  public let operations: [String: any JobOperation]

  public init(_ operations: [any JobOperation]) {
    self.operations = Dictionary(operations.map { ($0.path, $0) }, uniquingKeysWith: { first, _ in first })
  }

  public func run(_ context: JobContext) throws -> String {
    guard let operation = operations[context.job.path] else {
      throw JobFailure(.internalError, "no operation serves \(context.job.path) in this version of Ferry")
    }
    return try operation.runStored(context)
  }
}
