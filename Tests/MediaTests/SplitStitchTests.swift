import Foundation
import Jobs
import TestSupport
import Testing

@testable import Media

@Suite struct SplitPlanTests {
  @Test func cuts_moveToTheNextKeyFrame_andEveryFrameIsInOnePiece() {
    // 10 s at 10 fps, a key frame every 1.5 s.
    let frames = (0..<100).map { Double($0) / 10 }
    let keys = stride(from: 0.0, to: 10, by: 1.5).map { $0 }
    let pieces = TranscodeSplit.plan(frameTimes: frames.reversed(), keyFrames: keys, pieceDuration: 4)
    // 4 s apart, then 2 s apart within the last 8 s.
    #expect(pieces.map(\.start) == [0, 4.5, 7.5, 9])
    #expect(pieces.map(\.frames) == [45, 30, 15, 10])
    #expect(abs(pieces.map(\.duration).reduce(0, +) - 10) < 1e-9)
    // One key frame only: nothing to split.
    #expect(TranscodeSplit.plan(frameTimes: frames, keyFrames: [0], pieceDuration: 4).isEmpty)
    // Variable frame rate, or video that starts after the input: one pass.
    var variable = frames
    variable[50] += 0.03
    #expect(TranscodeSplit.plan(frameTimes: variable, keyFrames: keys, pieceDuration: 4).isEmpty)
    #expect(TranscodeSplit.plan(frameTimes: frames.map { $0 + 0.5 }, keyFrames: keys, pieceDuration: 4).isEmpty)
  }

  @Test func probeListing_isReadRelativeToTheStart() {
    let text = "packet|pts_time=1.500000|flags=K__\npacket|pts_time=1.533333|flags=___\nformat|start_time=1.500000\n"
    let times = TranscodeSplit.frameTimes(fromProbe: text[...])
    #expect(times.frames.map { ($0 * 1e6).rounded() } == [0, 33333])
    #expect(times.keyFrames == [0])
  }

  @Test func pieceCommand_seeksJustBeforeItsKeyFrame_andCountsFrames() throws {
    let spec = try transcodeRequest(
      #"{"inputs": [{"source": "dlb://in.mp4"}], "outputs": [{"kind": "mp4", "destination": "dlb://o.mp4"}]}"#)
    #expect(TranscodeSplit.splittable(spec))
    let text = TranscodeSplit.pieceArguments(
      .init(start: 4, frames: 120, duration: 4), output: spec.outputs[0], input: "/w/input", file: "/w/p.mp4"
    ).joined(separator: " ")
    #expect(text.contains("-ss 3.999500 -protocol_whitelist file"))
    #expect(text.contains("-map 0:v:0 -an") && text.contains("-frames:v 120") && text.hasSuffix("-f mp4 /w/p.mp4"))
    let several = try transcodeRequest(
      #"{"inputs": [{"source": "dlb://a"}], "outputs": [{"kind": "mp4", "destination": "dlb://b"}, {"kind": "mp3", "destination": "dlb://c"}]}"#
    )
    #expect(!TranscodeSplit.splittable(several))
  }
}

/// Split and stitch on one node: the local workers (two, and the parent itself) encode the pieces of a 24 s
/// video cut every 4 s, every 2 s within the last 8 s (at its 1 s key frames): 8 pieces.
@Suite(.serialized) struct SplitStitchTests {
  static let settings = SplitSettings(minDuration: 10, pieceDuration: 4)
  let harness = try! MediaHarness(
    "split", tools: MediaTools(version: "test", split: SplitStitchTests.settings), concurrency: 2
  ) {
    [TranscodeOperation(transfers: $0, tools: $1), TranscodePieceOperation(transfers: $0, tools: $1)]
  }
  static let body =
    #"{"inputs": [{"source": "dlb://in/long.mp4"}], "outputs": [{"kind": "mp4", "destination": "dlb://out/long.mp4"}]}"#

  func makeInput() async throws -> String {
    try await harness.fixture(
      "in/long.mp4",
      [
        "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=30:duration=24", "-f", "lavfi", "-i",
        "sine=f=440:sample_rate=48000:duration=24", "-c:v", "libx264", "-preset", "ultrafast", "-g", "30",
        "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest",
      ])
  }

