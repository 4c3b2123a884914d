import Foundation
import Log
import Problems

/// A transition the job's state does not allow (a stale worker, a job that already ended).
public enum JobStateError: Error, Sendable, Equatable, CustomStringConvertible {
  /// The job is not in a status the transition starts from.
  case notAllowed(from: JobStatus, transition: String)
  /// The worker no longer holds the job's lease (it expired and the job was taken again): fencing.
  case leaseLost(holder: String)

  public var description: String {
    switch self {
    case .notAllowed(let from, let transition): "cannot \(transition) a job that is \(from.rawValue)"
    case .leaseLost(let holder): "worker \(holder) no longer holds the job's lease"
    }
  }
}

/// How a run of a job ended, as the worker reports it.
public enum JobOutcome: Sendable, Equatable {
  /// Done; `result` is the result JSON text.
  case success(result: String)
  /// Failed for good (bad input, a source that answered 4xx): no retry helps.
  case failed(JobError)
  /// Failed in a way another attempt may fix (a store down, a crash of the tool); retried after `delay`
  /// while attempts remain, else it ends `Failed` with this error.
  case retry(JobError, delay: Duration)
  /// Stopped because a cancel was requested.
  case cancelled
  /// A bug: ends `InternalError`.
  case internalError(JobError)
}

/// What a cancel request did.
public enum CancelResult: Sendable, Equatable {
  /// A pending job ended `Cancelled` at once.
  case cancelled
  /// A running job was asked to stop; its worker ends it `Cancelled`.
  case requested
  /// The job had already ended; nothing changed.
  case alreadyEnded(JobStatus)
}

/// The job state machine: every change of a job's status goes through these pure transitions, whichever
/// store holds the job. Each either changes the job or throws and leaves it as it was.
extension Job {
  /// Pending → Running for `worker`, holding a lease until `now + lease`.
  public mutating func claim(worker: String, now: Date, lease: Duration) throws(JobStateError) {
    guard status == .pending else { throw .notAllowed(from: status, transition: "claim") }
    let now = now.wholeMilliseconds
    status = .running
    attempt += 1
    startedAt = startedAt ?? now
    phase = .queued
    progress = 0
    bytesDone = 0
    bytesTotal = nil
    self.lease = JobLease(holder: worker, expiresAt: (now + lease.seconds).wholeMilliseconds)
  }

  /// Records progress from the lease holder and renews its lease.
  public mutating func report(
    worker: String, now: Date, lease: Duration, phase: JobPhase, progress: Int, bytesDone: Int64, bytesTotal: Int64?
  ) throws(JobStateError) {
    try renew(worker: worker, now: now, lease: lease)
    self.phase = phase
    self.progress = min(max(progress, 0), 99)
    self.bytesDone = max(bytesDone, 0)
    self.bytesTotal = bytesTotal.map { max($0, 0) }
  }

  /// Notes a multipart upload the lease holder's run started (before its first part).
  public mutating func openUpload(_ upload: OpenUpload, worker: String, now: Date, lease: Duration)
    throws(JobStateError)
  {
    try renew(worker: worker, now: now, lease: lease)
    openUploads.append(upload)
  }

  /// Forgets a multipart upload that was completed or aborted (whoever holds the job: the upload is gone).
  public mutating func closeUpload(id uploadID: String) {
    openUploads.removeAll { $0.uploadID == uploadID }
  }

  /// Renews the lease of a running job for its holder (the fencing check before a final write).
  public mutating func renew(worker: String, now: Date, lease: Duration) throws(JobStateError) {
    guard status == .running else { throw .notAllowed(from: status, transition: "renew the lease of") }
    guard let current = self.lease, current.holder == worker else { throw .leaseLost(holder: worker) }
    self.lease = JobLease(holder: worker, expiresAt: (now.wholeMilliseconds + lease.seconds).wholeMilliseconds)
  }

