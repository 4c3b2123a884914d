import Foundation
import Jobs
import Locations
import Problems

extension TranscodeWork {
  /// Split and stitch (`TranscodeSplit`): when the transcode and its input qualify, encodes the output into the
  /// work directory from pieces that any worker of any node encodes, and returns true; false leaves the job to
  /// the one-pass encode.
  ///
  /// The pieces are sub-jobs of this run (`SubJobs`): stored, claimed and retried like jobs, each alone; this
  /// run encodes the audio once over the whole input meanwhile, then runs pending pieces itself while others
  /// run elsewhere, collects the encoded pieces, and joins them with the audio by stream copy.
  ///
  /// The pieces are cut at keyframes listed from the whole input: an input ffmpeg would read as it arrives is
  /// waited for when the head's length (unknown for some containers) does not rule splitting out.
  func encodeSplit(_ spec: TranscodeSpec, input arriving: ArrivingInput, info head: MediaInfo, context: JobContext)
    throws(JobFailure) -> Bool
  {
    guard let settings = tools.split, context.subJobs != nil, TranscodeSplit.splittable(spec), head.hasVideo,
      head.duration.map({ $0 >= settings.minDuration }) ?? true
    else { return false }
    let info = try arriving.waitForWhole(because: "a long video may be encoded in pieces") ?? head
    let input = arriving.path
    guard let subJobs = context.subJobs, info.hasVideo, let length = info.duration, length >= settings.minDuration
    else { return false }
    let pieces = try plan(input, settings: settings, context: context)
    guard !pieces.isEmpty else { return false }
    let output = spec.outputs[0]
    let job = context.job
    // Earlier runs of this job (its node died, or a shutdown stopped it) may have left pieces queued or
    // running: stop them. This run's pieces take the next run number of its attempt.
    var run: Int?
    for attempt in 1...job.attempt {
      let stored = subJobs.storedRuns(parent: job.id, attempt: attempt)
      for earlier in stored {
        subJobs.cancelNow(pieces.indices.map { SubJobs.id(parent: job.id, run: earlier, index: $0) })
      }
      if attempt == job.attempt {
        run = SubJobs.runs(ofAttempt: attempt).first { !stored.contains($0) }
      }
    }
    guard let run else {
      throw JobFailure(.internalError, "this attempt of the job was stopped too often", retry: true)
    }
    let ids = pieces.indices.map { SubJobs.id(parent: job.id, run: run, index: $0) }
    var jobs: [(id: UUID, path: String, payload: [UInt8])] = []
    for (index, piece) in pieces.enumerated() {
      let pieceSpec = TranscodePieceSpec(
        parent: job.id, run: run, index: index, input: spec.input, piece: piece, output: output)
      do {
        jobs.append((ids[index], TranscodePieceOperation.jobPath, try StoredRequest(spec: pieceSpec).encoded()))
      } catch {
        throw JobFailure(.internalError, "piece \(index) could not be encoded for the store")
      }
    }
    // Cancelling this job cancels every piece, wherever it runs; so does any way this run ends early.
    let registration = context.onCancel { subJobs.cancel(ids) }
    defer { registration.cancel() }
    var stitched = false
    defer { if !stitched { subJobs.cancel(ids) } }
    try subJobs.submit(jobs)
    let started = Date()
    context.logger.info(
      "transcode split", ["pieces": .int(pieces.count), "seconds": .double(length)])

    // The audio is encoded once over the whole input, on a thread of this run's own while the pieces run: a
    // node busy with it takes fewer pieces, where encoding it after the last piece would add its whole time to
    // the job's (a 10-minute AAC track takes about 20 s of one core).
    let audioFile = context.workDirectory + "/audio.mov"
    let audioRunner = ProcessRunner()
    let hasAudio = info.audioCodec != nil
    let (files, audio) = try MediaPieces.alongside(
      { [tools] () throws(JobFailure) -> String? in
        guard hasAudio else { return nil }
        try MediaSteps.ffmpeg(
          TranscodeSplit.audioArguments(output: output, input: input, file: audioFile), tools: tools,
          duration: length, context: context, share: 35...35, reports: false, runner: audioRunner)
        return audioFile
      }, discard: { _ in },
      main: { () throws(JobFailure) -> [String] in
        do throws(JobFailure) {
          return try waitForPieces(ids, run: run, pieces: pieces, context: context)
        } catch {
          audioRunner.cancel()
          throw error
        }
      })
    context.logger.info(
      "transcode pieces done", ["seconds": .double(Date().timeIntervalSince(started))])
    let list = context.workDirectory + "/pieces.txt"
    do {
      try TranscodeSplit.concatList(files).write(toFile: list, atomically: true, encoding: .utf8)
    } catch {
      throw JobFailure(.internalError, "cannot write the list of pieces", retry: true)
    }
    try MediaSteps.ffmpeg(
      TranscodeSplit.stitchArguments(
        output: output, list: list, audio: audio,
        file: context.workDirectory + "/" + TranscodeCommand.fileName(index: 0, kind: output.kind)),
      tools: tools, duration: length, context: context, share: 78...80)
    stitched = true
    context.logger.info("transcode stitched", ["seconds": .double(Date().timeIntervalSince(started))])
    return true
  }

