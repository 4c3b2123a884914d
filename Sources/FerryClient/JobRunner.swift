import Foundation
import JSON

/// What a submitted job came to.
public struct JobOutcome: Sendable {
  public var jobID: String
  /// The job's last status envelope (nil with `--no-wait`).
  public var envelope: JSONValue?
  /// The local file written, and its size, when OUT was a local file.
  public var written: (path: String, bytes: Int64)?
}

/// Runs one job the way the client subcommands do: local IN uploaded to a fresh `dlb://` key, the job
/// submitted (its output a fresh `dlb://` key when OUT is local), polled until it ends while the progress
/// display follows it, and the output downloaded to OUT. Every wait is bounded by `timeout`.
public final class JobRunner {
  public let api: FerryAPIClient
  public let progress: ProgressReporter
  /// Seconds between status polls.
  public var pollInterval: Double
  /// Seconds to wait for the job to end before giving up (it keeps running on the server).
  public var timeout: Double
  /// Told the job's id once it is submitted and the partial download's path, for Ctrl-C.
  public var interrupt: InterruptNotice?
  private let now: () -> Double
  private let sleep: (Double) -> Void

  public init(
    api: FerryAPIClient, progress: ProgressReporter, pollInterval: Double = 0.5, timeout: Double = 86400,
    now: @escaping () -> Double = { ProcessInfo.processInfo.systemUptime },
    sleep: @escaping (Double) -> Void = { Thread.sleep(forTimeInterval: $0) }
  ) {
    self.api = api
    self.progress = progress
    self.pollInterval = pollInterval
    self.timeout = timeout
    self.now = now
    self.sleep = sleep
  }

  /// Submits `request` and, when `wait`, follows the job to its end; a job that did not succeed throws.
  public func run(_ request: JobRequest, wait: Bool) throws(ClientError) -> JobOutcome {
    if case .local(let path) = request.input { try Self.checkReadable(path) }
    if case .local(let path)? = request.output { try Self.checkWritable(path) }
    try api.authenticate()

    // One fresh folder of dlb:// keys per run: two runs never see each other's files.
    let session = "ferry-cli/" + UUID().uuidString.lowercased()
    let input: String
    switch request.input {
    case .remote(let url): input = url
    case .local(let path):
      let key = "\(session)/in/\(Self.keySegment(request.input.fileName))"
      let phase = "upload \(request.input.fileName)"
      progress.update(stage: .upload, phase: phase, percent: 0, bytesDone: 0)
      try api.upload(file: path, to: key) { [progress] done, total in
        progress.update(
          stage: .upload, phase: phase, percent: total.map { $0 > 0 ? Int(done * 100 / $0) : 100 }, bytesDone: done,
          bytesTotal: total)
        return true
      }
      input = "dlb://\(key)"
    }
    let outputKey: String?
    switch request.output {
    case .remote: outputKey = nil
    case .local: outputKey = "\(session)/out/\(Self.keySegment(request.output!.fileName))"
    case nil: outputKey = request.operation == .diagnose ? nil : "\(session)/result.json"
    }
    let output: String? =
      if case .remote(let url)? = request.output { url } else { outputKey.map { "dlb://\($0)" } }

    let answer = try api.json("POST", request.operation.path, body: request.body(input, output))
    guard let jobID = answer.object?["job_id"]?.string else {
      throw ClientError(.failure, "POST \(request.operation.path) answered no job_id")
    }
    // A local OUT is downloaded only by a client that waits to the end: one that stops waiting (--no-wait,
    // --timeout, Ctrl-C) says where the job writes the result, or it is lost to the user.
    let resultKey: String? = if case .local? = request.output { outputKey } else { nil }
    interrupt?.waiting(for: jobID, resultKey: resultKey)
    guard wait else {
      progress.finish()
      if let resultKey, case .local(let path)? = request.output {
        // On stderr whatever --quiet says (stdout keeps only the job id for scripts).
        let text = "job \(jobID): not waiting, so \(path) will not be written; " + Self.resultNotice(resultKey)
        FileHandle.standardError.write(Data(text.utf8))
      }
      return JobOutcome(jobID: jobID)
    }
    progress.note("job \(jobID) submitted")
    let envelope: JSONValue
    do {
      envelope = try follow(jobID, operation: request.operation)
    } catch  where error.exit == .timedOut && resultKey != nil {
      throw ClientError(.timedOut, error.message + "; " + Self.resultNotice(resultKey!).dropLast())
    }
    let status = envelope.object?["status"]?.string ?? ""
    switch status {
    case "Success": break
    case "Cancelled":
      progress.finish()
      throw ClientError(.jobCancelled, "job \(jobID) was cancelled")
    default:
      progress.finish()
      let error = envelope.object?["error"]?.object ?? [:]
      let type = error["type"]?.string.map { "\($0): " } ?? ""
      let detail = error["detail"]?.string ?? error["title"]?.string ?? "no detail"
      throw ClientError(.jobFailed, "job \(jobID) ended \(status): \(type)\(detail)")
    }
    var outcome = JobOutcome(jobID: jobID, envelope: envelope)
    if case .local(let path)? = request.output, let outputKey {
      outcome.written = (path, try download(outputKey, to: path, name: request.output!.fileName))
    }
    progress.finish()
    return outcome
  }

  /// The line that names where a job writes the result a client did not wait to download.
  static func resultNotice(_ key: String) -> String {
    "the result goes to dlb://\(key) (GET /media/output?url=dlb://\(key) once the job succeeds)\n"
  }

  /// How long `follow` keeps polling a server it cannot reach before it gives up (exit 69).
  static let outageTolerance: Double = 60

