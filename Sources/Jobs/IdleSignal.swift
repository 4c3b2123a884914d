import Foundation

/// Where a pool's idle threads wait for work (the worker pool's workers, the webhook senders): `wake()` lets
/// one through, now or the next to wait; `stop()` lets every one through for good; and a wait ends anyway
/// after its timeout, because work can come due without a wake (a retry's time, another node's job).
public final class IdleSignal: @unchecked Sendable {
  // Guarded by `condition`.
  private let condition = NSCondition()
  private var wakeups = 0
  private var stopped = false
  private var waiters = 0

  public init() {}

  public func wake() {
    condition.withLock {
      wakeups += 1
      condition.signal()
    }
  }

  public func stop() {
    condition.withLock {
      stopped = true
      condition.broadcast()
    }
  }

  /// Returns after a `wake()` (one pending is taken), a `stop()`, or `timeout`.
  public func wait(upTo timeout: Duration) {
    condition.withLock {
      if wakeups == 0 && !stopped {
        waiters += 1
        _ = condition.wait(until: Date() + timeout.seconds)
        waiters -= 1
      }
      wakeups = max(0, wakeups - 1)
    }
  }

  /// Threads waiting now.
  public var waiting: Int { condition.withLock { waiters } }
}
