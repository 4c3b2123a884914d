import Foundation
import Jobs
import Locations
import Problems
import Synchronization

/// A job's input, fetched into the work file while ffmpeg already reads what has arrived, where the
/// container allows it (`ArrivingFormat`): the download runs on a thread of its own (its parts, retries,
/// resume, network policy and size limit unchanged, the work file still written whole), and a feeder hands
/// ffmpeg the file's whole prefix through a socket as it grows. ffprobe names the streams from the head; the
/// full probe runs on the whole file once it is in, while ffmpeg works on. A download that fails kills
/// ffmpeg and fails the job with the download's error; an ffmpeg that fails stops the download and fails the
/// job with ffmpeg's error, except on an MP4, which it runs again on the whole file; an input that cannot be
/// read as it arrives takes the old path (download, probe, process). Each job's log says which path ran.
final class ArrivingInput: @unchecked Sendable {
  private struct State {
    /// Leading bytes of the work file that are whole.
    var prefix: Int64 = 0
    /// The download started the file over after bytes were handed on (the object changed, or a server
    /// resumed wrongly): what ffmpeg read cannot be trusted.
    var restarted = false
    /// The download's end, once it ended.
    var finished: Result<Void, JobFailure>?
    /// Bytes handed to ffmpeg so far.
    var fed: Int64 = 0
    /// The job stops: the download ends as cancelled.
    var stopping = false
    /// ffmpeg failed on the arriving bytes, and stopped the download.
    var ffmpegFailed = false
    /// Seconds of media ffmpeg had written when the download ended.
    var processedAtLastByte: Double?
    var outTime: Double = 0
  }

  let path: String
  private let context: JobContext
  private let tools: MediaTools
  private let requireAudio: Bool
  private let condition = NSCondition()
  private var state = State()
  private var downloading = false
  /// The demuxer ffmpeg reads the arriving bytes with; nil on the old path.
  private(set) var demuxer: String?
  private var headInfo: MediaInfo?

  private init(path: String, context: JobContext, tools: MediaTools, requireAudio: Bool) {
    self.path = path
    self.context = context
    self.tools = tools
    self.requireAudio = requireAudio
  }

  /// Starts fetching `location` (the request's `field`) into `path`. With `overlap`, and an input that is
  /// downloaded (not a `dlb://` file on this node's disk), this returns once the head is in and says whether
  /// ffmpeg may read the rest as it arrives; otherwise once the input is whole. `end()` must follow.
  static func begin(
    _ location: Location, field: String, to path: String, overlap: Bool, transfers: JobTransfers, tools: MediaTools,
    context: JobContext, share: ClosedRange<Int>, requireAudio: Bool = true
  ) throws(JobFailure) -> ArrivingInput {
    let input = ArrivingInput(path: path, context: context, tools: tools, requireAudio: requireAudio)
    var local = false
    if case .dlb = location.target, case .local = transfers.storage { local = true }
    guard overlap, !local else {
      try transfers.fetch(location, field: field, to: path, context: context, share: share)
      input.condition.withLock { input.state.finished = .success(()) }
      return input
    }
    try context.checkCancelled()
    input.downloading = true
    Thread {
      let result: Result<Void, JobFailure>
      do throws(JobFailure) {
        try transfers.fetch(
          location, field: field, to: path, context: context, share: share,
          prefix: { [input] bytes in input.advance(to: bytes) },
          stop: { [input] in input.condition.withLock { input.state.stopping } })
        result = .success(())
      } catch {
        result = .failure(error)
      }
      input.condition.withLock {
        input.state.finished = result
        input.condition.broadcast()
      }
    }.start()
    do throws(JobFailure) {
      try input.decide()
    } catch {
      // A cancel while the head was read: the download ends before the job does.
      input.end()
      throw error
    }
    return input
  }

  private func advance(to bytes: Int64) {
    condition.withLock {
      if bytes < state.prefix && state.fed > 0 { state.restarted = true }
      state.prefix = bytes
      condition.broadcast()
    }
  }

