import Foundation
import JSON
import Jobs
import Locations
import Problems

/// One piece of a split transcode, stored by the parent as a sub-job (`SubJobs`): which input, which frames,
/// and the video settings of the parent's output.
public struct TranscodePieceSpec: JobSpec {
  /// The transcode job the piece belongs to, and its attempt that made the piece.
  public var parent: UUID
  public var attempt: Int
  public var index: Int
  /// The parent's input, for a node that does not hold the parent's work file.
  public var input: Location
  public var piece: TranscodeSplit.Piece
  /// The parent's output (its video settings).
  public var output: TranscodeSpec.Output

  public var reads: [Location] { [input] }
  public var writes: [Location] { [] }

  /// The `dlb://` key, in the parent's app's temporary storage, a piece encoded on another node is left at.
  public var storageKey: String { Self.storageKey(parent: parent, attempt: attempt, index: index) }
  /// The piece's file name in the parent's work directory.
  public var fileName: String { Self.fileName(attempt: attempt, index: index) }

  static func storageKey(parent: UUID, attempt: Int, index: Int) -> String {
    "ferry-pieces/\(parent.text)/\(attempt)-\(index).mp4"
  }

  static func fileName(attempt: Int, index: Int) -> String { "piece-\(attempt)-\(index).mp4" }
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
    // A piece of an attempt that ended (the parent failed, was cancelled or was taken back) is not worth encoding.
    if let parent = context.subJobs?.job(spec.parent), parent.status.isFinal || parent.attempt != spec.attempt {
      throw JobFailure(.processingFailed, "the transcode this piece belongs to is no longer running it")
    }
    let parentDirectory = (context.workDirectory as NSString).deletingLastPathComponent + "/" + spec.parent.text
    let parentInput = parentDirectory + "/input"
    let local = FileManager.default.fileExists(atPath: parentInput)
    let input: String
    if local {
      input = parentInput
    } else {
      input = context.workDirectory + "/input"
      try transfers.fetch(spec.input, field: "inputs[0].source", to: input, context: context, share: 0...30)
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
