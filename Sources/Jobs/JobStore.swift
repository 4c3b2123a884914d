import Foundation

/// Where jobs live. Every implementation passes the same conformance suite (`JobStoreConformance` in the
/// tests).
///
/// Each call has one form. Writes are `async` and durable when they return: the API awaits them on its
/// tasks; plain threads (workers, the heartbeat, the webhook sender) wait for them with `runBlocking`, which
/// never needs the concurrency pool. Reads are plain calls that never wait for a write, so a status lookup is
/// answered inline on the server's event loop, without a task.
/// State changes go through `update(id:_:)` with one of `Job`'s transitions, so every store applies the one
/// state machine; `claim` is the exception because it must choose the job and take it atomically.
public protocol JobStore: Sendable {
  /// Stores a new pending job, or returns the owner's existing job when `job.idempotencyKey` matches one of
  /// theirs on the same path (whatever its body: the caller compares digests), or when they posted an
  /// identical body (`requestDigest`) to the same path at or after `duplicateSince` and that job did not end
  /// Failed, Cancelled or InternalError.
  func submit(_ job: Job, duplicateSince: Date) async throws -> Submission

  /// The earlier job `submit` would return instead of storing `job`, if there is one (a read: the API asks
  /// before admission control, so a client's retry of an accepted job is never refused).
  func duplicate(of job: Job, since: Date) throws -> Job?

  /// The job with `id`, whoever owns it.
  func job(id: UUID) throws -> Job?

  /// A page of the owner's jobs, newest first.
  func list(_ query: JobQuery) throws -> JobPage

  /// Takes the pending job with the earliest deadline (jobs without one last), then the earliest
  /// submitted, among those whose `notBefore` has come and whose owner is not in `skipping` (apps at their
  /// share of this node's workers); nil when none is ready.
  func claim(worker: String, now: Date, lease: Duration, skipping owners: Set<String>) async throws -> Job?

  /// Applies `change` to the job atomically and stores the result, unless `change` throws (then nothing is
  /// stored and the error is rethrown). Returns what `change` returned; throws `JobStoreError.notFound`.
  func update<T: Sendable>(id: UUID, _ change: @escaping @Sendable (inout Job) throws -> T) async throws -> T

  /// Running jobs whose lease ran out at `now` (every running job when `now` is `.distantFuture`).
  func expiredLeases(now: Date) throws -> [UUID]

  /// The number of jobs ahead of a job with `deadline` in the queue (running ones, and pending ones with an
  /// earlier or equal deadline), counted up to `limit` (a count past the point where admission refuses
  /// anyway would only cost time: a long queue makes the count long).
  func queueAhead(of deadline: Date?, atMost limit: Int) throws -> Int

  /// How many jobs the store holds, by status.
  func counts() throws -> [JobStatus: Int]

  /// Deletes ended jobs whose `expiresAt` is at or before `now`, with their deliveries; returns their ids.
  func deleteExpired(now: Date) async throws -> [UUID]

  // Webhooks: when `update` ends a job, the same write adds a pending `Delivery` for the owner's webhook (if
  // one is registered) and one for the job's `on_complete` (if it has one): the outbox.

  /// The owner's registered webhook.
  func webhook(owner: String) throws -> Webhook?

  /// Registers `webhook` as its owner's, replacing the one before.
  func saveWebhook(_ webhook: Webhook) async throws

  /// Removes the owner's webhook if its id is `id`; tells whether one was removed.
  func deleteWebhook(id: UUID, owner: String) async throws -> Bool

  /// Takes up to `limit` pending deliveries due at `now`, earliest first, and holds them until `holdUntil` (their
  /// next attempt moves there), so a sender that dies mid-call only delays them.
  /// Deliveries of the owners in `skipping` (apps at their share of this node's senders) are left.
  func claimDeliveries(now: Date, holdUntil: Date, limit: Int, skipping owners: Set<String>) async throws
    -> [Delivery]

  /// Appends `attempt` to delivery `id` and sets its state: `pending` again at `next`, `delivered` or `failed`.
  func recordDelivery(id: UUID, attempt: DeliveryAttempt, state: Delivery.State, next: Date?) async throws

  /// The deliveries of job `id`, oldest first.
  func deliveries(job id: UUID) throws -> [Delivery]
}

extension JobStore {
  /// `claim` skipping no one.
  public func claim(worker: String, now: Date, lease: Duration) async throws -> Job? {
    try await claim(worker: worker, now: now, lease: lease, skipping: [])
  }

  /// `claimDeliveries` skipping no one.
  public func claimDeliveries(now: Date, holdUntil: Date, limit: Int) async throws -> [Delivery] {
    try await claimDeliveries(now: now, holdUntil: holdUntil, limit: limit, skipping: [])
  }
}

/// What `submit` did.
public enum Submission: Sendable, Equatable {
  /// The job was stored.
  case created(Job)
  /// An earlier job of the same owner matched; nothing was stored.
  case existing(Job)

  /// The stored job.
  public var job: Job {
    switch self {
    case .created(let job), .existing(let job): job
    }
  }
}

/// A filter for listing an owner's jobs (`GET /media/jobs`).
public struct JobQuery: Sendable, Equatable {
  public var owner: String
  /// Inclusive bounds on submission time.
  public var submittedAfter: Date?
  public var submittedBefore: Date?
  public var status: JobStatus?
  /// Continue after this position (from a previous page's `nextCursor`).
  public var cursor: Int64?
  public var limit: Int

  public init(
    owner: String, submittedAfter: Date? = nil, submittedBefore: Date? = nil, status: JobStatus? = nil,
    cursor: Int64? = nil, limit: Int = 100
  ) {
    self.owner = owner
    self.submittedAfter = submittedAfter
    self.submittedBefore = submittedBefore
    self.status = status
    self.cursor = cursor
    self.limit = limit
  }
}

/// One page of a listing.
public struct JobPage: Sendable, Equatable {
  public var jobs: [Job]
  /// Where the next page starts; nil on the last page.
  public var nextCursor: Int64?

  public init(jobs: [Job], nextCursor: Int64?) {
    self.jobs = jobs
    self.nextCursor = nextCursor
  }
}

/// A store failure.
public enum JobStoreError: Error, Sendable, Equatable, CustomStringConvertible {
  case notFound(UUID)
  /// The database refused or failed (message from the database, no job data).
  case database(String)

  public var description: String {
    switch self {
    case .notFound(let id): "no job \(id.text)"
    case .database(let message): "job store: \(message)"
    }
  }
}
