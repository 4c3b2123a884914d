import Foundation
import JSON
import Jobs
import Log

/// A job as clients see it (COMPAT.md): the one place a `Job` and its deliveries become the fields of the
/// status envelope (a job GET, a webhook's body) and of a listing item. Tests/FerryTests/Golden holds what
/// each shape looks like and checks it against openapi.yaml, which lists every field.
public struct JobStatusView: Sendable {
  /// The Dolby API level Ferry speaks.
  static let apiVersion = "v1.1.2"

  public let job: Job
  /// Every delivery attempt of the job's webhooks, oldest first; nil leaves the field out (webhook bodies:
  /// every attempt of a delivery sends the same body).
  public let deliveries: [DeliveryAttempt]?

  public init(_ job: Job, deliveries: [Delivery]?) {
    self.job = job
    self.deliveries = deliveries.map { $0.flatMap(\.attempts).sorted { $0.at < $1.at } }
  }

  /// `{"path","status","progress","api_version","result"?,"error"?}` plus Ferry's extra fields, as JSON
  /// bytes with sorted keys. Written straight to bytes, not through `JSONValue`: BENCHMARKS.md ("The status
  /// envelope's writer") has what building a tree of values would cost per status GET.
  public var envelope: [UInt8] {
    var out = JSONBytes(capacity: 320 + (job.result?.utf8.count ?? 0))
    out.open()
    out.key("api_version", first: true)
    out.string(Self.apiVersion)
    out.key("attempts")
    out.array(job.attempts) { out, attempt in
      out.literal(#"{"at":"#)
      out.timestamp(attempt.at)
      out.literal(#","attempt":"#)
      out.int(attempt.attempt)
      out.literal(#","error":"#)
      out.string(attempt.error)
      out.close()
    }
    out.key("bytes_done")
    out.int(Int(job.bytesDone))
    out.key("bytes_total")
    out.int(job.bytesTotal.map(Int.init))
    if let deliveries {
      out.key("deliveries")
      out.array(deliveries) { out, attempt in
        out.literal(#"{"at":"#)
        out.timestamp(attempt.at)
        if let error = attempt.error {
          out.literal(#","error":"#)
          out.string(error)
        }
        out.literal(#","status":"#)
        out.int(attempt.status)
        out.literal(#","url":"#)
        out.string(attempt.url)
        out.close()
      }
    }
    if let error = job.error {
      out.key("error")
      out.literal(#"{"detail":"#)
      out.string(error.detail)
      out.literal(#","details":"#)
      out.string(error.detail)
      out.literal(#","title":"#)
      out.string(error.title)
      out.literal(#","type":"#)
      out.string(error.type)
      out.close()
    }
    out.key("job_id")
    out.string(job.id.text)
    out.key("path")
    out.string(job.path)
    out.key("phase")
    out.string(job.phase.rawValue)
    out.key("progress")
    out.int(job.progress)
    if let result = job.result {
      // Ferry's own JSON, stored compact and checked valid by the store: embedded as it is.
      out.key("result")
      out.bytes.appendUTF8(result)
    }
    out.key("status")
    out.string(job.status.rawValue)
    out.close()
    return out.bytes
  }

  /// A `GET /media/jobs` item.
  var listItem: JSONValue {
    var fields: [String: JSONValue] = [
      "job_id": .string(job.id.text), "api_version": .string(Self.apiVersion), "path": .string(job.path),
      "status": .string(job.status.rawValue), "progress": .int(job.progress), "duration": .double(job.duration),
      "time_submitted": .string(Self.timestamp(job.submittedAt)), "expiry": .string(Self.timestamp(job.expiresAt)),
    ]
    if let started = job.startedAt { fields["time_started"] = .string(Self.timestamp(started)) }
    if let completed = job.completedAt { fields["time_completed"] = .string(Self.timestamp(completed)) }
    return .object(fields)
  }

  /// ISO-8601 UTC with milliseconds (`2021-08-10T05:16:31.494Z`).
  static func timestamp(_ date: Date) -> String {
    var bytes: [UInt8] = []
    Timestamp.appendISO8601(date, to: &bytes)
    return String(decoding: bytes, as: UTF8.self)
  }
}

/// JSON written straight to bytes, for the envelope: literals are appended as static strings' bytes, with no
/// array made for them.
struct JSONBytes {
  var bytes: [UInt8] = []

  init(capacity: Int) { bytes.reserveCapacity(capacity) }

  mutating func open() { bytes.append(UInt8(ascii: "{")) }
  mutating func close() { bytes.append(UInt8(ascii: "}")) }

  /// `"name":`, after a comma unless it is the object's first key.
  mutating func key(_ name: StaticString, first: Bool = false) {
    if !first { bytes.append(UInt8(ascii: ",")) }
    bytes.append(UInt8(ascii: "\""))
    literal(name)
    bytes.append(UInt8(ascii: "\""))
    bytes.append(UInt8(ascii: ":"))
  }

  mutating func literal(_ text: StaticString) {
    bytes.append(contentsOf: UnsafeBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
  }

  mutating func string(_ value: String) { JSONText.appendString(value, to: &bytes) }

  /// The number, or `null`.
  mutating func int(_ value: Int?) {
    if let value { bytes.appendDecimal(value) } else { literal("null") }
  }

  /// A JSON string, ISO-8601 UTC with milliseconds.
  mutating func timestamp(_ date: Date) {
    bytes.append(UInt8(ascii: "\""))
    Timestamp.appendISO8601(date, to: &bytes)
    bytes.append(UInt8(ascii: "\""))
  }

  /// `[...]`, each element written by `element`.
  mutating func array<Element>(_ elements: [Element], _ element: (inout JSONBytes, Element) -> Void) {
    bytes.append(UInt8(ascii: "["))
    for (index, value) in elements.enumerated() {
      if index > 0 { bytes.append(UInt8(ascii: ",")) }
      element(&self, value)
    }
    bytes.append(UInt8(ascii: "]"))
  }
}
