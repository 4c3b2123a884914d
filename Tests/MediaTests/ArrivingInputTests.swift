import Foundation
import Jobs
import Log
import TestSupport
import Testing
import Transfer

@testable import Media

/// Processing that overlaps the download (issue 20): which containers are read as they arrive, ffmpeg
/// starting before the last byte with the same output as after it, a download that fails or resumes under
/// ffmpeg, and an MP4 whose index is at the end taking the old path.
@Suite(.serialized) struct ArrivingInputTests {
  let harness: MediaHarness

  init() throws {
    harness = try MediaHarness(
      "arriving",
      client: TransferClient(
        policy: try NetworkPolicy(allow: ["127.0.0.1/32"]),
        settings: TransferSettings(maxAttempts: 2, initialBackoff: .milliseconds(10)))
    ) { transfers, tools in [TranscodeOperation(transfers: transfers, tools: tools)] }
  }

  // MARK: Which containers

  @Test func theFirstBytes_sayWhichContainersAreReadAsTheyArrive() async throws {
    defer { harness.pool.stop() }
    func inspect(_ bytes: [UInt8], total: Int64? = nil) -> ArrivingFormat {
      ArrivingFormat.inspect(bytes, total: total)
    }
    let wav = Array("RIFF\u{0}\u{0}\u{0}\u{0}WAVEfmt ".utf8)
    #expect(inspect(wav) == .readable(demuxer: "wav", head: 64 << 10))
    #expect(inspect(wav, total: 1000) == .readable(demuxer: "wav", head: 1000))
    #expect(
      inspect(Array("fLaC".utf8) + [UInt8](repeating: 0, count: 30)) == .readable(demuxer: "flac", head: 64 << 10))
    // MP3 frames (MPEG-1 layer III), after an ID3v2 tag or not; ADTS AAC (layer 0) is not MP3.
    let frame: [UInt8] = [0xFF, 0xFB, 0x90, 0x64] + [UInt8](repeating: 0, count: 60)
    #expect(inspect(frame) == .readable(demuxer: "mp3", head: 64 << 10))
    let tag = Array("ID3".utf8) + [4, 0, 0, 0, 0, 1, 0] + [UInt8](repeating: 0, count: 128)
    #expect(inspect(tag + frame) == .readable(demuxer: "mp3", head: 138 + (64 << 10)))
    #expect(inspect(Array(frame.prefix(20))) == .needs(bytes: 48))
    // An MP3 with a LAME/Xing "Info" tag: ffmpeg trims its end padding only from a file.
    let info = Array(frame.prefix(36)) + Array("Info".utf8) + [UInt8](repeating: 0, count: 20)
    #expect(inspect(info) == .whole("an MP3 with a Xing/Info tag (ffmpeg trims its end padding only from a file)"))
    #expect(inspect(Array(tag.prefix(20))) == .needs(bytes: 142))
    #expect(
      inspect([0xFF, 0xF1, 0x50, 0x80] + [UInt8](repeating: 0, count: 20))
        == .whole("the container is not one Ferry reads as it arrives"))
    var ts = [UInt8](repeating: 0xFF, count: 400)
    (ts[0], ts[188], ts[376]) = (0x47, 0x47, 0x47)
    #expect(inspect(ts) == .readable(demuxer: "mpegts", head: 1 << 20))
    #expect(inspect(Array(ts.prefix(100))) == .needs(bytes: 377))
    #expect(
      inspect(Array("OggS".utf8) + [UInt8](repeating: 0, count: 20))
        == .whole("the container is not one Ferry reads as it arrives"))

    // MP4s as ffmpeg writes them: the index at the end by default, first with +faststart.
    let end = try await harness.fixture("mp4/end.m4a", ["-f", "lavfi", "-i", "sine=d=2", "-c:a", "aac"])
    let first = try await harness.fixture(
      "mp4/first.m4a", ["-f", "lavfi", "-i", "sine=d=2", "-c:a", "aac", "-movflags", "+faststart"])
    let endBytes = Array(try Data(contentsOf: URL(fileURLWithPath: end)))
    let firstBytes = Array(try Data(contentsOf: URL(fileURLWithPath: first)))
    #expect(inspect(endBytes, total: Int64(endBytes.count)) == .whole("the MP4's index comes after its media"))
    guard case .needs(let more) = inspect(Array(endBytes.prefix(20))), more > 20 else {
      Issue.record("the boxes after ftyp are waited for")
      return
    }
    guard case .readable("mov", let head) = inspect(firstBytes, total: Int64(firstBytes.count)) else {
      Issue.record("a faststart MP4 is read as it arrives")
      return
    }
    #expect(head > 100 && head < Int64(firstBytes.count) / 2, "the head ends with the index: \(head)")
  }

  @Test func ffmpegsArguments_readTheSocketInsteadOfTheFile() {
    defer { harness.pool.stop() }
    let arguments = [
      "-nostdin", "-protocol_whitelist", "file", "-format_whitelist", "wav,mp3", "-i", "/w/input", "/w/o.mp3",
    ]
    #expect(
      ArrivingInput.arriving(arguments, input: "/w/input", demuxer: "wav")
        == [
          "-nostdin", "-protocol_whitelist", "pipe", "-format_whitelist", "wav,mp3", "-f", "wav", "-i", "pipe:0",
          "/w/o.mp3",
        ])
    #expect(ArrivingInput.arriving(arguments, input: "/w/other", demuxer: "wav") == nil)
  }

  // MARK: Jobs

  /// Makes `dlb://in/<name>` with ffmpeg and returns its bytes.
  func media(_ name: String, _ arguments: [String]) async throws -> [UInt8] {
    let path = try await harness.fixture("in/\(name)", arguments)
    return Array(try Data(contentsOf: URL(fileURLWithPath: path)))
  }

  func transcode(_ source: String, to key: String, kind: String) async throws -> Job {
    try await harness.run(
      "/media/transcode",
      #"{"inputs": [{"source": "\#(source)"}], "outputs": [{"id": "a", "kind": "\#(kind)", "destination": "dlb://\#(key)"}]}"#
    )
  }

  func stored(_ key: String) throws -> [UInt8] {
    Array(try Data(contentsOf: URL(fileURLWithPath: harness.storage.path(owner: "app", key: key))))
  }

  /// The job's log lines.
  func log(of job: Job) -> [String] {
    harness.logs.all.filter { $0.contains(job.id.uuidString.lowercased()) }
  }

  /// The seconds of media ffmpeg had written when the download's last byte came, from the job's log.
  func processedAtLastByte(_ job: Job) -> Double? {
    guard let line = log(of: job).first(where: { $0.contains("input downloaded while ffmpeg read it") }),
      let range = line.range(of: #"processed_s"?[=:] ?"?([0-9.]+)"#, options: .regularExpression)
    else { return nil }
    return Double(line[range].filter { $0.isNumber || $0 == "." })
  }

  /// Whether a process still runs with the harness's directory in its command line (an ffmpeg left behind).
  func ffmpegLeftBehind() -> Bool { !ffmpegPIDs(reading: "").isEmpty }

  /// The processes with the harness's directory and `argument` in their command lines.
  func ffmpegPIDs(reading argument: String) -> [pid_t] {
    let pids = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
    return pids.compactMap { Int32($0) }.filter { pid in
      guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { return false }
      let line = String(decoding: data, as: UTF8.self)
      return line.contains(harness.directory) && line.contains(argument)
    }
  }

  @Test func aSlowWAV_isTranscodedWhileItArrives_toTheSameBytes() async throws {
    defer { harness.pool.stop() }
    // 6 s of 48 kHz stereo (1.15 MB) at 600 kB/s: about 2 s to arrive.
    let wav = try await media("tone.wav", ["-f", "lavfi", "-i", "sine=f=330:d=6:sample_rate=48000", "-ac", "2"])
    let server = try FaultServer { _, _ in .trickle(body: wav, bytesPerSecond: 600_000) }
    defer { server.stop() }
    let reference = try await transcode("dlb://in/tone.wav", to: "out/ref.mp3", kind: "mp3")
    #expect(reference.status == .success, "\(String(describing: reference.error))")
    #expect(log(of: reference).contains { $0.contains("overlap") } == false, "a local file is simply read")
    let started = Date()
    let job = try await transcode("http://127.0.0.1:\(server.port)/tone.wav", to: "out/arrived.mp3", kind: "mp3")
    let seconds = Date().timeIntervalSince(started)
    #expect(job.status == .success, "\(String(describing: job.error))")
    #expect(log(of: job).contains { $0.contains("input read as it arrives") && $0.contains("wav") })
    let processed = try #require(processedAtLastByte(job), "\(log(of: job))")
    print(
      "arriving WAV: \(String(format: "%.2f", seconds)) s from submit to end; ffmpeg had written \(processed) s of 6 s when the last byte came"
    )
    #expect(processed > 1, "ffmpeg worked while the input arrived")
    #expect(try stored("out/arrived.mp3") == stored("out/ref.mp3"), "the same MP3 as from the whole file")
  }

  @Test func aSlowMP3_isTranscodedWhileItArrives_toTheSameBytes() async throws {
    defer { harness.pool.stop() }
    // 24 s at 128 kb/s (384 kB) at 192 kB/s: about 2 s to arrive. Without a Xing/Info tag (see ArrivingFormat).
    let mp3 = try await media(
      "talk.mp3",
      [
        "-f", "lavfi", "-i", "sine=f=500:d=24:sample_rate=44100", "-c:a", "libmp3lame", "-b:a", "128k",
        "-write_xing", "0",
      ])
    let server = try FaultServer { _, _ in .trickle(body: mp3, bytesPerSecond: 192_000) }
    defer { server.stop() }
    let reference = try await transcode("dlb://in/talk.mp3", to: "out/ref.wav", kind: "wav")
    #expect(reference.status == .success, "\(String(describing: reference.error))")
    let job = try await transcode("http://127.0.0.1:\(server.port)/talk.mp3", to: "out/arrived.wav", kind: "wav")
    #expect(job.status == .success, "\(String(describing: job.error))")
    #expect(log(of: job).contains { $0.contains("input read as it arrives") && $0.contains("mp3") })
    let processed = try #require(processedAtLastByte(job), "\(log(of: job))")
    print("arriving MP3: ffmpeg had written \(processed) s of 24 s when the last byte came")
    #expect(processed > 1)
    #expect(try stored("out/arrived.wav") == stored("out/ref.wav"), "the same WAV as from the whole file")
  }

  @Test func anMP4WithItsIndexFirst_isTranscodedWhileItArrives_toTheSameBytes() async throws {
    defer { harness.pool.stop() }
    // 4 s of 320x240 H.264 and AAC, index first, at about 1.5 s to arrive.
    let mp4 = try await media(
      "clip.mp4",
      [
        "-f", "lavfi", "-i", "testsrc=size=320x240:rate=25:d=4", "-f", "lavfi", "-i", "sine=d=4", "-c:v", "libx264",
        "-preset", "ultrafast", "-c:a", "aac", "-movflags", "+faststart",
      ])
    let server = try FaultServer { _, _ in .trickle(body: mp4, bytesPerSecond: max(20_000, mp4.count * 2 / 3)) }
    defer { server.stop() }
    let outputs = { (name: String) in
      #"[{"id": "a", "kind": "mp3", "destination": "dlb://out/\#(name).mp3"}, {"id": "v", "kind": "mp4", "destination": "dlb://out/\#(name).mp4", "video": {"width": 160}}]"#
    }
    let reference = try await harness.run(
      "/media/transcode", #"{"inputs": [{"source": "dlb://in/clip.mp4"}], "outputs": \#(outputs("ref"))}"#)
    let job = try await harness.run(
      "/media/transcode",
      #"{"inputs": [{"source": "http://127.0.0.1:\#(server.port)/clip.mp4"}], "outputs": \#(outputs("arrived"))}"#)
    #expect(reference.status == .success && job.status == .success, "\(String(describing: job.error))")
    #expect(log(of: job).contains { $0.contains("input downloaded while ffmpeg read it") && $0.contains("overlap") })
    #expect(log(of: job).contains { $0.contains("input read as it arrives") && $0.contains("mov") })
    #expect(try stored("out/arrived.mp3") == stored("out/ref.mp3"))
    #expect(try stored("out/arrived.mp4") == stored("out/ref.mp4"))
  }

  @Test func aDownloadThatFailsUnderFFmpeg_failsTheJob_andLeavesNoFFmpeg() async throws {
    defer { harness.pool.stop() }
    let wav = try await media("tone.wav", ["-f", "lavfi", "-i", "sine=f=330:d=6:sample_rate=48000", "-ac", "2"])
    // The connection is lost after 600 kB (0.75 s in, ffmpeg reading), and the file is then gone. (Connections
    // count from 1.)
    let server = try FaultServer { _, index in
      index == 1 ? .trickle(body: wav, bytesPerSecond: 800_000, resetAfter: 600_000) : .status(404)
    }
    defer { server.stop() }
    let job = try await transcode("http://127.0.0.1:\(server.port)/tone.wav", to: "out/a.mp3", kind: "mp3")
    #expect(job.status == .failed)
    #expect(job.error?.type == "/problems/input-file-access", "\(String(describing: job.error))")
    #expect(log(of: job).contains { $0.contains("input read as it arrives") }, "ffmpeg was reading when it failed")
    #expect(!ffmpegLeftBehind())
    #expect(!FileManager.default.fileExists(atPath: harness.storage.path(owner: "app", key: "out/a.mp3")))
  }

  @Test func anFFmpegThatFailsUnderTheDownload_stopsIt_andTheNextAttemptSucceeds() async throws {
    defer { harness.pool.stop() }
    let wav = try await media("tone.wav", ["-f", "lavfi", "-i", "sine=f=330:d=6:sample_rate=48000", "-ac", "2"])
    // The first attempt's input would take 6 s to arrive; the next one's comes at once.
    let server = try FaultServer { _, index in
      index == 1 ? .trickle(body: wav, bytesPerSecond: 200_000) : .serve(body: wav)
    }
    defer { server.stop() }
    let submitted = Date()
    let job = try await harness.submit(
      "/media/transcode",
      #"{"inputs": [{"source": "http://127.0.0.1:\#(server.port)/tone.wav"}], "outputs": [{"id": "a", "kind": "mp3", "destination": "dlb://out/a.mp3"}]}"#
    )
    // ffmpeg reading the socket dies (as under the OOM killer): found within 5 s, killed by its PID.
    var killed = false
    for _ in 0..<100 where !killed {
      if let pid = ffmpegPIDs(reading: "pipe:0").first {
        kill(pid, SIGKILL)
        killed = true
      }
      try await Task.sleep(for: .milliseconds(50))
    }
    #expect(killed)
    var ended: Job?
    for _ in 0..<400 {
      if let stored = try harness.store.job(id: job.id), stored.status.isFinal {
        ended = stored
        break
      }
      try await Task.sleep(for: .milliseconds(50))
    }
    let done = try #require(ended)
    #expect(done.status == .success && done.attempt == 2, "\(String(describing: done.error)) \(done.attempts)")
    let first = try #require(done.attempts.first)
    #expect(first.error.contains("signal 9"), "\(first.error)")
    // The first attempt ended with ffmpeg, not 6 s later with its download.
    let seconds = first.at.timeIntervalSince(submitted)
    print("ffmpeg killed under the download: the attempt ended \(String(format: "%.2f", seconds)) s after submission")
    #expect(seconds < 4, "the download stopped with ffmpeg")
    #expect(log(of: done).contains { $0.contains("ffmpeg failed on the arriving input; the download stopped") })
    #expect(!ffmpegLeftBehind())
  }

  @Test func aConnectionLostUnderFFmpeg_isResumed_toTheSameBytes() async throws {
    defer { harness.pool.stop() }
    let wav = try await media("tone.wav", ["-f", "lavfi", "-i", "sine=f=330:d=6:sample_rate=48000", "-ac", "2"])
    let server = try FaultServer { _, index in
      .trickle(body: wav, bytesPerSecond: 800_000, resetAfter: index == 1 ? 500_000 : nil, ranges: true)
    }
    defer { server.stop() }
    let reference = try await transcode("dlb://in/tone.wav", to: "out/ref.mp3", kind: "mp3")
    let job = try await transcode("http://127.0.0.1:\(server.port)/tone.wav", to: "out/arrived.mp3", kind: "mp3")
    #expect(reference.status == .success && job.status == .success, "\(String(describing: job.error))")
    #expect(server.requests.count == 2 && server.requests[1].header("Range") == "bytes=500000-")
    #expect(log(of: job).contains { $0.contains("input downloaded while ffmpeg read it") })
    #expect(try stored("out/arrived.mp3") == stored("out/ref.mp3"))
    #expect(!ffmpegLeftBehind())
  }

  @Test func anMP4WithItsIndexAtTheEnd_isProcessedAfterItsDownload() async throws {
    defer { harness.pool.stop() }
    let m4a = try await media("end.m4a", ["-f", "lavfi", "-i", "sine=d=3", "-c:a", "aac"])
    let server = try FaultServer { _, _ in .trickle(body: m4a, bytesPerSecond: 200_000) }
    defer { server.stop() }
    let job = try await transcode("http://127.0.0.1:\(server.port)/end.m4a", to: "out/a.mp3", kind: "mp3")
    #expect(job.status == .success, "\(String(describing: job.error))")
    let lines = log(of: job)
    #expect(lines.contains { $0.contains("input processed after its download") && $0.contains("index comes after") })
    #expect(!lines.contains { $0.contains("input read as it arrives") })
  }
}

/// Overlap on S3 (issue 20): an input fetched in ranged parts over several connections is read as its parts
/// land, and outputs are uploaded while ffmpeg writes them: an `s3://` WAV output goes up in parts, the first
/// (whose header ffmpeg rewrites as it finishes) last, with the same bytes as a local run; a download that
/// fails under ffmpeg aborts the upload.
@Suite(.serialized, .enabled(if: S3Peers.unavailable == nil, "S3 peers unavailable"))
struct OverlapOnS3Tests {
  static let auth = #""auth": {"key": "AKIDGROW", "secret": "grow/secret"}"#

  func harness(_ peers: S3Peers, connections: Int = 1) throws -> MediaHarness {
    try MediaHarness(
      "growing", s3Endpoint: peers.proxyEndpoint,
      client: TransferClient(
        policy: try NetworkPolicy(allow: ["127.0.0.1/32"]),
        settings: TransferSettings(
          maxAttempts: 2, initialBackoff: .milliseconds(10), downloadConnections: connections,
          downloadPartSize: 1 << 20)),
      multipartThreshold: 5 << 20, partSize: 5 << 20, parallelParts: 2
    ) { transfers, tools in [TranscodeOperation(transfers: transfers, tools: tools)] }
  }

  /// 90 s of 48 kHz stereo WAV (17.3 MB) as `dlb://in/long.wav`, and its bytes.
  func longWAV(_ harness: MediaHarness) async throws -> [UInt8] {
    let path = try await harness.fixture(
      "in/long.wav", ["-f", "lavfi", "-i", "sine=f=330:d=90:sample_rate=48000", "-ac", "2"])
    return Array(try Data(contentsOf: URL(fileURLWithPath: path)))
  }

  func moto(_ peers: S3Peers, _ request: String) throws -> RawHTTPClient.Response {
    let client = try RawHTTPClient(port: peers.motoPort)
    let auth =
      "AWS4-HMAC-SHA256 Credential=AKIDGROW/20260101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=0"
    try client.send("\(request) HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: \(auth)\r\nConnection: close\r\n\r\n")
    return try client.readResponse()
  }

  @Test func anInputInParts_isReadAsItsPartsLand_toTheSameBytes() async throws {
    let peers = try S3Peers(key: "AKIDGROW", secret: "grow/secret")
    defer { peers.stop() }
    try peers.createBucket("grow")
    let harness = try harness(peers, connections: 4)
    defer { harness.pool.stop() }
    // 30 s of WAV (5.5 MiB): a first part of 1 MiB, then five more over four connections.
    let path = try await harness.fixture(
      "in/parts.wav", ["-f", "lavfi", "-i", "sine=f=330:d=30:sample_rate=48000", "-ac", "2"])
    let wav = Array(try Data(contentsOf: URL(fileURLWithPath: path)))
    let put = try RawHTTPClient(port: peers.motoPort)
    try put.send(
      "PUT /grow/in/parts.wav HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: \(wav.count)\r\nConnection: close\r\n\r\n")
    try put.send(wav)
    #expect(try put.readResponse().status == 200)
    let reference = try await harness.run(
      "/media/transcode",
      #"{"inputs": [{"source": "dlb://in/parts.wav"}], "outputs": [{"kind": "mp3", "destination": "dlb://out/ref.mp3"}]}"#
    )
    let job = try await harness.run(
      "/media/transcode",
      #"{"inputs": [{"source": {"url": "s3://grow/in/parts.wav", \#(Self.auth)}}], "outputs": [{"kind": "mp3", "destination": "dlb://out/parts.mp3"}]}"#
    )
    #expect(reference.status == .success && job.status == .success, "\(String(describing: job.error))")
    let lines = harness.logs.all.filter { $0.contains(job.id.uuidString.lowercased()) }
    #expect(lines.contains { $0.contains("input downloaded while ffmpeg read it") }, "\(lines)")
    let ranged = peers.proxyLog.split(separator: "\n").filter { $0 == "GET /grow/in/parts.wav -> 206 (signed)" }
    #expect(ranged.count == 5, "a ranged GET for each part after the first: \(peers.proxyLog)")
    let stored = { (key: String) in
      try Data(contentsOf: URL(fileURLWithPath: harness.storage.path(owner: "app", key: key)))
    }
    #expect(try stored("out/parts.mp3") == stored("out/ref.mp3"))
  }

  @Test func aWAVOutput_goesUpWhileWritten_withTheBytesOfALocalRun() async throws {
    let peers = try S3Peers(key: "AKIDGROW", secret: "grow/secret")
    defer { peers.stop() }
    try peers.createBucket("grow")
    let harness = try harness(peers)
    defer { harness.pool.stop() }
    let wav = try await longWAV(harness)
    // About 2 s to arrive: ffmpeg writes the output in step with it.
    let server = try FaultServer { _, _ in .trickle(body: wav, bytesPerSecond: 9_000_000) }
    defer { server.stop() }
    let reference = try await harness.run(
      "/media/transcode",
      #"{"inputs": [{"source": "dlb://in/long.wav"}], "outputs": [{"kind": "wav", "destination": "dlb://out/ref.wav"}]}"#
    )
    #expect(reference.status == .success, "\(String(describing: reference.error))")
    let job = try await harness.run(
      "/media/transcode",
      #"{"inputs": [{"source": "http://127.0.0.1:\#(server.port)/long.wav"}], "outputs": [{"kind": "wav", "destination": {"url": "s3://grow/out/a.wav", \#(Self.auth)}}]}"#
    )
    #expect(job.status == .success, "\(String(describing: job.error))")
    let lines = harness.logs.all.filter { $0.contains(job.id.uuidString.lowercased()) }
    let started = lines.first { $0.contains("output uploaded while ffmpeg writes it") }
    print("growing WAV output: \(started ?? "not streamed")")
    #expect(started != nil && lines.contains { $0.contains("input read as it arrives") })
    let stored = try moto(peers, "GET /grow/out/a.wav")
    let local = Array(
      try Data(contentsOf: URL(fileURLWithPath: harness.storage.path(owner: "app", key: "out/ref.wav"))))
    #expect(stored.status == 200 && stored.body.count == local.count)
    #expect(stored.body == local, "the object has the bytes of the local run, header included")
    // Four parts (the bytes being equal shows the first went up last: ffmpeg writes the WAV's sizes into its
    // header as it finishes).
    let parts = peers.proxyLog.split(separator: "\n").filter { $0 == "PUT /grow/out/a.wav -> 200 (signed)" }
    #expect(parts.count == 4, "\(peers.proxyLog)")
  }

  @Test func aDownloadThatFailsUnderFFmpeg_abortsTheUploadUnderWay() async throws {
    let peers = try S3Peers(key: "AKIDGROW", secret: "grow/secret")
    defer { peers.stop() }
    try peers.createBucket("grow")
    let harness = try harness(peers)
    defer { harness.pool.stop() }
    let wav = try await longWAV(harness)
    // Lost after 13 MB (the output's upload under way), and then gone.
    let server = try FaultServer { _, index in
      index == 1 ? .trickle(body: wav, bytesPerSecond: 9_000_000, resetAfter: 13_000_000) : .status(404)
    }
    defer { server.stop() }
    let job = try await harness.run(
      "/media/transcode",
      #"{"inputs": [{"source": "http://127.0.0.1:\#(server.port)/long.wav"}], "outputs": [{"kind": "wav", "destination": {"url": "s3://grow/out/a.wav", \#(Self.auth)}}]}"#
    )
    #expect(
      job.status == .failed && job.error?.type == "/problems/input-file-access", "\(String(describing: job.error))")
    let lines = harness.logs.all.filter { $0.contains(job.id.uuidString.lowercased()) }
    #expect(lines.contains { $0.contains("output uploaded while ffmpeg writes it") })
    #expect(peers.proxyLog.contains("DELETE /grow/out/a.wav -> 204"), "the upload was aborted: \(peers.proxyLog)")
    let uploads = try moto(peers, "GET /grow?uploads")
    #expect(!uploads.text.contains("<Upload>"), "\(uploads.text)")
    #expect(try moto(peers, "GET /grow/out/a.wav").status == 404)
  }
}
