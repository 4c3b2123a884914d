import Foundation
import HTTPServer
import JSON
import Jobs
import Log
import Problems
import Synchronization

/// The job routes: `POST` and `GET` on each operation's path, `GET /media/jobs`, `POST /media/jobs/cancel`.
/// Each app sees only its own jobs: another app's job id answers 404, as an unknown one does.
public struct JobsController: Sendable {
  public let authenticator: Authenticator
  public let service: JobService
  public let pool: WorkerPool?
  public let operations: [any JobOperation]
  /// `server.max_json_body_bytes`.
  public let maxBodyBytes: Int64
  public let logger: Logger
  public let metrics: Metrics?
  /// Status envelopes of pending and running jobs as last rendered.
  private let rendered = RenderedEnvelopes()

  public init(
    authenticator: Authenticator, service: JobService, pool: WorkerPool?, operations: [any JobOperation],
    maxBodyBytes: Int64, logger: Logger, metrics: Metrics? = nil
  ) {
    self.metrics = metrics
    self.authenticator = authenticator
    self.service = service
    self.pool = pool
    self.operations = operations
    self.maxBodyBytes = maxBodyBytes
    self.logger = logger
  }

  public func register(in router: inout Router) {
    for operation in operations {
      // Credentials are checked from the head: a client without them cannot hold a connection by trickling.
      router.post(operation.path, body: .buffered(limit: maxBodyBytes), check: authenticator.check) {
        request async throws in
        try await self.submit(request, operation)
      }
      // Status polling never waits on a write: answered inline on the event loop.
      router.get(operation.path) { request in try self.status(request, path: operation.path) }
    }
    router.get("/media/jobs") { request in try self.list(request) }
    router.post("/media/jobs/cancel", body: .buffered(limit: 16384), check: authenticator.check) {
      request async throws in
      try await self.cancel(request)
    }
  }

  // MARK: Routes

  func submit(_ request: Request, _ operation: any JobOperation) async throws -> Response {
    let owner = try authenticator.authenticate(request)
    let body = request.body.bytes
    let admitted = try operation.admit(.object(try request.jsonObjectBody()))
    let idempotencyKey = request.headers["Idempotency-Key"]
    if let key = idempotencyKey, key.isEmpty || key.utf8.count > 255 {
      throw HTTPError.badRequest("Idempotency-Key: must be 1 to 255 bytes")
    }
    let submission: Submission
    do {
      submission = try await service.submit(
        owner: owner, path: operation.path, body: body, request: admitted, idempotencyKey: idempotencyKey)
    } catch let refusal as AdmissionRefusal {
      metrics?.admissionRefused()
      throw refusal
    } catch let unavailable as JobStoreUnavailable {
      logger.error("job not stored", ["request_id": .string(request.id), "error": .string(unavailable.cause)])
      throw unavailable
    }
    let job = submission.job
    if case .created = submission {
      logger.info(
        "job accepted",
        [
          "request_id": .string(request.id), "job_id": .string(job.id.text),
          "path": .string(job.path),
        ])
    }
    return .json(bytes: Array(JSONValue.object(["job_id": .string(job.id.text)]).description.utf8))
  }

  func status(_ request: Request, path: String) throws -> Response {
    let owner = try authenticator.authenticate(request)
    let job = try ownJob(request, owner: owner)
    // A job is read at the path it was posted to, as Dolby's clients poll it.
    guard job.path == path else { throw HTTPError.notFound("job_id: no such \(path) job") }
    // Deliveries exist only once a job ended: a running job's poll costs no second read, and its envelope
    // is rendered again only when the job changed.
    guard job.status.isFinal else { return .json(bytes: rendered.envelope(of: job)) }
    return .json(bytes: JobStatusView(job, deliveries: try service.store.deliveries(job: job.id)).envelope)
  }

