import Foundation
import JSON
import Jobs
import Log

/// The JSON shapes of jobs on the wire (COMPAT.md): the status envelope of a job GET and a listing item.
public enum JobEnvelope {
  /// The Dolby API level Ferry speaks.
  static let apiVersion = "v1.1.2"

  /// `{"path","status","progress","api_version","result"?,"error"?}` plus Ferry's extra fields, as JSON
  /// bytes with sorted keys. Written directly: status polling is the hottest route, and building a tree of
  /// values to print it cost more than the lookup. `deliveries` nil leaves that field out (webhook payloads:
  /// every attempt of a delivery sends the same body).
  public static func status(_ job: Job, deliveries: [Delivery]?) -> [UInt8] {
    var out: [UInt8] = []
    out.reserveCapacity(320 + (job.result?.utf8.count ?? 0))
    // Literals are appended as static strings' bytes: no array is made for them.
    func key(_ name: StaticString, first: Bool = false) {
      if !first { out.append(UInt8(ascii: ",")) }
      out.append(UInt8(ascii: "\""))
      literal(name)
      out.append(UInt8(ascii: "\""))
      out.append(UInt8(ascii: ":"))
    }
    func literal(_ text: StaticString) {
      out.append(contentsOf: UnsafeBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
    }
    func string(_ value: String) { JSONText.appendString(value, to: &out) }
    out.append(UInt8(ascii: "{"))
    key("api_version", first: true)
    string(apiVersion)
    key("attempts")
    out.append(UInt8(ascii: "["))
    for (index, attempt) in job.attempts.enumerated() {
      if index > 0 { out.append(UInt8(ascii: ",")) }
      literal(#"{"at":"#)
      timestamp(attempt.at, to: &out)
      literal(#","attempt":"#)
      out.appendDecimal(attempt.attempt)
      literal(#","error":"#)
      string(attempt.error)
      out.append(UInt8(ascii: "}"))
    }
    out.append(UInt8(ascii: "]"))
    key("bytes_done")
    out.appendDecimal(Int(job.bytesDone))
    key("bytes_total")
    if let total = job.bytesTotal { out.appendDecimal(Int(total)) } else { literal("null") }
    if let deliveries {
      key("deliveries")
      out.append(UInt8(ascii: "["))
      var first = true
      for attempt in deliveries.flatMap(\.attempts).sorted(by: { $0.at < $1.at }) {
        if !first { out.append(UInt8(ascii: ",")) }
        first = false
        literal(#"{"at":"#)
        timestamp(attempt.at, to: &out)
        if let error = attempt.error {
          literal(#","error":"#)
          string(error)
        }
        literal(#","status":"#)
        if let status = attempt.status { out.appendDecimal(status) } else { literal("null") }
        literal(#","url":"#)
        string(attempt.url)
        out.append(UInt8(ascii: "}"))
      }
      out.append(UInt8(ascii: "]"))
    }
    if let error = job.error {
      key("error")
      literal(#"{"detail":"#)
      string(error.detail)
      literal(#","details":"#)
      string(error.detail)
      literal(#","title":"#)
      string(error.title)
      literal(#","type":"#)
      string(error.type)
      out.append(UInt8(ascii: "}"))
    }
    key("job_id")
    string(job.id.text)
    key("path")
    string(job.path)
    key("phase")
    string(job.phase.rawValue)
    key("progress")
    out.appendDecimal(job.progress)
    if let result = job.result {
      // Ferry's own JSON, stored compact and checked valid by the store: embedded as it is.
      key("result")
      out.appendUTF8(result)
    }
    key("status")
    string(job.status.rawValue)
    out.append(UInt8(ascii: "}"))
    return out
  }

  /// A `GET /media/jobs` item.
  static func listItem(_ job: Job) -> JSONValue {
    var fields: [String: JSONValue] = [
      "job_id": .string(job.id.text), "api_version": .string(apiVersion), "path": .string(job.path),
      "status": .string(job.status.rawValue), "progress": .int(job.progress), "duration": .double(job.duration),
      "time_submitted": .string(timestamp(job.submittedAt)), "expiry": .string(timestamp(job.expiresAt)),
    ]
    if let started = job.startedAt { fields["time_started"] = .string(timestamp(started)) }
    if let completed = job.completedAt { fields["time_completed"] = .string(timestamp(completed)) }
    return .object(fields)
  }

  /// `date` as a JSON string, ISO-8601 UTC with milliseconds.
  static func timestamp(_ date: Date, to out: inout [UInt8]) {
    out.append(UInt8(ascii: "\""))
    Timestamp.appendISO8601(date, to: &out)
    out.append(UInt8(ascii: "\""))
  }

  /// ISO-8601 UTC with milliseconds (`2021-08-10T05:16:31.494Z`).
  static func timestamp(_ date: Date) -> String {
    var bytes: [UInt8] = []
    Timestamp.appendISO8601(date, to: &bytes)
    return String(decoding: bytes, as: UTF8.self)
  }
}
