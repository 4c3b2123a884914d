import Foundation
import Log
import Problems
import Retry
import Synchronization

/// Runs jobs from the store: `concurrency` worker threads claim the pending job with the earliest deadline,
/// run its `JobWork` under a lease, and record how it ended. A heartbeat renews the leases of running jobs,
/// notices cancels made through the store and takes back jobs whose worker vanished. At start, a single
/// node takes back every job left running by a crash.
public final class WorkerPool: Sendable {
  public struct Settings: Sendable {
    public var concurrency: Int
    public var lease: Duration
    public var maxAttempts: Int
    /// Where each run gets its work directory (`<data_dir>/work`).
    public var workRoot: String
    /// How often idle workers look for work they were not woken for (retries coming due, other nodes).
    public var pollInterval: Duration
    /// The wait before a retryable failure is tried again.
    public var retry: RetryPolicy
    /// Progress is stored at most this often (phase changes always).
    public var reportInterval: Duration
    /// The only node on this store: every running job found at start was left by a crash.
    public var singleNode: Bool
    /// How often jobs past their retention are deleted.
    public var sweepInterval: Duration
    /// The most jobs one app runs at once on this node (`workers.per_app_max`), so one app's slow jobs
    /// cannot hold every worker while another app's wait; nil: no cap.
    public var perAppLimit: Int?

    /// The longest wait between two attempts of a job, however many attempts failed before.
    public static let maxRetryBackoff: Duration = .seconds(300)

    /// `retryBackoff` is the first retry's longest wait; it doubles per failed attempt up to `maxRetryBackoff`.
    public init(
      concurrency: Int, lease: Duration = .seconds(30), maxAttempts: Int = 3, workRoot: String,
      pollInterval: Duration = .seconds(1), retryBackoff: Duration = .seconds(5),
      reportInterval: Duration = .milliseconds(500), singleNode: Bool = true, sweepInterval: Duration = .seconds(3600),
      perAppLimit: Int? = nil
    ) {
      // 0: this node stores jobs (API only) and leaves running them to other nodes.
      self.concurrency = max(0, concurrency)
      self.lease = lease
      self.maxAttempts = maxAttempts
      self.workRoot = workRoot
      self.pollInterval = pollInterval
      self.retry = .exponentialJitter(initial: retryBackoff, cap: Self.maxRetryBackoff)
      self.reportInterval = reportInterval
      self.singleNode = singleNode
      self.sweepInterval = sweepInterval
      self.perAppLimit = perAppLimit
    }
  }

  public let settings: Settings
  /// Measured run times, for admission control.
  public let estimator: RunTimeEstimator
  /// Told of every run that ended here (for metrics).
  public let onRunEnded: @Sendable (RunSummary) -> Void
  private let store: any JobStore
  private let work: any JobWork
  private let cipher: RequestCipher
  private let now: @Sendable () -> Date
  private let logger: Logger
  /// Names this process's workers apart from any earlier run's (whose leases must not look like ours).
  private let node = String(UUID().uuidString.prefix(8)).lowercased()

  private struct State {
    var started = false
    var stopping = false
    var running: [UUID: JobContext] = [:]
    var threads = 0
    /// When the heartbeat last renewed leases and last swept, by the pool's clock.
    var lastRenewal = Date.distantPast
    var lastSweep = Date.distantPast
  }

  private let state = Mutex(State())
  /// What each app runs on this node now, under `settings.perAppLimit`.
  private let shares: OwnerShares
  /// Idle workers wait here for `wake()`; only workers do, so a wake-up always reaches one of them.
  private let idle = IdleSignal()
  /// The heartbeat sleeps here between ticks (woken early only by `stop()`).
  private let heartbeatSignal = NSCondition()
  /// One heartbeat at a time: the thread's and a test's (`heartbeat()`) never interleave.
  private let beating = NSLock()

  public init(
    store: any JobStore, work: any JobWork, cipher: RequestCipher, settings: Settings,
    estimator: RunTimeEstimator = RunTimeEstimator(), now: @escaping @Sendable () -> Date = { Date() }, logger: Logger,
    onRunEnded: @escaping @Sendable (RunSummary) -> Void = { _ in }
  ) {
    self.onRunEnded = onRunEnded
    self.store = store
    self.work = work
    self.cipher = cipher
    self.settings = settings
    self.shares = OwnerShares(limit: settings.perAppLimit)
    self.estimator = estimator
    self.now = now
    self.logger = logger
  }

