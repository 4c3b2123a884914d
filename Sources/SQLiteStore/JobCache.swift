import Foundation
import Jobs
import Synchronization

/// Jobs recently read or written, so status polling does not take SQLite's locks on every request (a profile
/// under load: the read's file locks and SQLite's global mutex put the two event loops to sleep in turns).
/// Only this process writes its store (a single node), so every change passes here: once a write is committed
/// its job replaces the entry. A read fills an entry only if no write was committed while it read (a
/// generation count), so a slow read never puts back an older version of a job.
final class JobCache: Sendable {
  private struct State {
    var jobs: [UUID: Job] = [:]
    var generation: UInt64 = 0
  }

  private let state = Mutex(State())
  let capacity: Int

  init(capacity: Int = 4096) {
    self.capacity = max(1, capacity)
  }

  func job(_ id: UUID) -> Job? {
    state.withLock { $0.jobs[id] }
  }

  /// Taken before a read of the store; pass it to `fill`.
  var generation: UInt64 { state.withLock { $0.generation } }

  /// Remembers `job` as read from the store, unless a write was committed since `generation`.
  func fill(_ job: Job, readAt generation: UInt64) {
    state.withLock { state in
      guard state.generation == generation else { return }
      Self.put(job, in: &state, capacity: capacity)
    }
  }

  /// After a commit: these jobs are now as given.
  func wrote(_ jobs: [Job]) {
    state.withLock { state in
      state.generation &+= 1
      for job in jobs { Self.put(job, in: &state, capacity: capacity) }
    }
  }

  /// After a delete, or a write whose outcome is unknown: these jobs must be read again.
  func forget(_ ids: [UUID]) {
    state.withLock { state in
      state.generation &+= 1
      for id in ids { state.jobs[id] = nil }
    }
  }

  private static func put(_ job: Job, in state: inout State, capacity: Int) {
    if state.jobs[job.id] == nil, state.jobs.count >= capacity {
      // Any entry will do (a dictionary's first is arbitrary): entries are cheap to read again.
      state.jobs.remove(at: state.jobs.startIndex)
    }
    state.jobs[job.id] = job
  }
}
