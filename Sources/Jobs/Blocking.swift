import Dispatch
import Synchronization

/// Runs `body`, an async call such as a store's, and waits for it on the calling thread. For plain threads
/// (workers, the heartbeat, the webhook sender): `body` runs on `BlockingCalls`' own thread, never on the
/// concurrency pool, so these threads keep going however busy (or blocked) that pool is.
public func runBlocking<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) throws -> T {
  let done = DispatchSemaphore(value: 0)
  let outcome = Mutex<Result<T, any Error>?>(nil)
  Task(executorPreference: BlockingCalls.executor) {
    let result: Result<T, any Error>
    do {
      result = .success(try await body())
    } catch {
      result = .failure(error)
    }
    outcome.withLock { $0 = result }
    done.signal()
  }
  done.wait()
  return try outcome.withLock { $0! }.get()
}

/// The task executor `runBlocking` runs its calls on: one serial dispatch queue, which has a thread of its own
/// whenever it has work (unlike the width-limited pool Swift's tasks share, or Dispatch's concurrent queues,
/// which add threads only slowly once theirs are blocked). One is enough: a store call runs here only until it
/// hands its write to the store's writer, and again when the write is answered.
final class BlockingCalls: TaskExecutor {
  static let executor = BlockingCalls()

  private let queue = DispatchQueue(label: "ferry.blocking-calls")

  func enqueue(_ job: consuming ExecutorJob) {
    let job = UnownedJob(job)
    let executor = asUnownedTaskExecutor()
    queue.async { job.runSynchronously(on: executor) }
  }
}