  // MARK: Life cycle

  /// Recovers what a crash left behind, then starts the workers and the heartbeat.
  public func start() throws {
    precondition(state.withLock { !$0.started }, "a worker pool starts once")
    try FileManager.default.createDirectory(
      atPath: settings.workRoot, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
    try recover()
    state.withLock {
      $0.started = true
      $0.threads = settings.concurrency + 1
    }
    for index in stride(from: 1, through: settings.concurrency, by: 1) {
      startThread(name: "ferry.worker.\(index)") { self.workerLoop(worker: "\(self.node)/w\(index)") }
    }
    startThread(name: "ferry.heartbeat") { self.heartbeatLoop() }
  }

  /// Stops claiming, interrupts running jobs (they go back to `Pending` without spending an attempt and run
  /// again after a restart) and waits up to `timeout` for the threads to end.
  public func stop(timeout: Duration = .seconds(10)) {
    let interrupted = state.withLock { state -> [JobContext] in
      state.stopping = true
      return Array(state.running.values)
    }
    for context in interrupted { context.cancel(.shutdown) }
    idle.stop()
    heartbeatSignal.withLock { heartbeatSignal.broadcast() }
    let deadline = Date() + timeout.seconds
    while state.withLock({ $0.threads > 0 }) && Date() < deadline { Thread.sleep(forTimeInterval: 0.01) }
  }

  /// Tells an idle worker that a job was submitted.
  public func wake() {
    idle.wake()
  }

  /// Cancels the job: a pending one ends at once; a running one stops promptly (its work's cancel handlers
  /// run now if it runs here, or at the next heartbeat of the node that runs it). Returns the outcome and
  /// the job as stored after the request.
  public func cancel(id: UUID) async throws -> (CancelResult, Job) {
    let (result, job) = try await store.update(id: id) { [now] job in (job.cancel(now: now()), job) }
    if result == .requested {
      state.withLock { $0.running[id] }?.cancel(.cancelRequested)
      // Its sub-jobs (a split transcode's pieces) too, at once: their ids follow from the job's, so the nodes
      // that run them stop them at their next heartbeat, not one heartbeat after the parent's node noticed.
      for run in SubJobs.runs(ofAttempt: job.attempt) {
        guard (try? store.job(id: SubJobs.id(parent: id, run: run, index: 0))) != nil else { break }
        for index in 0..<Self.maxSubJobs {
          let child = SubJobs.id(parent: id, run: run, index: index)
          guard (try? store.job(id: child)) != nil else { break }
          let outcome = try? await store.update(id: child) { [now] job in job.cancel(now: now()) }
          if outcome == .requested { state.withLock { $0.running[child] }?.cancel(.cancelRequested) }
        }
      }
    }
    return (result, job)
  }

  /// Far more sub-jobs than any job makes (a 12-hour input in 1-second pieces): the bound of the cancel's loop.
  private static let maxSubJobs = 50_000

  /// Jobs running in this process now.
  public var runningCount: Int { state.withLock { $0.running.count } }

  /// Workers waiting for work now (a test knows from it that every worker went idle).
  public var idleCount: Int { idle.waiting }

  private var isStopping: Bool { state.withLock { $0.stopping } }

  private func startThread(name: String, _ body: @escaping @Sendable () -> Void) {
    let thread = Thread {
      body()
      self.state.withLock { $0.threads -= 1 }
    }
    thread.name = name
    thread.start()
  }

  // MARK: Recovery

  /// Takes back jobs whose lease ran out; on a single node, every running job (no worker of this process
  /// holds one yet). Removes work directories no run owns.
  private func recover() throws {
    let stale = try store.expiredLeases(now: settings.singleNode ? .distantFuture : now())
    for id in stale { try takeBack(id, force: settings.singleNode) }
    if settings.singleNode, let leftovers = try? FileManager.default.contentsOfDirectory(atPath: settings.workRoot) {
      for name in leftovers { try? FileManager.default.removeItem(atPath: settings.workRoot + "/" + name) }
    }
  }

  private func takeBack(_ id: UUID, force: Bool) throws {
    let job = try runBlocking { [store, now, settings] in
      try await store.update(id: id) { job in
        try job.expireLease(now: now(), maxAttempts: settings.maxAttempts, force: force)
        return job
      }
    }
    logger.warning(
      "job taken back from a stopped worker",
      [
        "job_id": .string(job.id.text), "status": .string(job.status.rawValue),
        "attempt": .int(job.attempt),
      ])
  }

  // MARK: Workers

  private func workerLoop(worker: String) {
    while !isStopping {
      let job: Job?
      do {
        job = try shares.take(
          { skipping in
            try runBlocking { [store, now, settings] in
              try await store.claim(worker: worker, now: now(), lease: settings.lease, skipping: skipping)
            }
          }, owner: \.owner)
      } catch {
        logger.error("cannot claim a job", ["error": .string(String(describing: error))])
        job = nil
      }
      if let job {
        run(job, worker: worker)
        // The app was at its share: a worker that skipped its jobs may take one now.
        if shares.release(job.owner) { idle.wake() }
      } else {
        idle.wait(upTo: settings.pollInterval)
      }
    }
  }

  private func run(_ job: Job, worker: String) {
    let id = job.id
    let idText = id.text
    let logger = self.logger.with("job_id", .string(idText))
    let started = ContinuousClock.now
    let claimedAt = now()
    let directory = settings.workRoot + "/" + idText
    try? FileManager.default.removeItem(atPath: directory)

    let outcome: JobOutcome
    var context: JobContext?
    do {
      try FileManager.default.createDirectory(
        atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
      let request = try cipher.open(job.sealedRequest, job: id)
      let running = makeContext(job: job, request: request, directory: directory, worker: worker, logger: logger)
      context = running
      let stopping = state.withLock { state in
        state.running[id] = running
        return state.stopping
      }
      // A claim that raced `stop()` missed its snapshot: stop it here.
      if stopping { running.cancel(.shutdown) }
      logger.info("job started", ["path": .string(job.path), "attempt": .int(job.attempt), "worker": .string(worker)])
      outcome = self.outcome(of: running, logger: logger)
    } catch {
      logger.error("job could not start", ["error": .string(String(describing: error))])
      outcome = .internalError(Self.internalError.error)
    }
    // Work files go before the job is seen to end: an ended job never has any.
    try? FileManager.default.removeItem(atPath: directory)
    // The run stays in `running` (its lease renewed by the heartbeat) until its outcome is stored.
    defer { state.withLock { $0.running[id] = nil } }

    // Work stopped by a shutdown goes back to the queue without spending an attempt.
    let interrupted: Bool
    if case .success = outcome { interrupted = false } else { interrupted = context?.stopReason == .shutdown }
    var stored: Job?
    var delay = 0.5
    while stored == nil {
      do {
        stored = try runBlocking { [store, now, settings] in
          try await store.update(id: id) { job in
            if interrupted {
              try job.release(worker: worker, now: now())
            } else {
              try job.finish(outcome, worker: worker, now: now(), maxAttempts: settings.maxAttempts)
            }
            return job
          }
        }
      } catch let error as JobStateError {
        // The lease ran out and another worker (or recovery) took the job: its outcome is theirs to record.
        logger.warning("job outcome not recorded", ["error": .string(String(describing: error))])
        return
      } catch {
        // The store did not answer: a finished job must not be run again for that, so keep trying (the
        // heartbeat keeps the lease meanwhile), unless the server is stopping.
        logger.error("job outcome not stored yet", ["error": .string(String(describing: error))])
        if isStopping { return }
        Thread.sleep(forTimeInterval: delay)
        delay = min(delay * 2, 10)
      }
    }
    guard let stored else { return }
    // A piece's run is not a job's: admission control estimates whole jobs.
    if case .success = outcome, !job.owner.hasPrefix(SubJobs.ownerPrefix) {
      estimator.record(ContinuousClock.now - started)
    }
    var summary = RunSummary(status: stored.status, duration: ContinuousClock.now - started)
    if let (phases, bytes) = context?.accounting() {
      summary.phaseSeconds = phases
      summary.bytesMoved = bytes
    }
    // The wait in the queue, from submission (or the retry's due time) to this run's claim.
    summary.phaseSeconds[.queued, default: 0] += max(
      0, claimedAt.timeIntervalSince(max(job.submittedAt, job.notBefore)))
    onRunEnded(summary)
    logger.info(
      "job ended",
      [
        "status": .string(stored.status.rawValue), "attempt": .int(stored.attempt),
        "seconds": .double((ContinuousClock.now - started).seconds),
      ])
  }

  private static let internalError = JobFailure(
    .internalError, "an internal error stopped the job; it was logged, and retrying will not help")

  private func outcome(of context: JobContext, logger: Logger) -> JobOutcome {
    let failure: JobFailure
    do {
      let result = try work.run(context)
      return .success(result: ResultWarnings.adding(context.warnings, to: result))
    } catch let thrown as JobFailure {
      failure = thrown
    } catch {
      logger.error("job work failed unexpectedly", ["error": .string(String(describing: error))])
      failure = Self.internalError
    }
    // A run told to stop ends as its reason says, whatever the work threw on the way out (a cancelled transfer,
    // a killed ffmpeg). Lease lost and shutdown are recorded as a retry and a release (the former is refused).
    switch context.stopReason {
    case .cancelRequested?: return .cancelled
    case .leaseLost?, .shutdown?: return .retry(failure.error, delay: .zero)
    case nil: break
    }
    switch failure.kind {
    case .final where failure.problem == .internalError: return .internalError(failure.error)
    case .final: return .failed(failure.error)
    // Cancelled without a stop reason: the store said so at a lease check.
    case .cancelled: return .cancelled
    case .retryable: return .retry(failure.error, delay: settings.retry.delay(afterAttempt: context.job.attempt))
    }
  }

  private func makeContext(job: Job, request: [UInt8], directory: String, worker: String, logger: Logger) -> JobContext
  {
    let id = job.id
    return JobContext(
      job: job, request: request, workDirectory: directory, worker: worker, now: now, logger: logger,
      reportInterval: settings.reportInterval,
      reporter: { [store, now, settings] phase, progress, done, total in
        try runBlocking { [store] in
          try await store.update(id: id) { job in
            try job.report(
              worker: worker, now: now(), lease: settings.lease, phase: phase, progress: progress, bytesDone: done,
              bytesTotal: total)
            return job.cancelRequested
          }
        }
      },
      fence: { [store, now, settings] in
        try runBlocking { [store] in
          try await store.update(id: id) { job in
            try job.renew(worker: worker, now: now(), lease: settings.lease)
            if job.cancelRequested { throw JobFailure.cancelled }
          }
        }
      },
      durationRecorder: { [store, now, settings] seconds in
        try runBlocking { [store] in
          try await store.update(id: id) { job in
            try job.renew(worker: worker, now: now(), lease: settings.lease)
            job.duration = seconds
          }
        }
      },
      uploadRecorder: { [store, now, settings] change in
        try runBlocking { [store] in
          try await store.update(id: id) { job in
            switch change {
            case .opened(let upload): try job.openUpload(upload, worker: worker, now: now(), lease: settings.lease)
            case .closed(let uploadID): job.closeUpload(id: uploadID)
            }
          }
        }
      },
      subJobs: subJobs(of: job, worker: worker))
  }

  /// What a run of `parent` may do with sub-jobs: store them under its internal owner (with its deadline and
  /// retention), read them, run a pending one on the parent's thread, and cancel them.
  private func subJobs(of parent: Job, worker: String) -> SubJobs {
    let owner = SubJobs.internalOwner(of: parent.owner)
    let retention = Duration.milliseconds(
      max(0, parent.expiresAt.millisecondsSince1970 - parent.submittedAt.millisecondsSince1970))
    return SubJobs(
      submit: { [store, cipher, now] jobs in
        let submitted = now()
        for (id, path, payload) in jobs {
          let job = Job(
            id: id, owner: owner, path: path, sealedRequest: cipher.seal(payload, job: id),
            requestDigest: cipher.digest(payload), submittedAt: submitted, retention: retention,
            deadline: parent.deadline)
          // No earlier job may stand for this one (`distantFuture`: none is recent enough).
          _ = try runBlocking { [store] in try await store.submit(job, duplicateSince: .distantFuture) }
        }
        // Idle workers of this node take pieces at once; other nodes' find them at their next poll.
        self.idle.wake()
      },
      read: { [store] id in try store.job(id: id) },
      runHere: { [store, now, settings] id in
        guard !self.isStopping else { return false }
        let claimed = try? runBlocking { [store] in
          try await store.update(id: id) { job -> Job? in
            guard job.status == .pending, job.notBefore <= now() else { return nil }
            try job.claim(worker: worker, now: now(), lease: settings.lease)
            return job
          }
        }
        guard let job = claimed ?? nil else { return false }
        self.run(job, worker: worker)
        return true
      },
      cancel: { [store, now] id in
        let result = try? runBlocking { [store] in
          try await store.update(id: id) { job in job.cancel(now: now()) }
        }
        if result == .requested { self.state.withLock { $0.running[id] }?.cancel(.cancelRequested) }
      })
  }

  // MARK: Heartbeat

  private func heartbeatLoop() {
    let tick = min(1.0, settings.lease.seconds / 3)
    while !isStopping {
      heartbeatSignal.withLock { _ = heartbeatSignal.wait(until: Date() + tick) }
      if isStopping { return }
      heartbeat()
    }
  }

  /// One heartbeat, now: stops runs cancelled through the store; once a third of the lease has passed on the
  /// pool's clock (`now`), renews this process's leases and takes back jobs whose lease ran out; once
  /// `sweepInterval` has passed, deletes jobs past their retention. The heartbeat thread calls it every tick;
  /// a test that injected `now` calls it after moving its clock, instead of waiting for a tick.
  public func heartbeat() {
    beating.withLock {
      let running = state.withLock { $0.running }
      // Cancels made through the store (another node's API, or a request this node's cancel missed).
      for (id, context) in running where (try? store.job(id: id))?.cancelRequested == true {
        context.cancel(.cancelRequested)
      }
      let time = now()
      let (renewing, sweeping) = state.withLock { state -> (Bool, Bool) in
        let renewing = time.timeIntervalSince(state.lastRenewal) >= settings.lease.seconds / 3
        let sweeping = time.timeIntervalSince(state.lastSweep) >= settings.sweepInterval.seconds
        if renewing { state.lastRenewal = time }
        if sweeping { state.lastSweep = time }
        return (renewing, sweeping)
      }
      if renewing {
        for (id, context) in running { renew(id, context: context) }
        let mine = Set(running.keys)
        if let expired = try? store.expiredLeases(now: now()) {
          for id in expired where !mine.contains(id) { try? takeBack(id, force: false) }
        }
      }
      if sweeping { sweep() }
    }
  }

  /// Deletes jobs past their retention (`jobs.retention_days`).
  private func sweep() {
    do {
      let deleted = try runBlocking { [store, now] in try await store.deleteExpired(now: now()) }
      if !deleted.isEmpty { logger.info("expired jobs deleted", ["count": .int(deleted.count)]) }
    } catch {
      logger.warning("expired jobs not deleted", ["error": .string(String(describing: error))])
    }
  }

  private func renew(_ id: UUID, context: JobContext) {
    do {
      try runBlocking { [store, now, settings] in
        try await store.update(id: id) { job in
          try job.renew(worker: context.worker, now: now(), lease: settings.lease)
        }
      }
    } catch let error as JobStateError {
      // Taken by another worker or ended: this run's result would not count, so stop it.
      context.cancel(.leaseLost)
      logger.warning(
        "lease lost", ["job_id": .string(id.text), "error": .string(String(describing: error))])
    } catch {
      // The store did not answer this time: the lease has time left, try again next tick.
      logger.warning(
        "lease not renewed",
        ["job_id": .string(id.text), "error": .string(String(describing: error))])
    }
  }
}

/// How a run that ended here went, for metrics.
public struct RunSummary: Sendable, Equatable {
  /// The status stored at its end.
  public var status: JobStatus
  /// How long the run took.
  public var duration: Duration
  /// Seconds spent in each phase (`queued`: the wait before this run was claimed).
  public var phaseSeconds: [JobPhase: Double] = [:]
  /// Bytes its transfers moved (downloads and uploads).
  public var bytesMoved: Int64 = 0

  public init(status: JobStatus, duration: Duration) {
    self.status = status
    self.duration = duration
  }
}
