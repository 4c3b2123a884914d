import Foundation
import JSON
import Locations

/// An app's registered webhook (`/media/webhooks`, one per app key): called when any of the app's jobs ends.
public struct Webhook: Sendable, Equatable {
  public var id: UUID
  public var owner: String
  /// The callback's JSON (`{url, headers?}`), sealed under `id` (`RequestCipher.seal(_:job:)`): its headers
  /// may carry the receiver's credentials.
  public var sealedCallback: [UInt8]

  public init(id: UUID, owner: String, sealedCallback: [UInt8]) {
    self.id = id
    self.owner = owner
    self.sealedCallback = sealedCallback
  }
}

/// A webhook call owed for an ended job: a row of the durable outbox. The store adds one per target when a
/// job ends (in the same transaction), so a crash can neither lose it nor make it up.
public struct Delivery: Sendable, Equatable, Identifiable {
  public enum Target: Sendable, Equatable {
    /// The app's registered webhook as it was when the job ended: its callback sealed under `webhook`.
    case webhook(UUID, sealedCallback: [UInt8])
    /// The job's own `on_complete`, read from its sealed request.
    case onComplete
  }

  public enum State: String, Sendable, Equatable, CaseIterable {
    /// Not delivered yet; tried again at `nextAttemptAt`.
    case pending
    /// A receiver answered 2xx.
    case delivered
    /// Given up: retries ran out, or the URL can never be called (refused address, unreadable callback).
    case failed
  }

  /// The `webhook-id` header: the same for every attempt, so receivers can drop duplicates.
  public var id: UUID
  public var jobID: UUID
  public var owner: String
  public var target: Target
  /// When the job ended (retries stop `webhooks.retry_for_s` after this).
  public var createdAt: Date
  public var nextAttemptAt: Date
  public var state: State
  public var attempts: [DeliveryAttempt]

  public init(
    id: UUID = UUID(), jobID: UUID, owner: String, target: Target, createdAt: Date, nextAttemptAt: Date? = nil,
    state: State = .pending, attempts: [DeliveryAttempt] = []
  ) {
    self.id = id
    self.jobID = jobID
    self.owner = owner
    self.target = target
    self.createdAt = createdAt.wholeMilliseconds
    self.nextAttemptAt = (nextAttemptAt ?? createdAt).wholeMilliseconds
    self.state = state
    self.attempts = attempts
  }
}

/// How one delivery attempt ended, for metrics: delivered, to be tried again, or given up.
public enum DeliveryOutcome: String, Sendable, CaseIterable {
  case delivered, retrying, failed
}

/// One attempt to deliver, as the job's GET shows it (`deliveries`).
public struct DeliveryAttempt: Sendable, Equatable, Codable {
  public var at: Date
  /// The receiver's URL, redacted (no user-info, no secret query values).
  public var url: String
  /// The receiver's HTTP status; nil when there was no answer.
  public var status: Int?
  /// Why the attempt failed, when it did; never a secret.
  public var error: String?

  public init(at: Date, url: String, status: Int?, error: String? = nil) {
    self.at = at.wholeMilliseconds
    self.url = url
    self.status = status
    self.error = error
  }
}

/// Where and how to call back: a webhook registration's `callback` or a job's `on_complete`.
public struct Callback: Sendable, Equatable {
  public var url: String
  /// Header names and values to send; a name given in list form has a value Ferry fills in (`x-job-id`).
  public var headers: [(name: String, value: Value)]
  /// `on_complete.body`: sent instead of the job's status envelope (a string as it is, anything else as JSON).
  public var body: JSONValue?

  public enum Value: Sendable, Equatable {
    case text(String)
    case jobID
  }

  public static func == (a: Callback, b: Callback) -> Bool {
    a.url == b.url && a.body == b.body && a.headers.map(\.name) == b.headers.map(\.name)
      && a.headers.map(\.value) == b.headers.map(\.value)
  }

  /// Names Ferry fills in when a client lists them without values.
  public static let fillable = ["x-job-id"]
  /// Headers Ferry sets itself, which a callback may not name.
  static let reserved: Set<String> = [
    "host", "content-type", "content-length", "transfer-encoding", "connection", "expect", "te", "upgrade",
    "webhook-id", "webhook-timestamp", "webhook-signature", "user-agent",
  ]
  static let maxURLBytes = 2048
  static let maxHeaders = 32
  static let maxHeaderValueBytes = 4096
  static let maxBodyBytes = 65536