  /// The pieces of the input's video (ffprobe lists its packets; nothing is decoded).
  private func plan(_ input: String, settings: SplitSettings, context: JobContext) throws(JobFailure)
    -> [TranscodeSplit.Piece]
  {
    var listing = TranscodeSplit.PacketListing()
    let exit = try MediaSteps.cancellable("ffprobe", context: context) { runner in
      try runner.run(tools.ffprobe, TranscodeSplit.probeArguments(input: input)) { listing.read($0) }
    }
    // A listing ffprobe could not finish: the one-pass encode reports what is wrong with the input.
    guard exit.status == 0 else { return [] }
    let times = listing.times
    return TranscodeSplit.plan(
      frameTimes: times.frames, keyFrames: times.keyFrames, pieceDuration: settings.pieceDuration)
  }

  /// Waits until every piece succeeded, running pending ones here meanwhile, and returns their files in order
  /// (fetched from temporary storage when another node encoded them). A piece that failed for good fails the
  /// job with its error.
  private func waitForPieces(
    _ ids: [UUID], run: Int, pieces: [TranscodeSplit.Piece], context: JobContext
  ) throws(JobFailure) -> [String] {
    guard let subJobs = context.subJobs else { return [] }
    var files = [String?](repeating: nil, count: ids.count)
    // Every piece ends (its lease runs out when its node dies, and its attempts are bounded): this bound is
    // only against a store that stopped answering for a day.
    let giveUp = Date() + 86400
    while files.contains(where: { $0 == nil }) {
      try context.checkCancelled()
      guard Date() < giveUp else {
        throw JobFailure(.internalError, "the pieces did not finish within a day", retry: true)
      }
      var progressed = false
      for (index, id) in ids.enumerated() where files[index] == nil {
        guard let piece = subJobs.job(id) else { continue }
        let name = "piece \(index + 1) of \(ids.count) (from \(TranscodeSplit.seconds(pieces[index].start)) s)"
        switch piece.status {
        case .success:
          files[index] = try collect(index: index, run: run, context: context)
          progressed = true
        case .failed, .internalError:
          let error = piece.error
          throw JobFailure(
            error?.problem ?? .processingFailed, "\(name): \(error?.detail ?? "failed")")
        case .cancelled:
          try context.checkCancelled()
          // A cancel taken by another node marks this job and its pieces at once; this node's next lease
          // check would tell it, but the cancelled piece may be seen first.
          if subJobs.job(context.job.id)?.cancelRequested == true { throw .cancelled }
          throw JobFailure(.processingFailed, "\(name) was cancelled")
        case .pending:
          if subJobs.runHere(id) { progressed = true }
        case .running:
          break
        }
      }
      let done = files.filter { $0 != nil }.count
      let progress = 35 + 43 * done / ids.count
      context.report(phase: .processing, progress: progress)
      // A quarter second: a piece takes seconds, and every look reads each unfinished piece from the store.
      if !progressed { Thread.sleep(forTimeInterval: 0.25) }
    }
    return files.map { $0! }
  }

  /// The file of piece `index`: in the work directory when this node encoded it, else fetched from temporary
  /// storage, where the node that encoded it left it.
  private func collect(index: Int, run: Int, context: JobContext) throws(JobFailure) -> String {
    let job = context.job
    let file = context.workDirectory + "/" + TranscodePieceSpec.fileName(run: run, index: index)
    if FileManager.default.fileExists(atPath: file) { return file }
    let key = TranscodePieceSpec.storageKey(parent: job.id, run: run, index: index)
    try transfers.fetch(Location(target: .dlb(key: key)), field: "piece", to: file, context: context, share: 35...35)
    return file
  }
}