  @Test(.timeLimit(.minutes(2)))
  func aPieceKilledOnce_isRetriedAlone_andTheOutputMatchesTheOnePassEncode() async throws {
    let input = try await makeInput()
    let job = try await harness.submit("/media/transcode", Self.body)
    // Kill the ffmpeg of piece 3 once: "stopped by a signal" is the server's trouble, retried.
    let killed = try await killOnce(matching: "/piece-100-2.mp4")
    #expect(killed, "piece 3's ffmpeg was seen and killed")
    let ended = try await waitForEnd(job.id)
    #expect(ended.status == .success, "\(String(describing: ended.error))")
    #expect(ended.attempt == 1)
    let pieces = (0..<8).map { SubJobs.id(parent: job.id, run: 100, index: $0) }
    let attempts = try pieces.map { try #require(try harness.store.job(id: $0)).attempt }
    #expect(attempts == [1, 1, 2, 1, 1, 1, 1, 1], "only the killed piece ran twice: \(attempts)")
    #expect(try harness.store.job(id: SubJobs.id(parent: job.id, run: 100, index: 8)) == nil)

    // The by-hand one-pass encode with the same settings.
    let spec = try transcodeRequest(Self.body)
    let reference = harness.directory + "/reference"
    try FileManager.default.createDirectory(atPath: reference, withIntermediateDirectories: true)
    let exit = try await blocking {
      try ProcessRunner().run("ffmpeg", TranscodeCommand.arguments(spec, input: input, directory: reference))
    }
    #expect(exit.status == 0, "\(exit.stderr)")
    let output = harness.storage.path(owner: "app", key: "out/long.mp4")
    let split = try await StitchMeasure.streams(output)
    let onePass = try await StitchMeasure.streams(reference + "/output-0.mp4")
    let frame = 1.0 / 30
    print(
      "split and stitch, 24 s in 8 pieces: frames \(split.frames) (one pass \(onePass.frames)), video "
        + "\(split.videoDuration) s (\(onePass.videoDuration)), A/V start offset \(split.offset) s (\(onePass.offset))")
    #expect(split.frames == onePass.frames && split.frames == 720)
    #expect(abs(split.videoDuration - onePass.videoDuration) <= frame)
    #expect(abs(split.offset - onePass.offset) <= frame)
    #expect(abs(split.audioDuration - onePass.audioDuration) <= frame)
    let psnr = try await StitchMeasure.psnr(output, reference + "/output-0.mp4")
    print("split and stitch PSNR against the one-pass encode: \(psnr) dB")
    #expect(psnr >= 35)
  }

  @Test(.timeLimit(.minutes(2)))
  func cancellingTheJob_stopsEveryPieceWithinTwoSeconds() async throws {
    _ = try await makeInput()
    let job = try await harness.submit(
      "/media/transcode", Self.body.replacingOccurrences(of: "out/long", with: "out/c"))
    // Wait for a piece's ffmpeg, then cancel the parent.
    var seen = false
    for _ in 0..<2000 where !seen {
      let stored = try harness.store.job(id: SubJobs.id(parent: job.id, run: 100, index: 0))
      seen =
        stored != nil && !StitchMeasure.processes(containing: harness.directory + "/work/", named: "ffmpeg").isEmpty
      if !seen { try await Task.sleep(for: .milliseconds(5)) }
    }
    #expect(seen, "a piece ran")
    let asked = Date()
    _ = try await harness.pool.cancel(id: job.id)
    var gone: Double?
    while Date() < asked + 5 {
      if StitchMeasure.processes(containing: harness.directory + "/work/", named: "ff").isEmpty {
        gone = Date().timeIntervalSince(asked)
        break
      }
      try await Task.sleep(for: .milliseconds(10))
    }
    print("split and stitch cancel: every ffmpeg gone \(gone.map { String($0) } ?? "never") s after the cancel")
    #expect(gone.map { $0 <= 2 } == true)
    let ended = try await waitForEnd(job.id)
    #expect(ended.status == .cancelled)
    // No piece stays queued or running, and none starts later.
    try await Task.sleep(for: .milliseconds(500))
    #expect(StitchMeasure.processes(containing: harness.directory + "/work/", named: "ff").isEmpty)
    for index in 0..<8 {
      let piece = try harness.store.job(id: SubJobs.id(parent: job.id, run: 100, index: index))
      #expect(piece.map { $0.status.isFinal } ?? true, "piece \(index): \(String(describing: piece?.status))")
    }
  }

  @Test(.timeLimit(.minutes(2)))
  func aRunStoppedByAShutdown_runsAgainWithNewPieces() async throws {
    _ = try await makeInput()
    let job = try await harness.submit(
      "/media/transcode", Self.body.replacingOccurrences(of: "out/long", with: "out/s"))
    var stored = false
    for _ in 0..<2000 where !stored {
      stored = try harness.store.job(id: SubJobs.id(parent: job.id, run: 100, index: 5)) != nil
      if !stored { try await Task.sleep(for: .milliseconds(5)) }
    }
    #expect(stored, "the first run stored its pieces")
    // The shutdown puts the job back in the queue without spending its attempt: the next run is attempt 1 again.
    harness.pool.stop()
    let restarted = WorkerPool(
      store: harness.store, work: OperationRouter(Array(harness.operations.values)),
      cipher: RequestCipher(masterKey: [UInt8](repeating: 4, count: 32)),
      settings: .init(
        concurrency: 2, workRoot: harness.directory + "/work", pollInterval: .milliseconds(100),
        retryBackoff: .milliseconds(20)),
      logger: .discarding)
    try restarted.start()
    defer { restarted.stop() }
    let ended = try await waitForEnd(job.id)
    #expect(ended.status == .success, "\(String(describing: ended.error))")
    #expect(ended.attempt == 1 && ended.attempts.isEmpty)
    let first = try (0..<8).map { try harness.store.job(id: SubJobs.id(parent: job.id, run: 100, index: $0)) }
    let second = try (0..<8).map { try harness.store.job(id: SubJobs.id(parent: job.id, run: 101, index: $0)) }
    #expect(first.allSatisfy { $0?.status.isFinal == true }, "\(first.map { $0?.status })")
    #expect(second.allSatisfy { $0?.status == .success }, "\(second.map { $0?.status })")
  }

  func waitForEnd(_ id: UUID) async throws -> Job {
    for _ in 0..<1200 {
      if let stored = try harness.store.job(id: id), stored.status.isFinal { return stored }
      try await Task.sleep(for: .milliseconds(50))
    }
    throw RawHTTPClient.ClientError(description: "the job did not end in 60 s")
  }

  /// SIGKILLs the first ffmpeg under the harness's work directory whose command line contains `marker`, once.
  func killOnce(matching marker: String) async throws -> Bool {
    for _ in 0..<6000 {
      if let process = StitchMeasure.processes(containing: harness.directory + "/work/", named: "ffmpeg").first(
        where: { $0.command.contains(marker) })
      {
        kill(process.pid, SIGKILL)
        return true
      }
      try await Task.sleep(for: .milliseconds(2))
    }
    return false
  }
}

/// Measurements of split-and-stitch outputs (shared with the cluster test).
enum StitchMeasure {
  struct Streams {
    var frames: Int
    var videoDuration: Double
    var audioDuration: Double
    /// Audio start minus video start.
    var offset: Double
  }

