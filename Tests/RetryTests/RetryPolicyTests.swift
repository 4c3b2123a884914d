import Retry
import Testing

/// SplitMix64: a small seeded generator, so a test draws the same delays on every run.
private struct SeededGenerator: RandomNumberGenerator {
  var state: UInt64

  mutating func next() -> UInt64 {
    state &+= 0x9E37_79B9_7F4A_7C15
    var z = state
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }
}

@Suite struct RetryPolicyTests {
  let policy = RetryPolicy.exponentialJitter(initial: .milliseconds(500), cap: .seconds(30))

  @Test func ceiling_doublesPerFailedAttemptFromTheInitialDelay() {
    #expect(policy.ceiling(afterAttempt: 1) == .milliseconds(500))
    #expect(policy.ceiling(afterAttempt: 2) == .seconds(1))
    #expect(policy.ceiling(afterAttempt: 3) == .seconds(2))
    #expect(policy.ceiling(afterAttempt: 6) == .seconds(16))
  }

  @Test func ceiling_stopsAtTheCap_evenAfterVeryManyAttempts() {
    #expect(policy.ceiling(afterAttempt: 7) == .seconds(30))
    #expect(policy.ceiling(afterAttempt: 1000) == .seconds(30))
    #expect(policy.ceiling(afterAttempt: .max) == .seconds(30))
  }

  @Test func ceiling_treatsAttemptZeroAsTheFirstRetry() {
    // A job that has not been counted as attempted yet still waits no longer than the first retry.
    #expect(policy.ceiling(afterAttempt: 0) == .milliseconds(500))
    #expect(policy.ceiling(afterAttempt: -3) == .milliseconds(500))
  }

  @Test func ceiling_neverExceedsACapBelowTheInitialDelay() {
    let tight = RetryPolicy.exponentialJitter(initial: .seconds(10), cap: .seconds(3))
    #expect(tight.ceiling(afterAttempt: 1) == .seconds(3))
    #expect(tight.ceiling(afterAttempt: 5) == .seconds(3))
  }

  @Test func delay_staysWithinZeroAndTheCeiling_forEveryAttempt() {
    var generator = SeededGenerator(state: 42)
    for attempt in 1...40 {
      let ceiling = policy.ceiling(afterAttempt: attempt)
      for _ in 0..<50 {
        let delay = policy.delay(afterAttempt: attempt, using: &generator)
        #expect(delay >= .zero && delay <= ceiling, "attempt \(attempt): \(delay) outside 0...\(ceiling)")
      }
    }
  }

  @Test func delay_spreadsOverTheWholeRange_downToNearZero() {
    // Full jitter, not a narrow band under the ceiling: some draws land in the bottom hundredth (so no caller
    // may count on having waited some part of the ceiling), some in the top tenth.
    var generator = SeededGenerator(state: 7)
    let delays = (0..<1000).map { _ in policy.delay(afterAttempt: 7, using: &generator) }
    #expect(delays.contains { $0 < .milliseconds(300) })
    #expect(delays.contains { $0 > .seconds(27) })
  }

  @Test func delay_withTheSystemGenerator_staysWithinTheCeiling() {
    for attempt in 1...10 {
      let delay = policy.delay(afterAttempt: attempt)
      #expect(delay >= .zero && delay <= policy.ceiling(afterAttempt: attempt))
    }
  }

  @Test func delay_isTheSameForTheSameSeed() {
    var first = SeededGenerator(state: 2024)
    var second = SeededGenerator(state: 2024)
    let a = (1...10).map { policy.delay(afterAttempt: $0, using: &first) }
    let b = (1...10).map { policy.delay(afterAttempt: $0, using: &second) }
    #expect(a == b)
    var other = SeededGenerator(state: 2025)
    #expect(a != (1...10).map { policy.delay(afterAttempt: $0, using: &other) })
  }

  @Test func aZeroInitialDelay_meansRetryingAtOnce() {
    let immediate = RetryPolicy.exponentialJitter(initial: .zero, cap: .seconds(30))
    #expect(immediate.ceiling(afterAttempt: 50) == .zero)
    #expect(immediate.delay(afterAttempt: 50) == .zero)
  }
}
