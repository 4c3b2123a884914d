import Foundation
import JSON
import Jobs
import Problems

extension TranscodeWork {
  /// Uploads what ffmpeg wrote for dash output `index` under its destination folder: every segment (init
  /// segments first), then the manifest, so a reader never finds a manifest naming a segment that is not
  /// there yet. Returns the output's result entry.
  func deliverDASH(_ output: TranscodeSpec.Output, index: Int, context: JobContext, share: ClosedRange<Int>)
    throws(JobFailure) -> JSONValue
  {
    let (folder, failed) = Self.stream(index, context: context)
    let manifest = TranscodeCommand.dashManifest
    guard let text = try? String(contentsOfFile: folder + "/" + manifest, encoding: .utf8), text.contains("<MPD")
    else {
      throw failed("ffmpeg wrote no dash manifest (is the segment past the end of the input?)")
    }
    let names = ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).filter { $0 != manifest }
    // Only the files ffmpeg was told to write: nothing else in the folder is uploaded.
    let segments = names.filter { $0.hasPrefix("chunk-") && $0.hasSuffix(".m4s") }
    let inits = names.filter { $0.hasPrefix("init-") && $0.hasSuffix(".m4s") }
    guard !segments.isEmpty, !inits.isEmpty else { throw failed("ffmpeg wrote no dash segments") }
    let ordered = inits.sorted() + segments.sorted() + [manifest]
    let sizes = ordered.map { FileManager.default.fileSize(folder + "/" + $0) }
    guard !sizes.contains(0) else { throw failed("ffmpeg wrote an empty dash file") }
    let done = try deliverFolder(
      ordered, sizes: sizes, of: output, index: index, contentType: TranscodeCommand.dashContentType,
      context: context, share: share)
    return .object([
      "id": .string(output.id), "kind": .string("dash"), "manifest": Self.url(of: manifest, in: output),
      "segments": .int(segments.count), "size": .int(done),
    ])
  }
}
