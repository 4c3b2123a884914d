import Foundation
import Synchronization

/// A job store in memory, for unit tests: the same behaviour as the SQLite store, gone with the process.
public final class InMemoryJobStore: JobStore {
  private struct State {
    var jobs: [UUID: Job] = [:]
    /// Submission order (the SQLite store's rowid).
    var sequence: [UUID: Int64] = [:]
    var nextSequence: Int64 = 1
    var webhooks: [String: Webhook] = [:]
    /// The outbox, in the order deliveries were added.
    var deliveries: [Delivery] = []
  }

  private let state = Mutex(State())

  public init() {}

  public func submit(_ job: Job, duplicateSince: Date) async throws -> Submission {
    state.withLock { state in
      if let earlier = state.jobs.values.first(where: { Self.matches($0, job, duplicateSince: duplicateSince) }) {
        return .existing(earlier)
      }
      state.jobs[job.id] = job
      state.sequence[job.id] = state.nextSequence
      state.nextSequence += 1
      return .created(job)
    }
  }

  static func matches(_ earlier: Job, _ job: Job, duplicateSince: Date) -> Bool {
    guard earlier.owner == job.owner else { return false }
    if let key = job.idempotencyKey { return earlier.idempotencyKey == key && earlier.path == job.path }
    return earlier.path == job.path && earlier.requestDigest == job.requestDigest
      && earlier.submittedAt >= duplicateSince && ![.failed, .cancelled, .internalError].contains(earlier.status)
  }

  public func duplicate(of job: Job, since: Date) throws -> Job? {
    state.withLock { state in state.jobs.values.first { Self.matches($0, job, duplicateSince: since) } }
  }

  public func job(id: UUID) throws -> Job? {
    state.withLock { $0.jobs[id] }
  }

  public func list(_ query: JobQuery) throws -> JobPage {
    state.withLock { state in
      let matching = state.jobs.values
        .map { (job: $0, sequence: state.sequence[$0.id]!) }
        .filter { entry in
          let job = entry.job
          return job.owner == query.owner && query.cursor.map { entry.sequence < $0 } ?? true
            && query.status.map { job.status == $0 } ?? true
            && query.submittedAfter.map { job.submittedAt >= $0 } ?? true
            && query.submittedBefore.map { job.submittedAt <= $0 } ?? true
        }
        .sorted { $0.sequence > $1.sequence }
      let page = matching.prefix(query.limit)
      let next = matching.count > query.limit ? page.last?.sequence : nil
      return JobPage(jobs: page.map(\.job), nextCursor: next)
    }
  }

  public func claim(worker: String, now: Date, lease: Duration, skipping owners: Set<String>) async throws -> Job? {
    state.withLock { state in
      let ready = state.jobs.values.filter {
        $0.status == .pending && $0.notBefore <= now && !owners.contains($0.owner)
      }
      guard
        var job = ready.min(by: { a, b in
          let (da, db) = (a.deadline ?? .distantFuture, b.deadline ?? .distantFuture)
          return da != db ? da < db : state.sequence[a.id]! < state.sequence[b.id]!
        })
      else { return nil }
      do {
        try job.claim(worker: worker, now: now, lease: lease)
      } catch {
        return nil
      }
      state.jobs[job.id] = job
      return job
    }
  }

  public func update<T: Sendable>(id: UUID, _ change: @escaping @Sendable (inout Job) throws -> T) async throws -> T {
    try state.withLock { state in
      guard var job = state.jobs[id] else { throw JobStoreError.notFound(id) }
      let wasFinal = job.status.isFinal
      let value = try change(&job)
      if let violation = job.invariantViolation { throw JobStoreError.database("constraint failed: \(violation)") }
      state.jobs[id] = job
      if !wasFinal && job.status.isFinal {
        state.deliveries += Delivery.owed(by: job, webhook: state.webhooks[job.owner])
      }
      return value
    }
  }

  public func expiredLeases(now: Date) throws -> [UUID] {
    state.withLock { state in
      state.jobs.values.filter { job in
        job.status == .running && (now == .distantFuture || job.lease.map { $0.expiresAt <= now } ?? true)
      }.map(\.id)
    }
  }

  public func counts() throws -> [JobStatus: Int] {
    state.withLock { state in state.jobs.values.reduce(into: [:]) { $0[$1.status, default: 0] += 1 } }
  }

  public func queueAhead(of deadline: Date?, atMost limit: Int) throws -> Int {
    let latest = deadline ?? .distantFuture
    let count = state.withLock { state in
      state.jobs.values.filter { job in
        job.status == .running || (job.status == .pending && (job.deadline ?? .distantFuture) <= latest)
      }.count
    }
    return min(count, max(0, limit))
  }

  public func deleteExpired(now: Date) async throws -> [UUID] {
    state.withLock { state in
      let expired = state.jobs.values.filter { $0.status.isFinal && $0.expiresAt <= now }.map(\.id)
      for id in expired {
        state.jobs[id] = nil
        state.sequence[id] = nil
      }
      let gone = Set(expired)
      state.deliveries.removeAll { gone.contains($0.jobID) }
      return expired
    }
  }

  // MARK: Webhooks

  public func webhook(owner: String) throws -> Webhook? {
    state.withLock { $0.webhooks[owner] }
  }

  public func saveWebhook(_ webhook: Webhook) async throws {
    state.withLock { $0.webhooks[webhook.owner] = webhook }
  }

  public func deleteWebhook(id: UUID, owner: String) async throws -> Bool {
    state.withLock { state -> Bool in
      guard state.webhooks[owner]?.id == id else { return false }
      state.webhooks[owner] = nil
      return true
    }
  }

  public func claimDeliveries(now: Date, holdUntil: Date, limit: Int, skipping owners: Set<String>) async throws
    -> [Delivery]
  {
    state.withLock { state -> [Delivery] in
      let due = state.deliveries.indices
        .filter { index in
          let delivery = state.deliveries[index]
          return delivery.state == .pending && delivery.nextAttemptAt <= now && !owners.contains(delivery.owner)
        }
        .sorted { state.deliveries[$0].nextAttemptAt < state.deliveries[$1].nextAttemptAt }
        .prefix(max(0, limit))
      return due.map { index in
        state.deliveries[index].nextAttemptAt = holdUntil.wholeMilliseconds
        return state.deliveries[index]
      }
    }
  }

  public func recordDelivery(id: UUID, attempt: DeliveryAttempt, state newState: Delivery.State, next: Date?)
    async throws
  {
    state.withLock { state in
      guard let index = state.deliveries.firstIndex(where: { $0.id == id }) else { return }
      state.deliveries[index].attempts.append(attempt)
      state.deliveries[index].state = newState
      if let next { state.deliveries[index].nextAttemptAt = next.wholeMilliseconds }
    }
  }

  public func deliveries(job id: UUID) throws -> [Delivery] {
    state.withLock { state in state.deliveries.filter { $0.jobID == id } }
  }
}
