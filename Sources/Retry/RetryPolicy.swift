/// How long to wait before trying again: exponential backoff with full jitter under a cap.
///
/// After the `n`th failed attempt the delay is drawn uniformly from `0...min(cap, initial * 2^(n-1))`. Drawing
/// from the whole range ("full jitter") spreads out the retries of many callers that failed together (a store
/// restart, a receiver down), where a narrow jitter band would bring them back in waves.
public struct RetryPolicy: Sendable, Hashable {
  /// The longest delay after the first failed attempt; it doubles with each further one.
  public var initial: Duration
  /// The longest delay, however many attempts failed.
  public var cap: Duration

  /// Exponential backoff from `initial`, doubling per failed attempt up to `cap`, with full jitter.
  public static func exponentialJitter(initial: Duration, cap: Duration) -> RetryPolicy {
    RetryPolicy(initial: initial, cap: cap)
  }

  /// The longest delay after `attempt` failed attempts (counted from 1): `initial * 2^(attempt-1)`, at most `cap`.
  public func ceiling(afterAttempt attempt: Int) -> Duration {
    let cap = max(cap, .zero)
    var ceiling = min(max(initial, .zero), cap)
    // Doubling step by step (rather than `pow`) never overflows: it stops at the cap.
    var doublings = max(0, attempt - 1)
    while doublings > 0, ceiling > .zero, ceiling < cap {
      ceiling = min(ceiling * 2, cap)
      doublings -= 1
    }
    return ceiling
  }

  /// The delay after `attempt` failed attempts (counted from 1), drawn from `0...ceiling(afterAttempt:)` with
  /// `generator`.
  public func delay(afterAttempt attempt: Int, using generator: inout some RandomNumberGenerator) -> Duration {
    let ceiling = ceiling(afterAttempt: attempt)
    // The product is rounded to attoseconds: never let that lift it past the ceiling.
    return min(ceiling, ceiling * Double.random(in: 0...1, using: &generator))
  }

  /// The delay after `attempt` failed attempts (counted from 1), drawn with the system's generator.
  public func delay(afterAttempt attempt: Int) -> Duration {
    var generator = SystemRandomNumberGenerator()
    return delay(afterAttempt: attempt, using: &generator)
  }
}
