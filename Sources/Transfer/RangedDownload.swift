import CCurl
import Foundation
import Synchronization

extension TransferClient {
  /// Fetches bytes `start..<total` of `hop` into `fd` in `settings.downloadPartSize` parts,
  /// `settings.downloadConnections` at a time, each part written in place at its offset and retried (resuming
  /// where it stopped) on its own. Every part asks for the version the first part came from (`If-Range`): an
  /// object that changed meanwhile ends the download with an error another attempt of the job repeats whole.
  func downloadParts(
    _ hop: OutboundRequest, into fd: Int32, from start: Int64, to total: Int64, validator: String?,
    progress: PartProgress
  ) throws(TransferError) {
    let size = settings.downloadPartSize
    let parts = stride(from: start, to: total, by: Int(size)).map { $0..<min(total, $0 + size) }
    let state = Mutex((next: 0, failure: TransferError?.none))
    let group = DispatchGroup()
    // Threads of their own, not concurrentPerform (capped at the core count): parts wait on the network.
    for _ in 0..<min(settings.downloadConnections, parts.count) {
      group.enter()
      Thread {
        defer { group.leave() }
        while let index = state.withLock({ s -> Int? in
          guard s.failure == nil, s.next < parts.count else { return nil }
          defer { s.next += 1 }
          return s.next
        }) {
          do throws(TransferError) {
            try downloadPart(hop, range: parts[index], into: fd, validator: validator, progress: progress) {
              state.withLock { $0.failure != nil }
            }
          } catch {
            state.withLock { if $0.failure == nil { $0.failure = error } }
          }
        }
      }.start()
    }
    group.wait()
    if let failure = state.withLock({ $0.failure }) { throw failure }
  }

  /// One part: `Range: bytes=a-b` until all of it is in, resuming after a failure where it stopped.
  private func downloadPart(
    _ request: OutboundRequest, range: Range<Int64>, into fd: Int32, validator: String?, progress: PartProgress,
    stopped: @escaping () -> Bool
  ) throws(TransferError) {
    let sink = PartSink(fd: fd, range: range, progress: progress, stopped: stopped)
    _ = try withAttempts(request) { hop throws(TransferError) -> Outcome in
      var hop = hop
      if let validator { hop.headers.append((name: "If-Range", value: validator)) }
      let (curl, gate) = try connect(hop)
      sink.install(on: curl)
      curl.set(CURLOPT_RANGE, "\(range.lowerBound + sink.received)-\(range.upperBound - 1)")
      curl.set(CURLOPT_HTTPGET, 1)
      let code = withExtendedLifetime((sink, gate)) { curl.perform() }
      if let refusal = gate.refusal { throw .refused(refusal) }
      if sink.cancelled { throw .cancelled }
      if let failure = sink.failure { throw failure }
      if code == CURLE_OK, sink.response.isSuccess, sink.received != Int64(range.count) {
        return .retry(
          .network("a part ended after \(sink.received) of \(range.count) bytes"), retryAfter: nil,
          connectionFailure: true)
      }
      return try outcome(code, curl, sink.response) {
        TransferResult(bytes: sink.received, attempts: 0, contentType: nil, etag: nil)
      }
    }
  }
}

/// The progress of a download in parts: the bytes of every part so far, reported through the caller's
/// closure one call at a time (parts run on several threads).
final class PartProgress: @unchecked Sendable {
  private let lock = NSLock()
  private var done: Int64
  private let total: Int64
  private let report: (Int64, Int64?) -> Bool
  private var cancelled = false

  init(first: Int64, total: Int64, report: @escaping (Int64, Int64?) -> Bool) {
    done = first
    self.total = total
    self.report = report
  }

  /// Adds `bytes`; false once the caller cancelled.
  func add(_ bytes: Int64) -> Bool {
    lock.withLock {
      done += bytes
      if !cancelled && !report(done, total) { cancelled = true }
      return !cancelled
    }
  }
}

/// Where one part's body goes: written in place at the part's offset, only a 206 for exactly the asked
/// bytes, never past the part's end. Used from the thread running `curl_easy_perform` only.
final class PartSink: CurlReceiver {
  let fd: Int32
  let range: Range<Int64>
  let progress: PartProgress
  let stopped: () -> Bool
  private(set) var response = ResponseRecorder()
  /// Bytes of the part written (across attempts).
  private(set) var received: Int64 = 0
  private var bodyStarted = false
  var cancelled = false
  /// Why the part cannot be fetched at all.
  var failure: TransferError?

  init(fd: Int32, range: Range<Int64>, progress: PartProgress, stopped: @escaping () -> Bool) {
    self.fd = fd
    self.range = range
    self.progress = progress
    self.stopped = stopped
  }

  func install(on curl: CurlEasy) {
    response = ResponseRecorder()
    bodyStarted = false
    response.install(on: curl)
    installCallbacks(on: curl)
  }

  func onBody(_ bytes: UnsafeRawBufferPointer) -> Int {
    if !bodyStarted {
      bodyStarted = true
      if response.isSuccess {
        // Exactly the bytes asked for, or the object is not the one the first part came from.
        let expected = range.lowerBound + received
        let answered = response.header("Content-Range").flatMap { header -> Int64? in
          let spec = header.replacingOccurrences(of: "bytes ", with: "")
          return Int64(spec.split(separator: "-").first ?? "")
        }
        guard response.status == 206, answered == expected else {
          failure = .network("the source changed or stopped taking ranges during the download")
          return 0
        }
      }
    }
    guard response.isSuccess else {
      response.captureErrorBody(bytes)
      return bytes.count
    }
    let count = Int(min(Int64(bytes.count), Int64(range.count) - received))
    var offset = 0
    while offset < count {
      let n = pwrite(
        fd, bytes.baseAddress! + offset, count - offset, off_t(range.lowerBound + received) + off_t(offset))
      if n < 0 {
        if errno == EINTR { continue }
        failure = .local("cannot write the work file: \(String(cString: strerror(errno)))")
        return 0
      }
      offset += n
    }
    received += Int64(count)
    if !progress.add(Int64(count)) {
      cancelled = true
      return 0
    }
    return count
  }

  func proceed() -> Bool {
    // Another part failed: this one stops too (the download fails whole).
    if stopped() {
      cancelled = true
      return false
    }
    return true
  }
}
