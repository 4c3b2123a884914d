import Foundation
import JSON
import Jobs
import TestSupport
import Testing

@testable import API

/// Every shape a client sees of a job (a GET's status envelope, a webhook's body, a listing item), rendered
/// for representative jobs and compared byte for byte with the files in `Golden/`, which are checked against
/// openapi.yaml. `FERRY_RECORD_GOLDEN=1` writes the files instead (then review the diff: clients see it).
@Suite struct JobEnvelopeGoldenTests {
  static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Golden")

  @Test func everyRenderedShape_isByteForByteItsGoldenFile() throws {
    let documents = try Self.documents()
    if ProcessInfo.processInfo.environment["FERRY_RECORD_GOLDEN"] == "1" {
      try FileManager.default.createDirectory(at: Self.directory, withIntermediateDirectories: true)
      for (name, bytes) in documents {
        try Data(bytes + [UInt8(ascii: "\n")]).write(to: Self.directory.appendingPathComponent(name))
      }
      Issue.record("golden files written to \(Self.directory.path): review them, then run without FERRY_RECORD_GOLDEN")
      return
    }
    for (name, bytes) in documents {
      let file = try #require(
        FileManager.default.contents(atPath: Self.directory.appendingPathComponent(name).path), "no Golden/\(name)")
      // Stored with a final newline, for diffs; the body itself has none.
      #expect(String(decoding: bytes, as: UTF8.self) + "\n" == String(decoding: file, as: UTF8.self), "\(name)")
    }
    let stored = try FileManager.default.contentsOfDirectory(atPath: Self.directory.path).filter {
      $0.hasSuffix(".json")
    }
    #expect(Set(stored) == Set(documents.map(\.name)), "a golden file no test renders, or one not checked in")
  }

  @Test func everyGoldenFile_followsOpenAPIsSchema_andDeclaresEveryField() throws {
    let names = try FileManager.default.contentsOfDirectory(atPath: Self.directory.path).filter {
      $0.hasSuffix(".json")
    }
    try #require(!names.isEmpty)
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments =
      ["python3", S3Peers.packageRoot + "/scripts/check-job-json.py", S3Peers.packageRoot + "/openapi.yaml"]
      + names.sorted().map { Self.directory.appendingPathComponent($0).path }
    let output = Pipe()
    process.standardOutput = output
    process.standardError = output
    try process.run()
    let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    // 3: no openapi-schema-validator or PyYAML in this python3 (make test puts .venv/bin, which has them, on PATH).
    if process.terminationStatus == 3 {
      try Test.cancel("schema check skipped: \(text.trimmingCharacters(in: .whitespacesAndNewlines))")
    }
    #expect(process.terminationStatus == 0, "\(text)")
  }

  /// The documents, named `<shape>-<job>.json` (the schema check picks the schema by the shape).
  static func documents() throws -> [(name: String, bytes: [UInt8])] {
    let jobs = try Examples()
    return [
      ("status-pending.json", JobStatusView(jobs.pending, deliveries: []).envelope),
      ("status-running.json", JobStatusView(jobs.running, deliveries: []).envelope),
      ("status-success.json", JobStatusView(jobs.success, deliveries: [jobs.delivered]).envelope),
      ("status-failed.json", JobStatusView(jobs.failed, deliveries: jobs.retried).envelope),
      ("status-cancelled.json", JobStatusView(jobs.cancelled, deliveries: []).envelope),
      ("webhook-success.json", JobStatusView(jobs.success, deliveries: nil).envelope),
      ("webhook-failed.json", JobStatusView(jobs.failed, deliveries: nil).envelope),
      ("list-pending.json", Array(JobStatusView(jobs.pending, deliveries: nil).listItem.description.utf8)),
      ("list-running.json", Array(JobStatusView(jobs.running, deliveries: nil).listItem.description.utf8)),
      ("list-success.json", Array(JobStatusView(jobs.success, deliveries: nil).listItem.description.utf8)),
      ("list-failed.json", Array(JobStatusView(jobs.failed, deliveries: nil).listItem.description.utf8)),
    ]
  }

  /// Jobs taken through their transitions at fixed times, with fixed ids.
  struct Examples {
    static let start = Date(millisecondsSince1970: 1_786_012_345_678)
    var pending, running, success, failed, cancelled: Job
    var delivered: Delivery
    var retried: [Delivery]

    init() throws {
      let start = Self.start
      func job(_ id: String, _ path: String) -> Job {
        Job(
          id: UUID(text: id)!, owner: "app", path: path, sealedRequest: [1], requestDigest: "d", submittedAt: start,
          retention: .seconds(86_400 * 7), deadline: nil)
      }
      pending = job("0f5e2c1a-1b2c-4d3e-8f40-5a6b7c8d9e01", "/media/enhance")

      running = job("0f5e2c1a-1b2c-4d3e-8f40-5a6b7c8d9e02", "/media/transcode")
      try running.claim(worker: "w", now: start + 1.25, lease: .seconds(30))
      try running.report(
        worker: "w", now: start + 3, lease: .seconds(30), phase: .downloading, progress: 37, bytesDone: 1_048_576,
        bytesTotal: 4_194_304)

      success = job("0f5e2c1a-1b2c-4d3e-8f40-5a6b7c8d9e03", "/media/analyze")
      success.duration = 61.2
      try success.claim(worker: "w", now: start + 2, lease: .seconds(30))
      // Stored compact by the store, embedded as it is: the numbers, escapes and non-ASCII stay as written.
      try success.finish(
        .success(
          result:
            #"{"media_info":{"container":{"duration":61.2,"kind":"wav"},"tracks":[1,2.50,-3e2]},"note":"caf\u00e9 \"ok\" é","loudness":null}"#
        ), worker: "w", now: start + 64.5, maxAttempts: 3)
      delivered = Delivery(
        jobID: success.id, owner: "app", target: .onComplete, createdAt: start + 64.5,
        attempts: [DeliveryAttempt(at: start + 64.75, url: "https://hooks.example/done?token=REDACTED", status: 204)])

      failed = job("0f5e2c1a-1b2c-4d3e-8f40-5a6b7c8d9e04", "/media/enhance")
      try failed.claim(worker: "w", now: start + 1, lease: .seconds(30))
      let refused = JobError(
        type: "/problems/input-file-access", title: "Input file access",
        detail: "input.url: the source answered 503 \"busy\"\nretrying")
      try failed.finish(.retry(refused, delay: .seconds(5)), worker: "w", now: start + 2.5, maxAttempts: 2)
      try failed.claim(worker: "w", now: start + 8, lease: .seconds(30))
      let gone = JobError(
        type: "/problems/input-file-access", title: "Input file access",
        detail: "input.url: the source answered 404 (\u{01}\u{7F}\t\\ ü)")
      try failed.finish(.retry(gone, delay: .seconds(5)), worker: "w", now: start + 9.125, maxAttempts: 2)
      // Two deliveries whose attempts interleave: the envelope lists them all, oldest first.
      retried = [
        Delivery(
          jobID: failed.id, owner: "app", target: .webhook(UUID(), sealedCallback: []), createdAt: start + 9.125,
          attempts: [
            DeliveryAttempt(
              at: start + 9.5, url: "https://hooks.example/a", status: nil, error: "timed out after 15 s"),
            DeliveryAttempt(at: start + 20, url: "https://hooks.example/a", status: 500, error: "answered 500"),
          ]),
        Delivery(
          jobID: failed.id, owner: "app", target: .onComplete, createdAt: start + 9.125,
          attempts: [DeliveryAttempt(at: start + 10, url: "http://user-free.example:8080/b?sig=REDACTED", status: 200)]),
      ]

      cancelled = job("0f5e2c1a-1b2c-4d3e-8f40-5a6b7c8d9e05", "/media/diagnose")
      _ = cancelled.cancel(now: start + 0.5)
    }
  }
}
