import Foundation
import Log
import Problems

/// A job's status, spelled as the Dolby.io Media APIs spell it.
public enum JobStatus: String, Sendable, CaseIterable, Codable {
  case pending = "Pending"
  case running = "Running"
  case success = "Success"
  case failed = "Failed"
  case cancelled = "Cancelled"
  case internalError = "InternalError"

  /// True for the statuses a job never leaves.
  public var isFinal: Bool {
    switch self {
    case .pending, .running: false
    case .success, .failed, .cancelled, .internalError: true
    }
  }
}

/// What a job is doing now.
public enum JobPhase: String, Sendable, CaseIterable, Codable {
  case queued, downloading, processing, uploading
}

/// A job's public error: `{type, title, detail}` with a `/problems/...` type. Never holds a secret.
public struct JobError: Sendable, Equatable, Codable {
  public var type: String
  public var title: String
  public var detail: String

  /// The error of `problem` (its type and title) in this case.
  public init(_ problem: Problem, detail: String) {
    self.init(type: problem.type, title: problem.title, detail: detail)
  }

  /// An error as a store holds it (written by this or an earlier release).
  public init(type: String, title: String, detail: String) {
    self.type = type
    self.title = title
    self.detail = detail
  }

  /// The catalogued problem of this error's type.
  public var problem: Problem? { Problem.named(type) }
}

/// One entry of a job's attempt log: an attempt that did not finish the job, and why.
public struct JobAttempt: Sendable, Equatable, Codable {
  /// When the attempt ended.
  public var at: Date
  /// The attempt's number (1 for the first run).
  public var attempt: Int
  /// What went wrong, redacted.
  public var error: String

  public init(at: Date, attempt: Int, error: String) {
    self.at = at
    self.attempt = attempt
    self.error = error
  }
}

/// A worker's claim on a running job; the job is taken again when it runs out.
public struct JobLease: Sendable, Equatable {
  /// The worker holding the lease.
  public var holder: String
  public var expiresAt: Date

  public init(holder: String, expiresAt: Date) {
    self.holder = holder
    self.expiresAt = expiresAt
  }
}

/// An S3 multipart upload a run started and has not completed or aborted: kept with the job from before the
/// first part is sent, so when the run dies mid-upload (a crash, SIGKILL) the next one aborts it, and its parts
/// do not stay in the bucket, costing storage, for ever.
public struct OpenUpload: Sendable, Equatable, Codable {
  public var bucket: String
  public var key: String
  public var uploadID: String

  public init(bucket: String, key: String, uploadID: String) {
    self.bucket = bucket
    self.key = key
    self.uploadID = uploadID
  }
}

/// A job as the store keeps it. Times are whole milliseconds (what every store can hold exactly).
public struct Job: Sendable, Equatable, Identifiable {
  public var id: UUID
  /// The app key that submitted the job; only it sees the job.
  public var owner: String
  /// The path the job was posted to (`/media/enhance`).
  public var path: String
  /// The request body, sealed with AES-256-GCM (`RequestCipher`): it carries credentials.
  public var sealedRequest: [UInt8]
  /// A keyed digest of the request body as posted (`RequestCipher.digest`), to recognise an identical re-POST.
  public var requestDigest: String
  /// The client's `Idempotency-Key`, if it sent one.
  public var idempotencyKey: String?
  public var status: JobStatus
  public var phase: JobPhase
  /// Overall progress, 0-100.
  public var progress: Int
  /// Bytes done and expected in the current transfer.
  public var bytesDone: Int64
  public var bytesTotal: Int64?
  /// Media duration in seconds; 0 until known.
  public var duration: Double
  public var submittedAt: Date
  public var startedAt: Date?
  public var completedAt: Date?
  /// When the job and its records are deleted (submission + retention).
  public var expiresAt: Date
  /// The earliest expiry among the job's outputs; nil when no output expires.
  public var deadline: Date?
  /// A pending job is not taken before this (backoff after a retryable failure).
  public var notBefore: Date
  /// The number of the current or last attempt (0 before the first).
  public var attempt: Int
  /// Attempts that did not finish the job.
  public var attempts: [JobAttempt]
  public var lease: JobLease?
  /// A cancel arrived while the job ran; the worker stops it and ends it `Cancelled`.
  public var cancelRequested: Bool
  /// The result JSON text, on success.
  public var result: String?
  public var error: JobError?
  /// The request has an `on_complete` callback (in the sealed request): the store owes it a delivery when
  /// the job ends.
  public var hasOnComplete: Bool
  /// Multipart uploads started by runs and not yet completed or aborted.
  public var openUploads: [OpenUpload]

  /// A new pending job.
  public init(
    id: UUID = UUID(), owner: String, path: String, sealedRequest: [UInt8], requestDigest: String,
    idempotencyKey: String? = nil, submittedAt: Date, retention: Duration, deadline: Date?, hasOnComplete: Bool = false
  ) {
    self.id = id
    self.owner = owner
    self.path = path
    self.sealedRequest = sealedRequest
    self.requestDigest = requestDigest
    self.idempotencyKey = idempotencyKey
    status = .pending
    phase = .queued
    progress = 0
    bytesDone = 0
    bytesTotal = nil
    duration = 0
    self.submittedAt = submittedAt.wholeMilliseconds
    startedAt = nil
    completedAt = nil
    expiresAt = (submittedAt + retention.seconds).wholeMilliseconds
    self.deadline = deadline?.wholeMilliseconds
    notBefore = self.submittedAt
    attempt = 0
    attempts = []
    lease = nil
    cancelRequested = false
    result = nil
    error = nil
    self.hasOnComplete = hasOnComplete
    openUploads = []
  }
}

extension Date {
  /// Milliseconds since 1970, rounded down.
  public var millisecondsSince1970: Int64 { Int64((timeIntervalSince1970 * 1000).rounded(.down)) }

  /// The date at `milliseconds` since 1970.
  public init(millisecondsSince1970 milliseconds: Int64) {
    self.init(timeIntervalSince1970: Double(milliseconds) / 1000)
  }

  /// This date rounded down to a whole millisecond.
  public var wholeMilliseconds: Date { Date(millisecondsSince1970: millisecondsSince1970) }
}
