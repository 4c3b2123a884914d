import Foundation
import HTTPServer
import Problems
import Synchronization

/// A token bucket per app (`auth.rate_limit.per_s`, `.burst`): each request takes a token; an empty bucket
/// answers 429 with `Retry-After`. The clock is injected.
public final class RateLimiter: Sendable {
  public let perSecond: Double
  public let burst: Double
  private let buckets = Mutex<[String: (tokens: Double, at: Double)]>([:])
  private let now: @Sendable () -> Double

  /// `now` is a monotonic clock in seconds (a wall clock stepping back would empty every bucket).
  public init(
    perSecond: Double, burst: Int,
    now: @escaping @Sendable () -> Double = { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }
  ) {
    self.perSecond = perSecond
    self.burst = Double(burst)
    self.now = now
  }

  /// Takes a token for `app`, or throws the 429 answer saying when the next one comes.
  public func take(_ app: String) throws(HTTPError) {
    let time = now()
    let wait: Double? = buckets.withLock { buckets in
      var bucket = buckets[app] ?? (burst, time)
      bucket.tokens = min(burst, bucket.tokens + (time - bucket.at) * perSecond)
      bucket.at = time
      defer { buckets[app] = bucket }
      guard bucket.tokens >= 1 else { return (1 - bucket.tokens) / perSecond }
      bucket.tokens -= 1
      return nil
    }
    if let wait {
      let seconds = max(1, Int(min(wait, 86400).rounded(.up)))
      throw HTTPError(
        .tooManyRequests,
        detail: "this app key is over \(Self.format(perSecond)) requests a second; retry in \(seconds) s",
        headers: ["Retry-After": String(seconds)])
    }
  }

  static func format(_ value: Double) -> String {
    value == value.rounded() ? String(Int(value)) : String(value)
  }
}