  /// Ends the lease holder's run with `outcome`. A retry goes back to `Pending` while fewer than
  /// `maxAttempts` attempts have failed.
  public mutating func finish(_ outcome: JobOutcome, worker: String, now: Date, maxAttempts: Int) throws(JobStateError)
  {
    guard status == .running else { throw .notAllowed(from: status, transition: "finish") }
    guard let current = lease, current.holder == worker else { throw .leaseLost(holder: worker) }
    let now = now.wholeMilliseconds
    switch outcome {
    case .success(let result):
      end(.success, at: now)
      self.result = result
      progress = 100
    case .failed(let error):
      attempts.append(JobAttempt(at: now, attempt: attempt, error: error.detail))
      end(.failed, at: now)
      self.error = error
    case .internalError(let error):
      attempts.append(JobAttempt(at: now, attempt: attempt, error: error.detail))
      end(.internalError, at: now)
      self.error = error
    case .cancelled:
      end(.cancelled, at: now)
    case .retry(let error, let delay):
      attempts.append(JobAttempt(at: now, attempt: attempt, error: error.detail))
      if cancelRequested {
        end(.cancelled, at: now)
      } else if attempts.count >= maxAttempts {
        // A fault of Ferry's own that retrying did not cure is an internal error, as the type says.
        end(error.problem == .internalError ? .internalError : .failed, at: now)
        var last = error
        last.detail += "; gave up after \(attempts.count) attempt" + (attempts.count == 1 ? "" : "s")
        self.error = last
      } else {
        requeue(notBefore: (now + delay.seconds).wholeMilliseconds)
      }
    }
  }

  /// Gives a running job back without counting an attempt (the server is stopping and did not finish it);
  /// a job with a pending cancel ends `Cancelled` instead.
  public mutating func release(worker: String, now: Date) throws(JobStateError) {
    guard status == .running else { throw .notAllowed(from: status, transition: "release") }
    guard let current = lease, current.holder == worker else { throw .leaseLost(holder: worker) }
    if cancelRequested {
      end(.cancelled, at: now.wholeMilliseconds)
      return
    }
    attempt -= 1
    requeue(notBefore: notBefore)
  }

  /// Cancels: a pending job ends now, a running one is asked to stop, an ended one is left alone.
  public mutating func cancel(now: Date) -> CancelResult {
    switch status {
    case .pending:
      end(.cancelled, at: now.wholeMilliseconds)
      return .cancelled
    case .running:
      cancelRequested = true
      return .requested
    case .success, .failed, .cancelled, .internalError:
      return .alreadyEnded(status)
    }
  }

  /// Takes a running job whose lease ran out away from its lost worker: back to `Pending` while attempts
  /// remain, `Cancelled` if a cancel was pending, else `Failed` with the attempt log. `force` takes it even
  /// though the lease looks alive: a single node that just started knows no worker of its own holds it.
  public mutating func expireLease(now: Date, maxAttempts: Int, force: Bool = false) throws(JobStateError) {
    guard status == .running, let current = lease else {
      throw .notAllowed(from: status, transition: "expire the lease of")
    }
    let now = now.wholeMilliseconds
    guard force || current.expiresAt <= now else {
      throw .notAllowed(from: status, transition: "expire a live lease of")
    }
    if cancelRequested {
      end(.cancelled, at: now)
      return
    }
    attempts.append(
      JobAttempt(at: now, attempt: attempt, error: "interrupted: the worker stopped (crash or restart) mid-run"))
    if attempts.count >= maxAttempts {
      end(.failed, at: now)
      error = JobError(
        .processingFailed,
        detail: "the job was interrupted \(attempts.count) times before it could finish; see attempts")
    } else {
      requeue(notBefore: now)
    }
  }

  private mutating func end(_ final: JobStatus, at now: Date) {
    status = final
    completedAt = now
    lease = nil
    cancelRequested = false
  }

  private mutating func requeue(notBefore: Date) {
    status = .pending
    phase = .queued
    progress = 0
    bytesDone = 0
    bytesTotal = nil
    lease = nil
    self.notBefore = notBefore
  }
}

extension Job {
  /// The first rule of a well-formed job this one breaks, or nil. The SQLite schema holds the same rules as
  /// CHECK constraints; the in-memory store checks them here, so both stores refuse the same impossible jobs.
  public var invariantViolation: String? {
    if status.isFinal != (completedAt != nil) { return "an ended job, and only one, has a completion time" }
    if (status == .running) != (lease != nil) { return "a running job, and only one, holds a lease" }
    if [.running, .success].contains(status) && (startedAt == nil || attempt == 0) {
      return "a running or successful job has started"
    }
    if (status == .success) != (result != nil) { return "a successful job, and only one, has a result" }
    if [.failed, .internalError].contains(status) != (error != nil) {
      return "a failed job, and only one, has an error"
    }
    if status == .success && progress != 100 { return "a successful job is at 100%" }
    if !(0...100).contains(progress) || bytesDone < 0 || (bytesTotal ?? 0) < 0 || duration < 0 || attempt < 0 {
      return "counters are in range"
    }
    if cancelRequested && status != .running { return "only a running job has a cancel pending" }
    return nil
  }
}
