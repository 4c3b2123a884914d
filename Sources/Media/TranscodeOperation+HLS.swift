import Foundation
import JSON
import Jobs
import Locations
import Problems

extension TranscodeWork {
  /// Uploads what ffmpeg wrote for hls output `index` under its destination folder: the segments the media
  /// playlist names, in order, then the media playlist, then the master playlist, so a reader never finds a
  /// playlist naming a segment that is not there yet. Each file goes through `JobTransfers.deliver`
  /// (progress, cancellation, the lease confirmed before each write). Returns the output's result entry.
  func deliverHLS(_ output: TranscodeSpec.Output, index: Int, context: JobContext, share: ClosedRange<Int>)
    throws(JobFailure) -> JSONValue
  {
    let (folder, failed) = Self.stream(index, context: context)
    let mediaName = TranscodeCommand.hlsMediaPlaylist
    let masterName = TranscodeCommand.hlsMasterPlaylist
    guard let text = try? String(contentsOfFile: folder + "/" + mediaName, encoding: .utf8),
      let playlist = HLSPlaylist(parsing: text), playlist.ended, !playlist.segments.isEmpty, playlist.duration > 0
    else {
      throw failed("ffmpeg wrote no complete hls playlist (is the segment past the end of the input?)")
    }
    var sizes: [Int] = []
    for segment in playlist.segments {
      // Only plain names in the work folder: nothing the playlist says can point elsewhere.
      let name = segment.uri
      guard !name.contains("/"), !name.hasPrefix("."), name.utf8.count <= 255 else {
        throw failed("the playlist names an unexpected segment")
      }
      let size = FileManager.default.fileSize(folder + "/" + name)
      guard size > 0 else { throw failed("the playlist names \(name), which ffmpeg did not write") }
      sizes.append(size)
    }
    let segmentBytes = sizes.reduce(0, +)
    let masterPath = folder + "/" + masterName
    guard let master = try? String(contentsOfFile: masterPath, encoding: .utf8) else {
      throw failed("ffmpeg wrote no master playlist")
    }
    let average = Int((Double(segmentBytes * 8) / playlist.duration).rounded(.up))
    let fixed = HLSPlaylist.master(master, peak: playlist.peakBitRate(sizes: sizes), average: average)
    do {
      try Data(fixed.utf8).write(to: URL(fileURLWithPath: masterPath), options: .atomic)
    } catch {
      throw JobFailure(.internalError, "outputs[\(index)]: cannot write the master playlist", retry: true)
    }

    let names = playlist.segments.map(\.uri) + [mediaName, masterName]
    let done = try deliverFolder(
      names, sizes: sizes + [mediaName, masterName].map { FileManager.default.fileSize(folder + "/" + $0) },
      of: output, index: index, contentType: TranscodeCommand.hlsContentType, context: context, share: share)
    return .object([
      "id": .string(output.id), "kind": .string("hls"), "playlist": Self.url(of: masterName, in: output),
      "media_playlist": Self.url(of: mediaName, in: output), "segments": .int(playlist.segments.count),
      "duration": .double((playlist.duration * 1000).rounded() / 1000), "size": .int(done),
    ])
  }

  /// Uploads the files `names` (of `sizes` bytes) of stream output `index`'s work folder under its destination
  /// folder, in that order, each through `JobTransfers.deliver` (progress, cancellation, the lease confirmed
  /// before each write); returns the bytes uploaded.
  func deliverFolder(
    _ names: [String], sizes: [Int], of output: TranscodeSpec.Output, index: Int,
    contentType: (String) -> String, context: JobContext, share: ClosedRange<Int>
  ) throws(JobFailure) -> Int {
    let folder = Self.stream(index, context: context).folder
    let field = "outputs[\(index)].destination"
    let total = max(1, sizes.reduce(0, +))
    let width = Double(share.upperBound - share.lowerBound)
    var done = 0
    for (name, size) in zip(names, sizes) {
      guard let destination = output.destination.appending(name) else {
        throw JobFailure(.internalError, "\(field): is not a folder")
      }
      let from = share.lowerBound + Int(width * Double(done) / Double(total))
      let to = share.lowerBound + Int(width * Double(done + size) / Double(total))
      try transfers.deliver(
        file: folder + "/" + name, to: destination, field: field, contentType: contentType(name), context: context,
        share: from...to)
      done += size
    }
    return done
  }

  /// Stream output `index`'s folder in the job's work folder (what ffmpeg wrote for it), and how the output's
  /// failures read (`outputs[1]: ffmpeg wrote no dash segments`).
  static func stream(_ index: Int, context: JobContext) -> (folder: String, failed: (String) -> JobFailure) {
    let folder = context.workDirectory + "/" + TranscodeCommand.streamDirectory(index: index)
    return (folder, { JobFailure(.processingFailed, "outputs[\(index)]: \($0)") })
  }

  /// The URL of file `name` under a stream output's destination folder, for its result (null for http).
  static func url(of name: String, in output: TranscodeSpec.Output) -> JSONValue {
    switch output.destination.appending(name)?.target {
    case .s3(let bucket, let key)?: .string("s3://\(bucket)/\(key)")
    case .dlb(let key)?: .string("dlb://\(key)")
    case .http?, nil: .null
    }
  }
}