  /// Waits until the prefix holds `bytes` or the download ended; the prefix then, or nil when it ended.
  private func wait(for bytes: Int64) -> Int64? {
    condition.withLock {
      while state.prefix < bytes && state.finished == nil { condition.wait() }
      return state.prefix >= bytes ? state.prefix : nil
    }
  }

  /// Waits for the download's end and throws its failure.
  private func finish() throws(JobFailure) {
    let result = condition.withLock {
      while state.finished == nil { condition.wait() }
      return state.finished!
    }
    try result.get()
  }

  /// Reads the head, decides the path, and probes the head when the rest may arrive under ffmpeg.
  private func decide() throws(JobFailure) {
    var needed: Int64 = 12
    var verdict = ArrivingFormat.needs(bytes: needed)
    // Each round waits for more bytes than the last: bounded by ArrivingFormat.maxIndexEnd.
    while case .needs(let bytes) = verdict {
      needed = max(bytes, needed)
      guard let have = wait(for: needed) else {
        return try whole(because: "the input was whole before its format was known")
      }
      // What the verdict asked for and a little more (an MP4's next box header), never the whole prefix.
      verdict = ArrivingFormat.inspect(read(0, min(have, max(needed, 64 << 10))), total: nil)
      if case .needs(let more) = verdict, more <= needed {
        verdict = .whole("the input's first bytes say nothing more")
      }
    }
    guard case .readable(let demuxer, let head) = verdict else {
      if case .whole(let reason) = verdict { try whole(because: reason) }
      return
    }
    guard wait(for: head) != nil else { return try whole(because: "the input was whole before its head was read") }
    // ffprobe names the streams from the head alone (a copy of it: the work file is still being written).
    let headPath = path + ".head"
    defer { unlink(headPath) }
    guard copy(head, to: headPath) else { return try whole(because: "the head could not be copied") }
    let runner = ProcessRunner()
    let registration = context.onCancel { runner.cancel() }
    defer { registration.cancel() }
    guard var info = try? MediaProbe(tools: tools).probe(headPath, runner: runner),
      info.audioCodec != nil || info.hasVideo
    else {
      try context.checkCancelled()
      return try whole(because: "ffprobe could not read the head as \(demuxer)")
    }
    // MP3 and MPEG-TS say their length nowhere in the head: ffprobe guessed it from the head's size.
    if demuxer == "mp3" || demuxer == "mpegts" { info.duration = nil }
    headInfo = info
    self.demuxer = demuxer
  }

  /// The old path: waits for the whole input, logging why.
  private func whole(because reason: String) throws(JobFailure) {
    try finish()
    context.logger.info("input processed after its download", ["overlap": "no", "reason": .string(reason)])
  }

  /// For work that needs the whole input after all (`reason` says why): waits for the last byte, then
  /// takes the old path from here on, and returns what ffprobe says of the whole file; nil when the input
  /// was whole already (what `info()` said stands).
  func waitForWhole(because reason: String) throws(JobFailure) -> MediaInfo? {
    guard demuxer != nil else { return nil }
    try whole(because: reason)
    demuxer = nil
    headInfo = nil
    return try info()
  }

  /// Copies the work file's first `count` bytes to a new file at `target`, a MiB at a time (an MP4's head
  /// holds its whole index: up to `ArrivingFormat.maxIndexEnd`).
  private func copy(_ count: Int64, to target: String) -> Bool {
    let out = open(target, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
    guard out >= 0 else { return false }
    defer { Glibc.close(out) }
    var offset: Int64 = 0
    while offset < count {
      let chunk = read(offset, min(1 << 20, count - offset))
      guard !chunk.isEmpty, chunk.withUnsafeBytes({ write(out, $0.baseAddress, $0.count) }) == chunk.count else {
        return false
      }
      offset += Int64(chunk.count)
    }
    return true
  }

  private func read(_ offset: Int64, _ count: Int64) -> [UInt8] {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return [] }
    defer { Glibc.close(fd) }
    var bytes = [UInt8](repeating: 0, count: Int(count))
    let n = bytes.withUnsafeMutableBytes { pread(fd, $0.baseAddress, Int(count), off_t(offset)) }
    return Array(bytes.prefix(max(0, n)))
  }

