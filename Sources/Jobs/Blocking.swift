import Dispatch
import Synchronization

/// Starts a completion-style operation and waits on the calling thread for its result. For plain threads
/// (workers, the heartbeat): nothing here needs the concurrency pool, so they keep going however busy it is.
func waitFor<T: Sendable>(_ start: (@escaping @Sendable (Result<T, any Error>) -> Void) -> Void) throws -> T {
  let done = DispatchSemaphore(value: 0)
  let outcome = Mutex<Result<T, any Error>?>(nil)
  start { result in
    outcome.withLock { $0 = result }
    done.signal()
  }
  done.wait()
  return try outcome.withLock { $0! }.get()
}
