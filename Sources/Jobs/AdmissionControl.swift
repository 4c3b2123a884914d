import Foundation
import Log
import Problems
import Synchronization

/// Decides at submission whether a job can finish before its earliest output URL expires: the wait for the
/// jobs ahead of it (earliest deadline first), its own run, and a safety margin must fit in what is left
/// of the URL's life. Pure; the inputs come from the store and `RunTimeEstimator`.
public struct AdmissionControl: Sendable {
  /// Jobs processed at once.
  public var concurrency: Int
  /// Time kept in hand (`jobs.expiry_margin_s`).
  public var margin: Duration

  public init(concurrency: Int, margin: Duration) {
    self.concurrency = max(1, concurrency)
    self.margin = margin
  }

  /// How many jobs ahead are worth counting for a job with `deadline`: any more would be refused anyway.
  /// Nil when the job has no deadline (nothing to check).
  public func queueLimit(deadline: Date?, now: Date, estimatedRun: Duration) -> Int? {
    guard let deadline else { return nil }
    let runs = max(0, deadline.timeIntervalSince(now)) / max(0.001, estimatedRun.seconds)
    return concurrency * (Int(min(runs, 1e6)) + 2)
  }

  /// Nil when a job with `deadline` submitted at `now` is expected to finish in time, else why not.
  public func refusal(deadline: Date?, now: Date, queueAhead: Int, estimatedRun: Duration) -> AdmissionRefusal? {
    guard let deadline else { return nil }
    // With `concurrency` workers, the jobs ahead leave a worker free after ⌈(ahead - free) / workers⌉ runs.
    let waves = queueAhead < concurrency ? 0 : (queueAhead - concurrency) / concurrency + 1
    let wait = estimatedRun * waves
    let needed = wait + estimatedRun + margin
    let left = deadline.timeIntervalSince(now)
    guard left < needed.seconds else { return nil }
    return AdmissionRefusal(
      remaining: max(0, left), queueWait: wait.seconds, run: estimatedRun.seconds, margin: margin.seconds)
  }
}

/// Why a job was refused at submission: the numbers behind `/problems/output-url-expires-too-soon`.
public struct AdmissionRefusal: ProblemError, Sendable, Equatable, CustomStringConvertible {
  /// Seconds the earliest-expiring output URL had left.
  public var remaining: Double
  public var queueWait: Double
  public var run: Double
  public var margin: Double

  /// The lifetime the URL should have had, rounded up to a whole minute.
  public var neededSeconds: Int {
    Int(((queueWait + run + margin) / 60).rounded(.up)) * 60
  }

  public var problem: Problem { .outputURLExpiresTooSoon }
  public var detail: String { description }

  public var description: String {
    "the output URL expires in \(Int(remaining)) s, but this job needs about \(Int((queueWait + run).rounded(.up))) s"
      + " (\(Int(queueWait.rounded(.up))) s waiting for the jobs ahead, about \(Int(run.rounded(.up))) s to run)"
      + " plus a \(Int(margin)) s margin: pre-sign it for at least \(neededSeconds) s"
  }
}

/// A running estimate of how long a job takes, from the runs that finished (exponentially weighted, so it
/// follows the load). Starts at `initial` until a run was measured.
public final class RunTimeEstimator: Sendable {
  private let value: Mutex<Double>
  private let weight: Double

  public init(initial: Duration = .seconds(30), weight: Double = 0.2) {
    value = Mutex(initial.seconds)
    self.weight = weight
  }

  /// The current estimate.
  public var estimate: Duration { .milliseconds(Int64(value.withLock { $0 } * 1000)) }

  /// Feeds one finished run's duration.
  public func record(_ run: Duration) {
    value.withLock { $0 = $0 * (1 - weight) + run.seconds * weight }
  }
}