  func list(_ request: Request) throws -> Response {
    let owner = try authenticator.authenticate(request)
    // The listing covers the last 31 days (COMPAT), whatever `jobs.retention_days` keeps.
    var query = JobQuery(owner: owner, submittedAfter: Date() - 31 * 86400, limit: 100)
    if let text = request.queryValue("status") {
      guard let status = JobStatus(rawValue: text) else {
        throw HTTPError.badRequest(
          "status: must be one of \(JobStatus.allCases.map(\.rawValue).joined(separator: ", "))")
      }
      query.status = status
    }
    for (name, isAfter) in [("submitted_after", true), ("submitted_before", false)] {
      guard let text = request.queryValue(name) else { continue }
      guard let date = Self.parseDate(text, endOfDay: !isAfter) else {
        throw HTTPError.badRequest("\(name): expected a date (2024-01-31) or an ISO-8601 time (2024-01-31T12:00:00Z)")
      }
      if isAfter {
        query.submittedAfter = max(date, query.submittedAfter ?? date)
      } else {
        query.submittedBefore = date
      }
    }
    if let token = request.queryValue("next_token"), !token.isEmpty {
      guard let cursor = Int64(token, radix: 36), cursor > 0 else {
        throw HTTPError.badRequest("next_token: not a token this server handed out")
      }
      query.cursor = cursor
    }
    let jobs: [Job]
    var next: String?
    if request.queryValue("job_id") != nil {
      jobs = (try? ownJob(request, owner: owner)).map { [$0] } ?? []
    } else {
      let page = try service.store.list(query)
      jobs = page.jobs
      next = page.nextCursor.map { String($0, radix: 36) }
    }
    var fields: [String: JSONValue] = [
      "count": .int(jobs.count), "jobs": .array(jobs.map { JobStatusView($0, deliveries: nil).listItem }),
    ]
    if let next { fields["next_token"] = .string(next) }
    return .json(bytes: Array(JSONValue.object(fields).description.utf8))
  }

  func cancel(_ request: Request) async throws -> Response {
    let owner = try authenticator.authenticate(request)
    let job = try ownJob(request, owner: owner)
    let stored: Job
    if let pool {
      stored = try await pool.cancel(id: job.id).1
    } else {
      stored = try await service.store.update(id: job.id) { job in
        _ = job.cancel(now: Date())
        return job
      }
    }
    logger.info(
      "job cancel requested", ["request_id": .string(request.id), "job_id": .string(job.id.text)])
    let body: JSONValue = .object([
      "job_id": .string(stored.id.text), "status": .string(stored.status.rawValue),
    ])
    return .json(bytes: Array(body.description.utf8))
  }

  // MARK: Helpers

  /// The job named by `job_id`, if it exists and belongs to `owner`; 404 otherwise (the same answer either way).
  func ownJob(_ request: Request, owner: String) throws -> Job {
    guard let text = request.queryValue("job_id"), !text.isEmpty else {
      throw HTTPError.badRequest("job_id: the query parameter is required")
    }
    guard let id = UUID(text: text), let job = try service.store.job(id: id), job.owner == owner else {
      throw HTTPError.notFound("job_id: no such job")
    }
    return job
  }

  /// A date (`2024-01-31`: the day's start, or its end for upper bounds) or an ISO-8601 time.
  static func parseDate(_ text: String, endOfDay: Bool) -> Date? {
    let plain = ISO8601DateFormatter()
    plain.formatOptions = [.withFullDate]
    if text.count == 10, let day = plain.date(from: text) { return endOfDay ? day + 86_399.999 : day }
    let precise = ISO8601DateFormatter()
    precise.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
    if let date = precise.date(from: text) { return date }
    return ISO8601DateFormatter().date(from: text)
  }
}

/// The last status envelope rendered for each of a bounded number of jobs, reused while the job is unchanged
/// (a client polls far more often than a job changes; comparing is cheaper than writing the JSON again).
final class RenderedEnvelopes: Sendable {
  private let entries = Mutex<[UUID: (job: Job, bytes: [UInt8])]>([:])
  static let capacity = 4096

  func envelope(of job: Job) -> [UInt8] {
    if let entry = entries.withLock({ $0[job.id] }), entry.job == job { return entry.bytes }
    let bytes = JobStatusView(job, deliveries: []).envelope
    entries.withLock { entries in
      if entries[job.id] == nil, entries.count >= Self.capacity { entries.remove(at: entries.startIndex) }
      entries[job.id] = (job, bytes)
    }
    return bytes
  }
}
