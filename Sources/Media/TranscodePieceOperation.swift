import Foundation
import JSON
import Jobs
import Locations
import Problems
import Synchronization

/// One piece of a split transcode, stored by the parent as a sub-job (`SubJobs`): which input, which frames,
/// and the video settings of the parent's output.
public struct TranscodePieceSpec: JobSpec {
  /// The transcode job the piece belongs to, and its run that made the piece (`SubJobs.runs(ofAttempt:)`).
  public var parent: UUID
  public var run: Int
  public var index: Int
  /// The parent's input, for a node that does not hold the parent's work file.
  public var input: Location
  public var piece: TranscodeSplit.Piece
  /// The parent's output (its video settings).
  public var output: TranscodeSpec.Output

  public var reads: [Location] { [input] }
  public var writes: [Location] { [] }

  /// The `dlb://` key, in the parent's app's temporary storage, a piece encoded on another node is left at.
  public var storageKey: String { Self.storageKey(parent: parent, run: run, index: index) }
  /// The piece's file name in the parent's work directory.
  public var fileName: String { Self.fileName(run: run, index: index) }

  static func storageKey(parent: UUID, run: Int, index: Int) -> String {
    "ferry-pieces/\(parent.text)/\(run)-\(index).mp4"
  }

  static func fileName(run: Int, index: Int) -> String { "piece-\(run)-\(index).mp4" }
}

/// Runs the pieces of split transcodes (`TranscodeSplit`): internal jobs that no client posts (the API does
/// not serve this path); any worker of any node claims them.
///
/// On the parent's node a piece reads the parent's work file and leaves its result in the parent's work
/// directory. On another node it fetches the input itself (ranged parallel GETs, as any input) and leaves its
/// result in the app's temporary storage (`storage.kind s3`, shared by the nodes), where the parent fetches it.
public struct TranscodePieceOperation: JobOperation {
  public static let jobPath = "/internal/transcode-piece"
  public let path = TranscodePieceOperation.jobPath
  let transfers: JobTransfers
  let tools: MediaTools

  public init(transfers: JobTransfers, tools: MediaTools) {
    self.transfers = transfers
    self.tools = tools
  }

  public func validate(_ request: JSONValue) throws(InvalidRequest) -> TranscodePieceSpec {
    throw InvalidRequest("", "pieces are made by Ferry, not posted")
  }

  public func run(_ spec: TranscodePieceSpec, context: JobContext) throws -> String {
    // A piece of a run that ended (the parent failed, was cancelled or was taken back) is not worth encoding.
    if let parent = context.subJobs?.job(spec.parent),
      parent.status.isFinal || parent.attempt != SubJobs.attempt(ofRun: spec.run)
    {
      throw JobFailure(.processingFailed, "the transcode this piece belongs to is no longer running it")
    }
    let parentDirectory = (context.workDirectory as NSString).deletingLastPathComponent + "/" + spec.parent.text
    let parentInput = parentDirectory + "/input"
    let local = FileManager.default.fileExists(atPath: parentInput)
    let input: String
    if local {
      input = parentInput
    } else {
      input = try PieceInputs.shared.input(of: spec, context: context) { path throws(JobFailure) in
        try transfers.fetch(spec.input, field: "inputs[0].source", to: path, context: context, share: 0...30)
      }
    }
    let file = context.workDirectory + "/" + spec.fileName
    try MediaSteps.ffmpeg(
      TranscodeSplit.pieceArguments(spec.piece, output: spec.output, input: input, file: file), tools: tools,
      duration: spec.piece.duration, context: context, share: 30...90)
    guard FileManager.default.fileSize(file) > 0 else {
      throw JobFailure(.processingFailed, "piece \(spec.index): ffmpeg wrote nothing")
    }
    if local {
      try context.confirmLease()
      // The parent's directory went away if the parent ended meanwhile: then the piece is not needed.
      if rename(file, parentDirectory + "/" + spec.fileName) != 0 {
        throw JobFailure(.processingFailed, "piece \(spec.index): the transcode it belongs to has ended")
      }
    } else {
      try transfers.deliver(
        file: file, to: Location(target: .dlb(key: spec.storageKey)), field: "piece", contentType: "video/mp4",
        context: context, share: 90...99)
    }
    return JSONValue.object(["piece": .int(spec.index), "frames": .int(spec.piece.frames)]).description
  }
}

/// The parent's input on a node other than the parent's: fetched once per node (and parent run) by the
/// first piece that needs it, kept beside the work directories for the pieces that follow, and removed by a
/// later piece once the parent ended (or on a single node's restart, with every leftover work file).
final class PieceInputs: Sendable {
  static let shared = PieceInputs()
  static let prefix = "pieces-input-"

  /// One lock per cached input: the workers of this process that want it at once wait for one fetch.
  private let locks = Mutex<[String: NSLock]>([:])

  private func lock(_ directory: String) -> NSLock {
    locks.withLock { locks in
      if let lock = locks[directory] { return lock }
      let lock = NSLock()
      locks[directory] = lock
      return lock
    }
  }

  /// The path of the parent's input on this node, fetched with `fetch` (into the path it is given) unless an
  /// earlier piece did.
  func input(
    of spec: TranscodePieceSpec, context: JobContext, fetch: (String) throws(JobFailure) -> Void
  ) throws(JobFailure) -> String {
    let root = (context.workDirectory as NSString).deletingLastPathComponent
    sweep(root, context: context)
    let directory = root + "/" + Self.prefix + spec.parent.text + "-" + String(spec.run)
    let path = directory + "/input"
    let lock = lock(directory)
    lock.lock()
    defer { lock.unlock() }
    if FileManager.default.fileExists(atPath: path) { return path }
    do {
      try FileManager.default.createDirectory(
        atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
    } catch {
      throw JobFailure(.internalError, "cannot make the folder for the pieces' input", retry: true)
    }
    let partial = directory + "/input.partial"
    try? FileManager.default.removeItem(atPath: partial)
    try fetch(partial)
    guard rename(partial, path) == 0 else {
      throw JobFailure(.internalError, "cannot keep the pieces' input", retry: true)
    }
    return path
  }

  /// Removes the cached inputs of parents that ended, were taken back (another attempt runs), or are gone.
  private func sweep(_ root: String, context: JobContext) {
    guard let subJobs = context.subJobs,
      let names = try? FileManager.default.contentsOfDirectory(atPath: root)
    else { return }
    for name in names where name.hasPrefix(Self.prefix) {
      let rest = name.dropFirst(Self.prefix.count)
      guard let id = UUID(uuidString: String(rest.prefix(36))), let run = Int(rest.dropFirst(37)) else { continue }
      let parent = subJobs.job(id)
      if let parent, !parent.status.isFinal, parent.attempt == SubJobs.attempt(ofRun: run) { continue }
      let directory = root + "/" + name
      let lock = lock(directory)
      // A piece fetching it now holds the lock: leave it to a later sweep.
      guard lock.try() else { continue }
      try? FileManager.default.removeItem(atPath: directory)
      lock.unlock()
      _ = locks.withLock { $0.removeValue(forKey: directory) }
    }
  }
}
