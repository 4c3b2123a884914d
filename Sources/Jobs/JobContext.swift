import Foundation
import Log
import Problems
import Synchronization

/// One run of one job, as its work sees it: the job and its opened request, a private work directory,
/// progress reporting, cancellation and the lease check made before any final write.
public final class JobContext: Sendable {
  /// The job as it was claimed.
  public let job: Job
  /// The job's stored request, opened from the store's sealed copy: a `StoredRequest` payload (the operations
  /// decode it), or the raw body a job queued by 0.1.0 was stored with.
  public let request: [UInt8]
  /// A directory for this run's work files (mode 0700), removed when the run ends.
  public let workDirectory: String
  /// The engine's clock.
  public let now: @Sendable () -> Date
  /// Log lines about this run (they carry the job id).
  public let logger: Logger
  /// The worker running it (the lease holder).
  let worker: String
  /// Sub-jobs this run may store, run and cancel (the pieces of a split transcode); nil where the engine
  /// offers none (unit tests' contexts).
  public let subJobs: SubJobs?

  /// Why a run was told to stop.
  public enum StopReason: Sendable, Equatable {
    /// The job was cancelled: it ends `Cancelled`.
    case cancelRequested
    /// Another worker holds the job now (this run's lease ran out): nothing this run does counts.
    case leaseLost
    /// The server is stopping: the job goes back to the queue without spending an attempt.
    case shutdown
  }

  private struct State {
    var stopReason: StopReason?
    var cancelHandlers: [Int: @Sendable () -> Void] = [:]
    var nextHandler = 0
    var lastReport = Date.distantPast
    var lastPhase = JobPhase.queued
    /// Accounting for metrics: time per phase, and bytes moved by finished transfers (a transfer ends when
    /// the phase changes or its byte count starts again from below).
    var accountedPhase = JobPhase.queued
    var phaseStarted = Date()
    var phaseSeconds: [JobPhase: Double] = [:]
    var transferBytes: Int64 = 0
    var bytesMoved: Int64 = 0
    var warnings: [String] = []
  }

  private let state = Mutex(State())
  private let reporter: @Sendable (JobPhase, Int, Int64, Int64?) throws -> Bool
  private let fence: @Sendable () throws -> Void
  private let durationRecorder: @Sendable (Double) throws -> Void
  private let uploadRecorder: @Sendable (UploadChange) throws -> Void
  private let reportInterval: Duration

  /// What `uploadRecorder` stores.
  enum UploadChange: Sendable {
    case opened(OpenUpload)
    case closed(uploadID: String)
  }

  init(
    job: Job, request: [UInt8], workDirectory: String, worker: String, now: @escaping @Sendable () -> Date,
    logger: Logger,
    reportInterval: Duration, reporter: @escaping @Sendable (JobPhase, Int, Int64, Int64?) throws -> Bool,
    fence: @escaping @Sendable () throws -> Void, durationRecorder: @escaping @Sendable (Double) throws -> Void,
    uploadRecorder: @escaping @Sendable (UploadChange) throws -> Void, subJobs: SubJobs? = nil
  ) {
    self.subJobs = subJobs
    self.job = job
    self.request = request
    self.workDirectory = workDirectory
    self.worker = worker
    self.now = now
    self.logger = logger
    self.reportInterval = reportInterval
    state.withLock { $0.phaseStarted = now() }
    self.reporter = reporter
    self.fence = fence
    self.durationRecorder = durationRecorder
    self.uploadRecorder = uploadRecorder
  }

  /// Stores, before its first part is sent, that this run started multipart upload `upload`: if the run dies
  /// mid-upload, the next one aborts it (`leftoverUploads`). Throws when it cannot be stored; the caller then
  /// aborts the upload itself rather than leave one nobody knows of.
  public func uploadOpened(_ upload: OpenUpload) throws(JobFailure) {
    do {
      try uploadRecorder(.opened(upload))
    } catch is JobStateError {
      cancel(.leaseLost)
      throw JobFailure(.internalError, "this worker lost the job before its upload began", retry: true)
    } catch {
      throw JobFailure(.internalError, "the job store could not record the upload", retry: true)
    }
  }

  /// Forgets a multipart upload that was completed or aborted. Not stored, the record stays, and a later run
  /// tries to abort an upload that is gone (which S3 answers NoSuchUpload: harmless).
  public func uploadClosed(id uploadID: String) {
    do { try uploadRecorder(.closed(uploadID: uploadID)) } catch {
      logger.warning("closed upload not stored", ["error": .string(String(describing: error))])
    }
  }

  /// The app whose temporary storage (`dlb://`) the job reads and writes: its owner, or a sub-job's parent's.
  public var storageOwner: String { SubJobs.storageOwner(of: job.owner) }

  /// Multipart uploads earlier runs of this job started and never completed or aborted (they died mid-upload).
  public var leftoverUploads: [OpenUpload] { job.openUploads }

  /// Records the input's media duration in seconds (shown in job listings).
  public func recordDuration(_ seconds: Double) {
    guard seconds.isFinite, seconds >= 0 else { return }
    do { try durationRecorder(seconds) } catch {
      logger.warning("duration not stored", ["error": .string(String(describing: error))])
    }
  }