  /// What ffprobe says of the input: of the head when ffmpeg will read the input as it arrives (the whole
  /// file is probed, its length recorded and checked, once it is in), of the whole file otherwise.
  func info() throws(JobFailure) -> MediaInfo {
    if let headInfo { return headInfo }
    return try MediaSteps.probe(path, tools: tools, context: context, requireAudio: requireAudio)
  }

  /// Runs ffmpeg with `arguments` (which read the work file at `path` as `MediaTools.safeInput` allows):
  /// on the old path as they are; otherwise reading the arriving bytes from a socket while the download
  /// goes on, then the whole file's probe beside it.
  /// `beforeRerun` runs before ffmpeg runs again on the whole file (its outputs start over).
  func ffmpeg(
    _ arguments: [String], duration: Double?, share: ClosedRange<Int>, beforeRerun: () -> Void = {}
  ) throws(JobFailure) {
    guard let demuxer, let streamed = Self.arriving(arguments, input: path, demuxer: demuxer) else {
      try MediaSteps.ffmpeg(arguments, tools: tools, duration: duration, context: context, share: share)
      return
    }
    var ends: [Int32] = [-1, -1]
    guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &ends) == 0 else {
      throw JobFailure(.internalError, "cannot make a socket for ffmpeg's input", retry: true)
    }
    let startedAt = condition.withLock { state.prefix }
    context.logger.info(
      "input read as it arrives", ["overlap": "yes", "format": .string(demuxer), "input_bytes": .int(Int(startedAt))])
    let runner = ProcessRunner()
    let ffmpegDone = DispatchSemaphore(value: 0)
    let feederDone = DispatchSemaphore(value: 0)
    let outcome = Mutex<Result<Void, JobFailure>>(.success(()))
    let readEnd = ends[0]
    Thread { [self] in
      do throws(JobFailure) {
        try MediaSteps.ffmpeg(
          streamed, tools: tools, duration: duration, context: context, share: share, reports: false,
          stdin: readEnd, runner: runner
        ) { progress in
          let (seconds, whole) = self.condition.withLock { () -> (Double, Bool) in
            self.state.outTime = Double(progress.outTimeMicroseconds) / 1e6
            return (self.state.outTime, self.state.finished != nil)
          }
          // The download reports until its end; ffmpeg's share after it.
          if whole, let duration, duration > 0 {
            let fraction = min(1, seconds / duration)
            self.context.report(
              phase: .processing,
              progress: share.lowerBound + Int(fraction * Double(share.upperBound - share.lowerBound)))
          }
        }
      } catch {
        outcome.withLock { $0 = .failure(error) }
        // Only an MP4 can fail on a socket where it would read from a file (interleaved badly, it needs to
        // seek): other containers read the same both ways, so their failure stops the download too.
        if demuxer != "mov" {
          self.condition.withLock {
            self.state.ffmpegFailed = true
            self.state.stopping = true
            self.condition.broadcast()
          }
        }
      }
      ffmpegDone.signal()
    }.start()
    let feedEnd = ends[1]
    Thread { [self] in
      feed(feedEnd)
      Glibc.close(feedEnd)
      feederDone.signal()
    }.start()

