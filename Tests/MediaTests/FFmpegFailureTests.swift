import Foundation
import Jobs
import TestSupport
import Testing

@testable import Media

/// When ffmpeg fails for the server's own reasons, the job is tried again, and its error says what happened
/// without the server's paths and without promising a retry that will not come.
@Suite(.serialized) struct FFmpegFailureTests {
  /// An ffmpeg that fails as a full disk makes the real one fail: naming its output by its path in the work
  /// directory (a fault injected where a full disk cannot be made on demand).
  static func fullDiskFFmpeg() throws -> String {
    let path = try makeTemporaryDirectory("ferry-full-disk") + "/ffmpeg"
    let script = """
      #!/bin/sh
      for last; do :; done
      echo "[out#0/mp3] Error writing trailer of $last: No space left on device" >&2
      exit 1
      """
    try script.write(toFile: path, atomically: true, encoding: .utf8)
    try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: path)
    return path
  }

  @Test func aFullDisk_isRetried_thenTheErrorSaysSo_withoutTheServersPaths() async throws {
    let harness = try MediaHarness("full-disk", tools: MediaTools(ffmpeg: try Self.fullDiskFFmpeg())) {
      [TranscodeOperation(transfers: $0, tools: $1)]
    }
    defer { harness.pool.stop() }
    try await harness.fixture("in/tone.wav", ["-f", "lavfi", "-i", "sine=f=440:d=2:sample_rate=48000"])
    let job = try await harness.run(
      "/media/transcode",
      #"{"inputs": [{"source": "dlb://in/tone.wav"}], "outputs": [{"kind": "mp3", "destination": "dlb://out/t.mp3"}]}"#
    )
    let error = try #require(job.error)
    #expect(job.status == .failed && job.attempts.count == 3 && error.type == "/problems/processing-failed")
    #expect(error.detail.hasPrefix("ffmpeg stopped: the server ran out of disk space"), "\(error.detail)")
    #expect(error.detail.hasSuffix("; gave up after 3 attempts"), "\(error.detail)")
    #expect(!error.detail.contains(harness.directory) && !error.detail.contains("will be retried"))
    #expect(error.detail.contains("output-0.mp3: No space left on device"))
  }

  @Test func anInputWithMoreChannelsThan7_1_isRefusedUpFront_sayingWhy() async throws {
    let harness = try MediaHarness("channels") { [EnhanceOperation(transfers: $0, tools: $1)] }
    defer { harness.pool.stop() }
    // 32 copies of a tone merged into one stream: a layout ffmpeg has no name for.
    let split = (0..<32).map { "[s\($0)]" }.joined()
    try await harness.fixture(
      "in/many.wav",
      [
        "-f", "lavfi", "-i", "sine=f=440:d=2:sample_rate=48000", "-filter_complex",
        "[0]asplit=32\(split);\(split)amerge=inputs=32", "-c:a", "pcm_s16le",
      ])
    let job = try await harness.run("/media/enhance", #"{"input": "dlb://in/many.wav", "output": "dlb://out/m.wav"}"#)
    #expect(job.status == .failed && job.error?.type == "/problems/unsupported-media" && job.attempt == 1)
    #expect(job.error?.detail == "input: 32 audio channels; Ferry processes up to 8 (mono to 7.1): mix it down first")
  }
}