  /// Adds `message` to the result's `warnings` (once): something the client should know about a job that
  /// succeeded, such as a truncated input. The engine puts them into the result (`ResultWarnings`).
  public func warn(_ message: String) {
    state.withLock { state in
      if !state.warnings.contains(message) { state.warnings.append(message) }
    }
  }

  /// The warnings so far, in the order they came.
  public var warnings: [String] { state.withLock { $0.warnings } }

  /// True once the run was told to stop (cancelled, lease lost, shutdown): the work stops as soon as it can.
  public var isCancelled: Bool { state.withLock { $0.stopReason != nil } }

  /// Why the run was told to stop, if it was.
  public var stopReason: StopReason? { state.withLock { $0.stopReason } }

  /// Throws `JobFailure.cancelled` when the job was cancelled.
  public func checkCancelled() throws(JobFailure) {
    if isCancelled { throw .cancelled }
  }

  /// Calls `handler` when the job is cancelled (at once if it already is) — to kill a process, for example.
  /// The returned token removes the handler when the step it guards is over.
  @discardableResult
  public func onCancel(_ handler: @escaping @Sendable () -> Void) -> CancelRegistration {
    let (id, runNow) = state.withLock { state -> (Int, Bool) in
      if state.stopReason != nil { return (-1, true) }
      state.nextHandler += 1
      state.cancelHandlers[state.nextHandler] = handler
      return (state.nextHandler, false)
    }
    if runNow { handler() }
    return CancelRegistration { [weak self] in _ = self?.state.withLock { $0.cancelHandlers.removeValue(forKey: id) } }
  }

  /// Reports progress (0-100 overall) and the current transfer's bytes. Stored at most every
  /// `reportInterval` unless the phase changed. Returns false when the work should stop (cancelled).
  @discardableResult
  public func report(phase: JobPhase, progress: Int, bytesDone: Int64 = 0, bytesTotal: Int64? = nil) -> Bool {
    let due = state.withLock { state -> Bool in
      let time = now()
      Self.account(&state, phase: phase, bytesDone: bytesDone, at: time)
      guard phase != state.lastPhase || time.timeIntervalSince(state.lastReport) >= reportInterval.seconds else {
        return false
      }
      state.lastPhase = phase
      state.lastReport = time
      return true
    }
    if due {
      do {
        if try reporter(phase, progress, bytesDone, bytesTotal) { cancel(.cancelRequested) }
      } catch {
        logger.warning("progress not stored", ["error": .string(String(describing: error))])
      }
    }
    return !isCancelled
  }

  /// Where the run's time went (seconds per phase) and the bytes its transfers moved, up to now.
  public func accounting() -> (phaseSeconds: [JobPhase: Double], bytesMoved: Int64) {
    state.withLock { state in
      var copy = state
      Self.account(&copy, phase: .queued, bytesDone: 0, at: now())
      return (copy.phaseSeconds, copy.bytesMoved)
    }
  }

  private static func account(_ state: inout State, phase: JobPhase, bytesDone: Int64, at time: Date) {
    if phase != state.accountedPhase {
      state.phaseSeconds[state.accountedPhase, default: 0] += max(0, time.timeIntervalSince(state.phaseStarted))
      state.accountedPhase = phase
      state.phaseStarted = time
      state.bytesMoved += state.transferBytes
      state.transferBytes = bytesDone
    } else if bytesDone < state.transferBytes {
      state.bytesMoved += state.transferBytes
      state.transferBytes = bytesDone
    } else {
      state.transferBytes = bytesDone
    }
  }

  /// Confirms this worker still holds the job (renewing its lease) just before a final, visible write: an
  /// upload's last PUT or CompleteMultipartUpload. Throws when the job was taken by another worker or
  /// cancelled, so two workers never both write a result.
  public func confirmLease() throws(JobFailure) {
    try checkCancelled()
    do {
      try fence()
    } catch let failure as JobFailure where failure.kind == .cancelled {
      cancel(.cancelRequested)
      throw failure
    } catch is JobStateError {
      cancel(.leaseLost)
      throw JobFailure(.internalError, "this worker lost the job before writing its result", retry: true)
    } catch {
      // The store could not answer (busy, disk full): not a reason to stop, a reason to try again later.
      throw JobFailure(
        .internalError, "the job store could not confirm this run before its final write",
        retry: true)
    }
  }

  /// Tells the run to stop for `reason` and calls the cancel handlers (once; the first reason stands).
  func cancel(_ reason: StopReason) {
    let handlers = state.withLock { state -> [@Sendable () -> Void] in
      guard state.stopReason == nil else { return [] }
      state.stopReason = reason
      defer { state.cancelHandlers.removeAll() }
      return Array(state.cancelHandlers.values)
    }
    for handler in handlers { handler() }
  }
}

/// Removes a cancel handler when released.
public final class CancelRegistration: Sendable {
  private let remove: @Sendable () -> Void

  init(remove: @escaping @Sendable () -> Void) { self.remove = remove }

  /// Removes the handler now.
  public func cancel() { remove() }
}
