import Foundation
import JSON
import Jobs
import Log

/// The JSON shapes of jobs on the wire (COMPAT.md): the status envelope of a job GET and a listing item.
enum JobEnvelope {
  /// The Dolby API level Ferry speaks.
  static let apiVersion = "v1.1.2"

  /// `{"path","status","progress","api_version","result"?,"error"?}` plus Ferry's extra fields.
  static func status(_ job: Job) -> JSONValue {
    var fields: [String: JSONValue] = [
      "job_id": .string(job.id.uuidString.lowercased()),
      "path": .string(job.path), "status": .string(job.status.rawValue), "progress": .int(job.progress),
      "api_version": .string(apiVersion), "phase": .string(job.phase.rawValue), "bytes_done": .int(Int(job.bytesDone)),
      "bytes_total": job.bytesTotal.map { .int(Int($0)) } ?? .null,
      "attempts": .array(
        job.attempts.map { attempt in
          .object([
            "at": .string(timestamp(attempt.at)), "attempt": .int(attempt.attempt), "error": .string(attempt.error),
          ])
        }),
      "deliveries": .array([]),
    ]
    if let result = job.result {
      fields["result"] = (try? JSONValue.parse(Data(result.utf8))) ?? .object([:])
    }
    if let error = job.error {
      fields["error"] = .object([
        "type": .string(error.type), "title": .string(error.title), "detail": .string(error.detail),
        "details": .string(error.detail),
      ])
    }
    return .object(fields)
  }

  /// A `GET /media/jobs` item.
  static func listItem(_ job: Job) -> JSONValue {
    var fields: [String: JSONValue] = [
      "job_id": .string(job.id.uuidString.lowercased()), "api_version": .string(apiVersion), "path": .string(job.path),
      "status": .string(job.status.rawValue), "progress": .int(job.progress), "duration": .double(job.duration),
      "time_submitted": .string(timestamp(job.submittedAt)), "expiry": .string(timestamp(job.expiresAt)),
    ]
    if let started = job.startedAt { fields["time_started"] = .string(timestamp(started)) }
    if let completed = job.completedAt { fields["time_completed"] = .string(timestamp(completed)) }
    return .object(fields)
  }

  /// ISO-8601 UTC with milliseconds (`2021-08-10T05:16:31.494Z`).
  static func timestamp(_ date: Date) -> String {
    var bytes: [UInt8] = []
    Timestamp.appendISO8601(date, to: &bytes)
    return String(decoding: bytes, as: UTF8.self)
  }
}
