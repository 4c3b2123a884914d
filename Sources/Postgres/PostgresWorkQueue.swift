import Foundation

/// A few threads of its own that run blocking work (libpq calls) first come, first served. Not Dispatch's
/// shared pool: when its threads are all blocked elsewhere it adds more only slowly, and a store's writes
/// would wait for it (seen: 50 claims from 8 blocked callers took 7 s).
public final class PostgresWorkQueue: @unchecked Sendable {
  private let name: String
  private let maxThreads: Int
  // Guards everything below.
  private let condition = NSCondition()
  private var pending: [@Sendable () -> Void] = []
  private var head = 0
  private var threads = 0
  private var idle = 0
  private var stopping = false

  /// A queue that runs up to `threads` pieces of work at once, on threads started as they are needed.
  public init(name: String, threads: Int) {
    self.name = name
    maxThreads = max(1, threads)
  }

  /// Runs `work` on one of the queue's threads.
  public func async(_ work: @escaping @Sendable () -> Void) {
    condition.lock()
    pending.append(work)
    let start = idle == 0 && threads < maxThreads && !stopping
    if start { threads += 1 }
    condition.signal()
    condition.unlock()
    if start {
      let thread = Thread { [self] in loop() }
      thread.name = name
      thread.start()
    }
  }

  /// Lets the threads finish the work already queued, then end.
  public func stop() {
    condition.lock()
    stopping = true
    condition.broadcast()
    condition.unlock()
  }

  private func loop() {
    condition.lock()
    while true {
      while head == pending.count && !stopping {
        idle += 1
        condition.wait()
        idle -= 1
      }
      if head == pending.count {
        threads -= 1
        condition.unlock()
        return
      }
      let work = pending[head]
      head += 1
      if head > 64 && head * 2 > pending.count {
        pending.removeFirst(head)
        head = 0
      }
      condition.unlock()
      work()
      condition.lock()
    }
  }
}