  /// Polls the job until it ends or `timeout` passes, reporting its phase and progress.
  func follow(_ jobID: String, operation: JobOperation) throws(ClientError) -> JSONValue {
    let deadline = now() + timeout
    // A server restarting (or a load balancer switching nodes) must not end the wait: the job is stored and
    // keeps running. Polls that cannot reach the server are retried for up to `outageTolerance` seconds.
    var unreachableSince: Double?
    while true {
      let envelope: JSONValue
      do {
        envelope = try api.json("GET", operation.path, query: [("job_id", jobID)])
        unreachableSince = nil
      } catch  where error.exit == .unreachable {
        let since = unreachableSince ?? now()
        unreachableSince = since
        guard now() - since < Self.outageTolerance, now() < deadline else { throw error }
        sleep(min(2, max(0, deadline - now())))
        continue
      }
      let fields = envelope.object ?? [:]
      let status = fields["status"]?.string ?? ""
      let percent = fields["progress"]?.number.map { Int($0) }
      let phase = Self.phaseLabel(status: status, phase: fields["phase"]?.string)
      let total = fields["bytes_total"]?.number.map { Int64($0) }
      // Bytes mean something only while the job moves a file (a finished job keeps its last phase).
      let moving =
        status == "Running" && (fields["phase"]?.string == "downloading" || fields["phase"]?.string == "uploading")
      let done = moving ? fields["bytes_done"]?.number.map { Int64($0) } : nil
      progress.update(stage: .job, phase: phase, percent: percent, bytesDone: done, bytesTotal: moving ? total : nil)
      if !["Pending", "Running"].contains(status) { return envelope }
      guard now() < deadline else {
        progress.finish()
        throw ClientError(
          .timedOut, "job \(jobID) is still \(status) after \(Int(timeout)) s; it keeps running (ferry cancel \(jobID))"
        )
      }
      sleep(min(pollInterval, max(0, deadline - now())))
    }
  }

  /// Downloads `key` next to `path` and renames it into place; the file's size.
  func download(_ key: String, to path: String, name: String) throws(ClientError) -> Int64 {
    let directory = (path as NSString).deletingLastPathComponent
    let partial =
      (directory.isEmpty ? "" : directory + "/") + ".\(Self.prefix(Self.keySegment(name), maxBytes: 200))"
      + ".ferry-\(UUID().uuidString.prefix(8)).part"
    let phase = "download \(name)"
    var received: Int64 = 0
    progress.update(stage: .download, phase: phase, percent: 0, bytesDone: 0)
    interrupt?.downloading(to: partial)
    defer { interrupt?.downloading(to: nil) }
    try api.download(key: key, to: partial) { [progress] done, total in
      received = done
      // Before the answer's headers curl knows no total: that is still 0%, not an unknown share.
      let percent = total.map { $0 > 0 ? Int(done * 100 / $0) : 100 } ?? (done == 0 ? 0 : nil)
      progress.update(stage: .download, phase: phase, percent: percent, bytesDone: done, bytesTotal: total)
      return true
    }
    progress.update(stage: .download, phase: phase, percent: 100, bytesDone: received, bytesTotal: received)
    // The download is created 0600; the result is an ordinary file of the user's, as `cp` would make it.
    let mask = umask(0)
    umask(mask)
    chmod(partial, 0o666 & ~mask)
    guard rename(partial, path) == 0 else {
      let reason = String(cString: strerror(errno))
      unlink(partial)
      throw ClientError(.failure, "cannot write \(path): \(reason)")
    }
    return received
  }

  /// How a job's status and phase read on the progress line.
  static func phaseLabel(status: String, phase: String?) -> String {
    switch status {
    case "Pending": return "queued"
    case "Running":
      switch phase {
      case "downloading": return "fetching input"
      case "uploading": return "writing output"
      case "queued": return "starting"
      default: return "processing"
      }
    case "Success": return "done"
    case "Cancelled": return "cancelled"
    case "": return "waiting"
    default: return "failed"
    }
  }

  /// A file name usable as one `dlb://` key segment (no control characters, not empty, `.` or `..`).
  /// The longest prefix of `text` in at most `maxBytes` UTF-8 bytes, cut between characters: the partial
  /// download's name stays within the file system's 255 bytes whatever the output's name.
  static func prefix(_ text: String, maxBytes: Int) -> String {
    var result = ""
    var bytes = 0
    for character in text {
      bytes += character.utf8.count
      guard bytes <= maxBytes else { break }
      result.append(character)
    }
    return result
  }

  static func keySegment(_ name: String) -> String {
    let cleaned = String(name.unicodeScalars.map { $0.properties.generalCategory == .control ? "_" : Character($0) })
    return cleaned.isEmpty || cleaned == "." || cleaned == ".." ? "file" : cleaned
  }

  static func checkReadable(_ path: String) throws(ClientError) {
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
      throw ClientError(.noInput, "\(path): no such file")
    }
    guard !isDirectory.boolValue, FileManager.default.isReadableFile(atPath: path) else {
      throw ClientError(.noInput, "\(path): not a readable file")
    }
  }

  static func checkWritable(_ path: String) throws(ClientError) {
    var isDirectory: ObjCBool = false
    if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue {
      throw ClientError(.usage, "\(path) is a directory; name the output file")
    }
    let directory = (path as NSString).deletingLastPathComponent
    let folder = directory.isEmpty ? "." : directory
    guard FileManager.default.isWritableFile(atPath: folder) else {
      throw ClientError(.failure, "cannot write \(path): \(folder) is not a writable directory")
    }
  }
}