  /// Checks a callback object (`field` names it in errors: `on_complete`, `callback`). `allowBody` is true for
  /// `on_complete` only.
  public static func parse(_ value: JSONValue, field: String, allowBody: Bool) throws(InvalidRequest) -> Callback {
    guard let object = value.object else { throw InvalidRequest(field, "expected an object, got \(value.typeName)") }
    guard let urlValue = object["url"] else { throw InvalidRequest("\(field).url", "is required") }
    guard let url = urlValue.string else {
      throw InvalidRequest("\(field).url", "expected a string, got \(urlValue.typeName)")
    }
    try checkURL(url, field: "\(field).url")
    var headers: [(name: String, value: Value)] = []
    switch object["headers"] {
    case nil, .null?: break
    case .object(let members)?:
      for name in members.keys.sorted() {
        let headerField = "\(field).headers.\(name)"
        try checkName(name, field: headerField)
        guard let text = members[name]!.string else {
          throw InvalidRequest(headerField, "expected a string, got \(members[name]!.typeName)")
        }
        guard text.utf8.count <= maxHeaderValueBytes,
          !text.utf8.contains(where: { $0 < 0x20 && $0 != 0x09 || $0 == 0x7F })
        else {
          throw InvalidRequest(headerField, "must be at most \(maxHeaderValueBytes) bytes without control characters")
        }
        headers.append((name, .text(text)))
      }
    case .array(let names)?:
      for (index, item) in names.enumerated() {
        let headerField = "\(field).headers[\(index)]"
        guard let name = item.string else {
          throw InvalidRequest(headerField, "expected a string, got \(item.typeName)")
        }
        guard fillable.contains(name.lowercased()) else {
          throw InvalidRequest(headerField, "Ferry fills in only \(fillable.joined(separator: ", "))")
        }
        headers.append((name, .jobID))
      }
    case let other?:
      throw InvalidRequest("\(field).headers", "expected an object or a list of header names, got \(other.typeName)")
    }
    guard headers.count <= maxHeaders else { throw InvalidRequest("\(field).headers", "at most \(maxHeaders) headers") }
    var body: JSONValue?
    if let given = object["body"], given != .null {
      guard allowBody else { throw InvalidRequest("\(field).body", "is not supported here") }
      let text = given.string ?? given.description
      guard text.utf8.count <= maxBodyBytes else {
        throw InvalidRequest("\(field).body", "must be at most \(maxBodyBytes) bytes")
      }
      body = given
    }
    return Callback(url: url, headers: headers, body: body)
  }

  static func checkURL(_ url: String, field: String) throws(InvalidRequest) {
    guard url.utf8.count <= maxURLBytes else { throw InvalidRequest(field, "must be at most \(maxURLBytes) bytes") }
    guard !url.utf8.contains(where: { $0 <= 0x20 || $0 == 0x7F }) else {
      throw InvalidRequest(field, "must not contain spaces or control characters")
    }
    guard let components = URLComponents(string: url), let scheme = components.scheme?.lowercased() else {
      throw InvalidRequest(field, "not a URL")
    }
    guard scheme == "http" || scheme == "https" else {
      throw InvalidRequest(field, "unsupported scheme \"\(scheme)\" (http or https)")
    }
    guard let host = components.host, !host.isEmpty else { throw InvalidRequest(field, "the URL has no host") }
  }

  static func checkName(_ name: String, field: String) throws(InvalidRequest) {
    // RFC 9110 token characters.
    let token = Set("!#$%&'*+-.^_`|~".utf8)
    guard !name.isEmpty, name.utf8.count <= 256,
      name.utf8.allSatisfy({
        (0x30...0x39).contains($0) || (0x41...0x5A).contains($0) || (0x61...0x7A).contains($0) || token.contains($0)
      })
    else { throw InvalidRequest(field, "not a valid header name") }
    guard !reserved.contains(name.lowercased()) else { throw InvalidRequest(field, "is set by Ferry") }
  }

  /// The callback a client sees (`GET /media/webhooks`): header values hidden, they may be credentials.
  public var redactedJSON: JSONValue {
    var fields: [String: JSONValue] = ["url": .string(Redaction.url(url))]
    if !headers.isEmpty {
      if headers.allSatisfy({ $0.value == .jobID }) {
        fields["headers"] = .array(headers.map { .string($0.name) })
      } else {
        fields["headers"] = .object(
          Dictionary(headers.map { ($0.name, JSONValue.string(Redaction.mask)) }, uniquingKeysWith: { a, _ in a }))
      }
    }
    return .object(fields)
  }
}

extension Delivery {
  /// What a job owes as it ends: a call to the owner's registered webhook, and one to its own `on_complete`.
  public static func owed(by job: Job, webhook: Webhook?) -> [Delivery] {
    let ended = job.completedAt ?? Date()
    var owed: [Delivery] = []
    if let webhook {
      owed.append(
        Delivery(
          jobID: job.id, owner: job.owner, target: .webhook(webhook.id, sealedCallback: webhook.sealedCallback),
          createdAt: ended))
    }
    if job.hasOnComplete {
      owed.append(Delivery(jobID: job.id, owner: job.owner, target: .onComplete, createdAt: ended))
    }
    return owed
  }
}
