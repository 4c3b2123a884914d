import Crypto
import Foundation
import Problems

/// A running job's sub-jobs (the pieces of a split transcode): stored like any job, so any worker of any
/// node on the store may claim one, with its own lease, attempts and retries; the parent waits for them and
/// runs pending ones itself meanwhile, so a node whose only worker runs the parent still works on pieces.
///
/// A sub-job belongs to an internal owner (`internalOwner(of:)`): it is in no app's listing or status lookup,
/// owes no webhook, and counts in no app's share; its temporary storage is still its app's (`storageOwner`).
public final class SubJobs: Sendable {
  /// Owners of sub-jobs start with this; no app key does (app keys are the operator's, and this has a space).
  public static let ownerPrefix = "ferry sub-job of "

  /// The owner sub-jobs of `owner`'s jobs are stored under.
  public static func internalOwner(of owner: String) -> String { ownerPrefix + owner }

  /// The app whose temporary storage a job of `owner` uses: the app itself, or for a sub-job its parent's.
  public static func storageOwner(of owner: String) -> String {
    owner.hasPrefix(ownerPrefix) ? String(owner.dropFirst(ownerPrefix.count)) : owner
  }

  /// The id of sub-job `index` of `parent`'s run `run` (`runs(ofAttempt:)`): derived, not random, so a later
  /// run of the parent (after a crash) knows the ids of the earlier runs' sub-jobs and can cancel them, and so
  /// can a cancel of the parent, wherever it is taken.
  public static func id(parent: UUID, run: Int, index: Int) -> UUID {
    let digest = SHA256.hash(Array("\(parent.text)/\(run)/\(index)".utf8))
    var bytes = Array(digest.prefix(16))
    bytes[6] = (bytes[6] & 0x0F) | 0x50  // version 5 layout (name-based)
    bytes[8] = (bytes[8] & 0x3F) | 0x80  // RFC 4122 variant
    return UUID(
      uuid: (
        bytes[0], bytes[1], bytes[2], bytes[3], bytes[4], bytes[5], bytes[6], bytes[7], bytes[8], bytes[9], bytes[10],
        bytes[11], bytes[12], bytes[13], bytes[14], bytes[15]
      ))
  }

  /// The run numbers of a parent's attempt `attempt`. An attempt may run more than once: a run stopped by a
  /// shutdown goes back to the queue keeping its attempt number, and the next run of it takes the next run
  /// number, so its sub-jobs' ids are new.
  public static func runs(ofAttempt attempt: Int) -> Range<Int> {
    (attempt * runsPerAttempt)..<((attempt + 1) * runsPerAttempt)
  }

  /// The attempt of run `run`.
  public static func attempt(ofRun run: Int) -> Int { run / runsPerAttempt }

  private static let runsPerAttempt = 100

  private let submitJobs: @Sendable ([(id: UUID, path: String, payload: [UInt8])]) throws -> Void
  private let read: @Sendable (UUID) throws -> Job?
  private let runLocally: @Sendable (UUID) -> Bool
  private let cancelJob: @Sendable (UUID) -> Void

  init(
    submit: @escaping @Sendable ([(id: UUID, path: String, payload: [UInt8])]) throws -> Void,
    read: @escaping @Sendable (UUID) throws -> Job?, runHere: @escaping @Sendable (UUID) -> Bool,
    cancel: @escaping @Sendable (UUID) -> Void
  ) {
    self.submitJobs = submit
    self.read = read
    self.runLocally = runHere
    self.cancelJob = cancel
  }

  /// The runs of `parent`'s attempt `attempt` that stored sub-jobs, in order (each run's first sub-job exists).
  public func storedRuns(parent: UUID, attempt: Int) -> [Int] {
    var runs: [Int] = []
    for run in Self.runs(ofAttempt: attempt) {
      guard job(Self.id(parent: parent, run: run, index: 0)) != nil else { break }
      runs.append(run)
    }
    return runs
  }

  /// Stores the sub-jobs (`id` from `id(parent:run:index:)`, the operation `path` that runs them, and the
  /// payload it decodes, a `StoredRequest`'s encoding) as pending jobs of the parent's internal owner.
  public func submit(_ jobs: [(id: UUID, path: String, payload: [UInt8])]) throws(JobFailure) {
    do {
      try submitJobs(jobs)
    } catch {
      throw JobFailure(.internalError, "the job store could not store the job's pieces", retry: true)
    }
  }

  /// The sub-job `id` as stored now; nil when it does not exist or the store did not answer.
  public func job(_ id: UUID) -> Job? { try? read(id) }

  /// Claims the sub-job `id` if it is pending and due, and runs it on the calling thread as a worker would;
  /// returns whether it ran.
  public func runHere(_ id: UUID) -> Bool { runLocally(id) }

  /// Cancels the sub-jobs: pending ones end at once, running ones stop (at once on this node, at the next
  /// heartbeat of another). Returns at once; the cancels are made on a thread of their own, because the caller
  /// may be a cancel handler running on the thread that serves the parent's cancel.
  public func cancel(_ ids: [UUID]) {
    let cancelJob = self.cancelJob
    let thread = Thread { for id in ids { cancelJob(id) } }
    thread.name = "ferry.sub-job-cancel"
    thread.start()
  }

  /// Cancels the sub-jobs and waits until every cancel was made.
  public func cancelNow(_ ids: [UUID]) {
    for id in ids { cancelJob(id) }
  }
}
