import Foundation
import JSON
import Jobs
import Locations
import SQLiteStore
import TestSupport
import Testing

@testable import Media

/// Jobs queued by the release before typed specs (0.1.0 sealed the client's raw body) still run after the
/// upgrade. `Fixtures/jobs-0.1.0.db` was written by that release's own `JobService` and `SQLiteJobStore`
/// (master key 32 × 0x04, owner `app`): five pending jobs, one per operation and one with an `on_complete`.
@Suite(.serialized) struct UpgradeTests {
  static let fixture =
    URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/jobs-0.1.0.db").path

  @Test func jobsQueuedBeforeTypedSpecs_runToSuccess() async throws {
    let harness = try MediaHarness("upgrade", database: Self.fixture, start: false) {
      [
        EnhanceOperation(transfers: $0, tools: $1), AnalyzeOperation(transfers: $0, tools: $1),
        DiagnoseOperation(transfers: $0, tools: $1), TranscodeOperation(transfers: $0, tools: $1),
      ]
    }
    defer { harness.pool.stop() }
    try await harness.fixture(
      "in/speech.wav", ["-f", "lavfi", "-i", "sine=f=220:d=4:sample_rate=48000", "-af", "volume=-20dB"])
    let queued = try harness.store.list(JobQuery(owner: "app")).jobs
    #expect(queued.count == 5 && queued.allSatisfy { $0.status == .pending }, "\(queued.map(\.status))")

    try harness.pool.start()
    var ended: [String: [Job]] = [:]
    for job in queued {
      var stored = job
      for _ in 0..<1200 where !stored.status.isFinal {
        try await Task.sleep(for: .milliseconds(50))
        stored = try #require(try harness.store.job(id: job.id))
      }
      #expect(stored.status == .success, "\(stored.path): \(String(describing: stored.error))")
      ended[stored.path, default: []].append(stored)
    }
    for key in ["out/enhanced.wav", "out/called-back.wav", "out/analysis.json", "out/speech.mp3", "out/speech.flac"] {
      #expect(FileManager.default.fileExists(atPath: harness.storage.path(owner: "app", key: key)), "\(key)")
    }
    // The old bodies' settings were read, not defaulted: the region and metering mode, the peak reference.
    let analysis = try JSONValue.parse(Data(try #require(ended["/media/analyze"]?.first?.result).utf8))
    let region = analysis.object?["processed_region"]?.object
    #expect(region?["start"]?.number == 0.5 && region?["end"]?.number == 3)
    let enhanced = try #require(ended["/media/enhance"]).compactMap { $0.result }
    #expect(enhanced.contains { $0.contains(#""peak_reference":"sample""#) })
    #expect(try #require(await harness.probe("out/speech.mp3")).duration.map { abs($0 - 3) < 0.2 } == true)
  }

  @Test func onCompleteOfAJobQueuedBeforeTypedSpecs_isReadTyped() throws {
    let store = try SQLiteJobStore(path: Self.copy())
    let job = try #require(try store.list(JobQuery(owner: "app")).jobs.first { $0.hasOnComplete })
    let payload = try RequestCipher(masterKey: [UInt8](repeating: 4, count: 32)).open(job.sealedRequest, job: job.id)
    let callback = try #require(try StoredRequestFormat.onComplete(payload))
    #expect(callback.url == "https://hooks.example.com/done?token=abc")
    #expect(callback.headers.map(\.name) == ["x-job-id"] && callback.headers.map(\.value) == [.jobID])
  }

  /// A copy of the fixture to open (a store writes to its file).
  static func copy() throws -> String {
    let path = try makeTemporaryDirectory("ferry-upgrade") + "/ferry.db"
    try FileManager.default.copyItem(atPath: fixture, toPath: path)
    return path
  }
}
