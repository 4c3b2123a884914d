import Foundation
import Synchronization

/// A cap on how many of a pool's threads one owner (an app) holds at once on this node, with the count each
/// holds now. A pool takes its next item skipping the owners at the cap, so one app's slow work (inputs at
/// 1 KB/s, a webhook endpoint that trickles its answer) cannot hold every worker or sender while another
/// app's work waits. The worker pool and the webhook dispatcher each have one.
public final class OwnerShares: Sendable {
  /// The most one owner holds at once; nil: no cap (and no counting).
  public let limit: Int?
  private let held = Mutex<[String: Int]>([:])
  /// Takes are one at a time when there is a cap: two at once could both see an owner one under it.
  private let taking = NSLock()

  public init(limit: Int?) {
    self.limit = limit.map { max(1, $0) }
  }

  /// Takes the next item with `take`, which is given the owners to skip, and counts it to its owner until
  /// `release`.
  public func take<Item>(_ take: (Set<String>) throws -> Item?, owner: (Item) -> String) rethrows -> Item? {
    guard let limit else { return try take([]) }
    taking.lock()
    defer { taking.unlock() }
    let skipping = held.withLock { held in Set(held.filter { $0.value >= limit }.keys) }
    guard let item = try take(skipping) else { return nil }
    held.withLock { $0[owner(item), default: 0] += 1 }
    return item
  }

  /// Gives back one of `owner`'s. True when the owner was at the cap: work of theirs that was skipped may be
  /// taken now, so wake a waiting thread.
  @discardableResult
  public func release(_ owner: String) -> Bool {
    guard let limit else { return false }
    return held.withLock { held in
      let count = held[owner, default: 0]
      held[owner] = count > 1 ? count - 1 : nil
      return count >= limit
    }
  }

  /// What `owner` holds now.
  public func held(by owner: String) -> Int { held.withLock { $0[owner, default: 0] } }
}
