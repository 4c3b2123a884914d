import Foundation
import Jobs
import Locations
import Transfer

/// A transcode's outputs uploaded while ffmpeg writes them: an `s3://` output with keys of a kind whose file
/// ffmpeg writes front to back and touches again only in its first bytes as it finishes (MP3's Xing frame,
/// WAV's and FLAC's header; ADTS AAC, Ogg and Opus not at all) goes up in parts, the first last
/// (`S3MultipartUpload.upload(growing:...)`), once it reaches `transfers.multipartThreshold`. Smaller outputs,
/// other kinds and other destinations are delivered after ffmpeg as before, and so is any output whose upload
/// failed here or whose ffmpeg was run again (its parts are aborted first).
final class GrowingOutputs: @unchecked Sendable {
  /// The kinds uploaded while written.
  static let kinds: Set<TranscodeKind> = [.mp3, .wav, .flac, .aac, .ogg, .opus]

  private enum Writer { case writing, finished, failed }
  private let condition = NSCondition()
  private var writer = Writer.writing
  private var delivered: Set<Int> = []
  private let group = DispatchGroup()

  private init() {}

  /// Starts a watcher for every output that can go up while written.
  static func start(
    _ request: TranscodeSpec, directory: String, transfers: JobTransfers, context: JobContext
  ) -> GrowingOutputs {
    let outputs = GrowingOutputs()
    for (index, output) in request.outputs.enumerated()
    where kinds.contains(output.kind) && transfers.deliversWhileWritten(output.destination)
      && output.destination.expiry == nil
    {
      let path = directory + "/" + TranscodeCommand.fileName(index: index, kind: output.kind)
      outputs.group.enter()
      Thread {
        defer { outputs.group.leave() }
        outputs.watch(
          path, index: index, to: output.destination, contentType: output.kind.contentType, transfers: transfers,
          context: context)
      }.start()
    }
    return outputs
  }

  private func watch(
    _ path: String, index: Int, to location: Location, contentType: String?, transfers: JobTransfers,
    context: JobContext
  ) {
    // Polled (ffmpeg is another process); bounded by ffmpeg's end.
    while true {
      let state = condition.withLock { writer }
      guard state == .writing else { return }
      if Self.size(path) >= transfers.multipartThreshold { break }
      Thread.sleep(forTimeInterval: 0.05)
    }
    context.logger.info(
      "output uploaded while ffmpeg writes it",
      ["field": .string("outputs[\(index)]"), "bytes_written": .int(Int(Self.size(path)))])
    do throws(JobFailure) {
      try transfers.deliver(
        growing: path, to: location, field: "outputs[\(index)].destination", contentType: contentType,
        context: context
      ) { [self] () throws(TransferError) -> (size: Int64, final: Bool) in
        let state = condition.withLock { writer }
        if state == .failed { throw .cancelled }
        return (Self.size(path), state == .finished)
      }
      condition.withLock { _ = delivered.insert(index) }
    } catch {
      // Delivered after ffmpeg instead, the usual way (which reports a lasting failure as it always did).
      if condition.withLock({ writer }) != .failed {
        context.logger.warning(
          "output not uploaded while written; uploading it whole",
          ["field": .string("outputs[\(index)]"), "error": .string(error.detail)])
      }
    }
  }

  /// ffmpeg finished: the outputs are final.
  func finished() {
    condition.withLock { if writer == .writing { writer = .finished } }
  }

  /// ffmpeg failed, or runs again from the start: uploads under way are aborted, and wait for their end.
  func abandon() {
    condition.withLock { if writer == .writing { writer = .failed } }
    group.wait()
  }

  /// Whether output `index` went up while written (waits for its upload to end).
  func delivered(_ index: Int) -> Bool {
    group.wait()
    return condition.withLock { delivered.contains(index) }
  }

  private static func size(_ path: String) -> Int64 {
    var info = stat()
    return stat(path, &info) == 0 ? Int64(info.st_size) : 0
  }
}
