import Foundation
import JSON
import Jobs
import Locations
import Problems

/// `POST /media/transcode`: one input to several outputs (audio formats, mp4/mov/webm video, jpg
/// thumbnails, hls streams) in one ffmpeg pass, each delivered to its destination.
public struct TranscodeOperation: JobOperation {
  public let path = "/media/transcode"
  let work: TranscodeWork

  public init(transfers: JobTransfers, tools: MediaTools) {
    work = TranscodeWork(transfers: transfers, tools: tools)
  }

  public func validate(_ request: JSONValue) throws(InvalidRequest) -> TranscodeSpec {
    try TranscodeSpec(request: request)
  }

  public func run(_ spec: TranscodeSpec, context: JobContext) throws -> String {
    try work.run(spec, context: context)
  }
}

struct TranscodeWork {
  let transfers: JobTransfers
  let tools: MediaTools

  func run(_ spec: TranscodeSpec, context: JobContext) throws -> String {
    // hls outputs learn whether they carry video from the input.
    var request = spec
    let inputFile = context.workDirectory + "/input"
    // ffmpeg reads the input as it arrives where its container allows (not with a start offset, which a
    // stream can only reach by reading up to it).
    let input = try ArrivingInput.begin(
      request.input, field: "inputs[0].source", to: inputFile, overlap: request.segmentStart == nil,
      transfers: transfers, tools: tools, context: context, share: 0...25, requireAudio: false)
    defer { input.end() }
    let info = try input.info()
    for (index, output) in request.outputs.enumerated() {
      // An hls stream carries video when the input has some, unless the request left it out.
      if output.kind.isStream { request.outputs[index].carriesVideo = output.carriesVideo ?? info.hasVideo }
      let needsVideo =
        output.kind == .jpg || output.kind.isVideoFile
        || request.outputs[index].carriesVideo == true
      if needsVideo && !info.hasVideo {
        throw JobFailure(
          .unsupportedMedia, "outputs[\(index)]: a \(output.kind.rawValue) output needs video, and the input has none")
      }
      if !needsVideo && info.audioCodec == nil {
        throw JobFailure(
          .unsupportedMedia, "outputs[\(index)]: a \(output.kind.rawValue) output needs audio, and the input has none")
      }
    }
    if let start = request.segmentStart, let length = info.duration, start >= length {
      throw JobFailure(
        .unsupportedMedia,
        "inputs[0].segment.start: \(EnhanceCommand.number(start)) s is past the input's end (\(EnhanceCommand.number(length)) s)"
      )
    }
    let duration = request.segmentDuration ?? info.duration.map { $0 - (request.segmentStart ?? 0) }
    for (index, output) in request.outputs.enumerated() where output.kind.isStream {
      let folder = context.workDirectory + "/" + TranscodeCommand.streamDirectory(index: index)
      do {
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
      } catch {
        throw JobFailure(.internalError, "outputs[\(index)]: cannot make the work folder", retry: true)
      }
    }
    // Outputs that can go up while ffmpeg writes them start as soon as they are large enough.
    let growing = GrowingOutputs.start(
      request, directory: context.workDirectory, transfers: transfers, context: context)
    defer { growing.abandon() }
    // A long video may be encoded in pieces across the workers and nodes instead (TranscodeOperation+Split);
    // its keyframes are listed from the whole input, so that path waits for the last byte.
    if try !encodeSplit(request, input: input, info: info, context: context) {
      try input.ffmpeg(
        TranscodeCommand.arguments(request, input: inputFile, directory: context.workDirectory), duration: duration,
        share: 25...80, beforeRerun: { growing.abandon() })
    }
    growing.finished()

    var results: [JSONValue] = []
    let step = 19 / max(1, request.outputs.count)
    for (index, output) in request.outputs.enumerated() {
      let start = 80 + index * step
      if output.kind == .hls {
        results.append(try deliverHLS(output, index: index, context: context, share: start...(start + step)))
        continue
      }
      if output.kind == .dash {
        results.append(try deliverDASH(output, index: index, context: context, share: start...(start + step)))
        continue
      }
      let file = context.workDirectory + "/" + TranscodeCommand.fileName(index: index, kind: output.kind)
      let size = FileManager.default.fileSize(file)
      guard size > 0 else {
        throw JobFailure(
          .processingFailed, "outputs[\(index)]: ffmpeg wrote nothing (is the offset past the end of the input?)")
      }
      if !growing.delivered(index) {
        try transfers.deliver(
          file: file, to: output.destination, field: "outputs[\(index)].destination",
          contentType: output.kind.contentType, context: context, share: start...(start + step))
      }
      results.append(.object(["id": .string(output.id), "kind": .string(output.kind.rawValue), "size": .int(size)]))
    }
    return JSONValue.object(["outputs": .array(results), "version": .string(tools.version)]).description
  }
}

extension FileManager {
  /// The size of the file at `path`, 0 when it is missing.
  func fileSize(_ path: String) -> Int {
    ((try? attributesOfItem(atPath: path))?[.size] as? NSNumber)?.intValue ?? 0
  }
}
