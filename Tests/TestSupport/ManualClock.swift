import Foundation
import Synchronization

/// A wall clock that moves only when a test moves it: pass `now` where the engine takes `now:`, then
/// `advance(by:)` instead of sleeping until a lease, a retry or a retention comes due.
public final class ManualClock: Sendable {
  private let current: Mutex<Date>

  /// Starts at `start` (by default a fixed instant in 2027, so nothing depends on today's date).
  public init(_ start: Date = Date(timeIntervalSince1970: 1_800_000_000)) {
    current = Mutex(start)
  }

  /// The clock's time now.
  public var date: Date { current.withLock { $0 } }

  /// The clock as the engine's `now:` parameter takes it.
  public var now: @Sendable () -> Date { { self.date } }

  /// Sets the clock to `date` exactly (adding the difference could land a rounding error short of it).
  public func advance(to date: Date) {
    current.withLock { $0 = max($0, date) }
  }

  /// Moves the clock forward by `seconds`.
  public func advance(by seconds: TimeInterval) {
    current.withLock { $0 += seconds }
  }
}