    // The download's end decides: a failure stops ffmpeg (the job fails with the download's error).
    let downloaded: Result<Void, JobFailure> = condition.withLock {
      while state.finished == nil { condition.wait() }
      state.processedAtLastByte = state.outTime
      return state.restarted ? .failure(Self.changed) : state.finished!
    }
    func stopFFmpeg() {
      runner.cancel()
      ffmpegDone.wait()
      feederDone.wait()
    }
    if case .failure(let failure) = downloaded {
      if condition.withLock({ state.ffmpegFailed }), case .failure(let ffmpegFailure) = outcome.withLock({ $0 }) {
        ffmpegDone.wait()
        feederDone.wait()
        context.logger.info("ffmpeg failed on the arriving input; the download stopped", ["overlap": "yes"])
        throw ffmpegFailure
      }
      stopFFmpeg()
      throw failure
    }
    let (fed, processed) = condition.withLock { (state.fed, state.processedAtLastByte ?? 0) }
    context.logger.info(
      "input downloaded while ffmpeg read it",
      ["overlap": "yes", "fed_bytes": .int(Int(fed)), "processed_s": .string(String(format: "%.3f", processed))])
    // The whole file's probe (its real length recorded and checked against the limit) beside ffmpeg.
    do throws(JobFailure) {
      _ = try MediaSteps.probe(path, tools: tools, context: context, requireAudio: requireAudio)
    } catch {
      stopFFmpeg()
      throw error
    }
    ffmpegDone.wait()
    feederDone.wait()
    guard case .failure(let failure) = outcome.withLock({ $0 }) else { return }
    try context.checkCancelled()
    if demuxer != "mov" { throw failure }
    // ffmpeg could not read the bytes as they came (an MP4 interleaved badly, say): the whole file is here.
    context.logger.warning(
      "ffmpeg failed on the arriving input; running it again on the whole file",
      ["overlap": "fallback", "error": .string(failure.detail)])
    beforeRerun()
    try MediaSteps.ffmpeg(arguments, tools: tools, duration: duration, context: context, share: share)
  }

  /// Hands ffmpeg the work file's prefix as it grows, until the download ends and all of it is sent, or
  /// ffmpeg stops reading.
  private func feed(_ socket: Int32) {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return }
    defer { Glibc.close(fd) }
    var buffer = [UInt8](repeating: 0, count: 1 << 20)
    while true {
      let (from, to, done) = condition.withLock { () -> (Int64, Int64, Bool) in
        while state.fed == state.prefix && state.finished == nil && !state.restarted { condition.wait() }
        let over = state.restarted || (state.finished.map { if case .failure = $0 { true } else { false } } ?? false)
        return (state.fed, state.prefix, over || (state.finished != nil && state.fed == state.prefix))
      }
      if done { return }
      var offset = from
      while offset < to {
        let n = buffer.withUnsafeMutableBytes {
          pread(fd, $0.baseAddress, Int(min(Int64($0.count), to - offset)), off_t(offset))
        }
        guard n > 0 else { return }
        var sent = 0
        while sent < n {
          let m = buffer.withUnsafeBytes { send(socket, $0.baseAddress! + sent, n - sent, Int32(MSG_NOSIGNAL)) }
          if m < 0 && errno == EINTR { continue }
          // ffmpeg stopped reading (it ended, or was stopped).
          guard m > 0 else { return }
          sent += m
        }
        offset += Int64(n)
        condition.withLock { state.fed = offset }
      }
    }
  }

  /// Ends the download if it is still running (the job stops early) and waits for it.
  func end() {
    guard downloading else { return }
    condition.withLock {
      state.stopping = true
      while state.finished == nil { condition.wait() }
    }
  }

  /// What the job fails with when the input changed under ffmpeg: another attempt starts over.
  static let changed = JobFailure(
    .inputFileAccess, "the input changed during its download; another attempt starts over", retry: true)

  /// `arguments` reading their input from stdin as `demuxer` instead of from the file `input`; nil when they
  /// do not read `input` exactly once.
  static func arriving(_ arguments: [String], input: String, demuxer: String) -> [String]? {
    var result: [String] = []
    var reads = 0
    var index = 0
    while index < arguments.count {
      let argument = arguments[index]
      if argument == "-i", index + 1 < arguments.count, arguments[index + 1] == input {
        result += ["-f", demuxer, "-i", "pipe:0"]
        reads += 1
        index += 2
        continue
      }
      if argument == "-protocol_whitelist", index + 1 < arguments.count {
        result += [argument, "pipe"]
        index += 2
        continue
      }
      result.append(argument)
      index += 1
    }
    return reads == 1 ? result : nil
  }
}