  /// Frame count, stream durations and the A/V start offset of `path`, as ffprobe reads them.
  static func streams(_ path: String) async throws -> Streams {
    let exit = try await blocking {
      var text = ""
      let exit = try ProcessRunner().run(
        "ffprobe",
        [
          "-v", "error", "-count_packets", "-show_entries", "stream=codec_type,nb_read_packets,start_time,duration",
          "-of", "compact", path,
        ]
      ) { text += $0 + "\n" }
      return (exit, text)
    }
    var streams: [String: [String: String]] = [:]
    for line in exit.1.split(separator: "\n") {
      var fields: [String: String] = [:]
      for field in line.split(separator: "|").dropFirst() {
        let parts = field.split(separator: "=", maxSplits: 1).map(String.init)
        if parts.count == 2 { fields[parts[0]] = parts[1] }
      }
      if let type = fields["codec_type"], streams[type] == nil { streams[type] = fields }
    }
    let video = streams["video"] ?? [:]
    let audio = streams["audio"] ?? [:]
    func number(_ fields: [String: String], _ key: String) -> Double { Double(fields[key] ?? "") ?? .nan }
    return Streams(
      frames: Int(video["nb_read_packets"] ?? "") ?? -1, videoDuration: number(video, "duration"),
      audioDuration: number(audio, "duration"), offset: number(audio, "start_time") - number(video, "start_time"))
  }

  /// The average PSNR (dB, all planes) of `path` against `reference`.
  static func psnr(_ path: String, _ reference: String) async throws -> Double {
    let exit = try await blocking {
      try ProcessRunner().run(
        "ffmpeg",
        ["-hide_banner", "-nostdin", "-i", path, "-i", reference, "-lavfi", "[0:v][1:v]psnr", "-f", "null", "-"])
    }
    guard let range = exit.stderr.range(of: "average:") else { return .nan }
    return Double(exit.stderr[range.upperBound...].prefix { !$0.isWhitespace }) ?? .infinity
  }

  /// The processes whose executable name starts with `name` and whose command line contains `marker`.
  static func processes(containing marker: String, named name: String) -> [(pid: Int32, command: String)] {
    let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
    var found: [(Int32, String)] = []
    for entry in entries {
      guard let pid = Int32(entry),
        let data = FileManager.default.contents(atPath: "/proc/\(entry)/cmdline"), !data.isEmpty
      else { continue }
      let parts = data.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
      guard let executable = parts.first, (executable as NSString).lastPathComponent.hasPrefix(name) else { continue }
      let command = parts.joined(separator: " ")
      if command.contains(marker) { found.append((pid, command)) }
    }
    return found
  }
}
