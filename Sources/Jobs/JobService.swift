import Crypto
import Foundation
import Log
import Problems

/// Accepts jobs: recognises a client's retry, applies admission control, seals the request, stores the job
/// durably and wakes a worker. What the API's job routes call.
public struct JobService: Sendable {
  public let store: any JobStore
  public let pool: WorkerPool?
  public let cipher: RequestCipher
  public let admission: AdmissionControl
  public let estimator: RunTimeEstimator
  /// How long jobs and their records are kept (`jobs.retention_days`).
  public let retention: Duration
  /// An identical body re-posted within this window returns the first job (a client's retry after a lost
  /// answer), unless that job ended in failure.
  public let duplicateWindow: Duration
  private let now: @Sendable () -> Date

  public init(
    store: any JobStore, pool: WorkerPool?, cipher: RequestCipher, admission: AdmissionControl,
    estimator: RunTimeEstimator, retention: Duration, duplicateWindow: Duration = .seconds(60),
    now: @escaping @Sendable () -> Date = { Date() }
  ) {
    self.store = store
    self.pool = pool
    self.cipher = cipher
    self.admission = admission
    self.estimator = estimator
    self.retention = retention
    self.duplicateWindow = duplicateWindow
    self.now = now
  }

  /// Stores a job for `owner` posted to `path` with `body`, admitted as `request` (its payload is what the
  /// store seals; the body as posted is kept only as a keyed digest, to recognise a re-post). Returns the
  /// existing job for a retry (same `Idempotency-Key`, or the same body within the window); throws
  /// `AdmissionRefusal` when the job could not finish before its deadline, and `JobStoreUnavailable` when the
  /// store did not answer (nothing was stored).
  public func submit(
    owner: String, path: String, body: [UInt8], request: AdmittedRequest, idempotencyKey: String?
  ) async throws -> Submission {
    do {
      return try await store(owner: owner, path: path, body: body, request: request, idempotencyKey: idempotencyKey)
    } catch let refusal as AdmissionRefusal {
      throw refusal
    } catch let reused as IdempotencyKeyReused {
      throw reused
    } catch let cancelled as CancellationError {
      throw cancelled
    } catch {
      throw JobStoreUnavailable(cause: String(describing: error))
    }
  }

  private func store(
    owner: String, path: String, body: [UInt8], request: AdmittedRequest, idempotencyKey: String?
  ) async throws -> Submission {
    let submitted = now()
    let id = UUID()
    let deadline = request.deadline
    let job = Job(
      id: id, owner: owner, path: path, sealedRequest: cipher.seal(request.payload, job: id),
      requestDigest: cipher.digest(body), idempotencyKey: idempotencyKey, submittedAt: submitted,
      retention: retention, deadline: deadline, hasOnComplete: request.hasOnComplete)
    let since = submitted - duplicateWindow.seconds
    let estimate = estimator.estimate
    if let limit = admission.queueLimit(deadline: deadline, now: submitted, estimatedRun: estimate),
      let refusal = admission.refusal(
        deadline: deadline, now: submitted, queueAhead: try store.queueAhead(of: deadline, atMost: limit),
        estimatedRun: estimate)
    {
      // A retry of a job already stored gets that job, whatever the queue looks like now.
      if let earlier = try store.duplicate(of: job, since: since) { return try .existing(sameRequest(earlier, job)) }
      throw refusal
    }
    // The store's submit finds a retry itself, in the same transaction as the insert: no lookup before it
    // (one round trip less per submission on PostgreSQL).
    let submission = try await store.submit(job, duplicateSince: since)
    switch submission {
    case .created: pool?.wake()
    case .existing(let earlier): _ = try sameRequest(earlier, job)
    }
    return submission
  }
}

extension JobService {
  /// `earlier`, when `job` is a retry of it: the same body, or the same `Idempotency-Key` with the same body.
  /// The same key with another body is a client's mistake that must not pass for success.
  fileprivate func sameRequest(_ earlier: Job, _ job: Job) throws(IdempotencyKeyReused) -> Job {
    guard job.idempotencyKey == nil || earlier.requestDigest == job.requestDigest else {
      throw IdempotencyKeyReused(jobID: earlier.id)
    }
    return earlier
  }
}

/// An `Idempotency-Key` sent again with another body: 422, nothing stored.
public struct IdempotencyKeyReused: ProblemError, Sendable, CustomStringConvertible {
  /// The job the key names.
  public var jobID: UUID

  public var problem: Problem { .idempotencyKeyReused }
  public var detail: String {
    "Idempotency-Key: already used for job \(jobID.text) with another body; send a new key for a new job"
  }
  public var description: String { detail }
}

/// The job store did not answer a submission: nothing was stored, so the client may safely send it again.
public struct JobStoreUnavailable: ProblemError, Sendable, CustomStringConvertible {
  /// The store's own error, for the log only (it may name paths or hosts).
  public var cause: String

  public var problem: Problem { .notReady }
  public var detail: String { "the job store is unavailable; nothing was stored, so it is safe to retry" }
  public var headers: [String: String] { ["Retry-After": "1"] }
  public var description: String { "job store unavailable: \(cause)" }
}
