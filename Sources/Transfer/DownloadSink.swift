import CCurl
import Foundation

/// Where a download's body goes: the work file, with the size limit, the resume checks and progress. Used
/// from the thread running `curl_easy_perform` only.
final class DownloadSink: CurlReceiver {
  let fd: Int32
  let limit: Int64
  let progress: (Int64, Int64?) -> Bool
  /// The current attempt's response.
  private(set) var response = ResponseRecorder()
  /// Bytes in the work file (across attempts).
  private(set) var received: Int64 = 0
  /// The full size, once a response said it.
  private(set) var total: Int64?
  /// The whole body's ETag (or Last-Modified), sent as `If-Range` when resuming.
  private(set) var validator: String?
  private var bodyStarted = false
  private var resuming = false

  /// A fresh whole body of at least this many bytes from a server that takes ranges is split: this stream
  /// stops at `splitAt` and the rest is fetched in parts (`TransferClient.downloadParts`). Nil: never.
  var splitAbove: Int64?
  /// Where this stream stops, once the body was split.
  private(set) var splitAt: Int64?

  var tooLarge = false
  var cancelled = false
  var restartFromZero = false
  var localFailure: String?

  init(fd: Int32, limit: Int64, progress: @escaping (Int64, Int64?) -> Bool) {
    self.fd = fd
    self.limit = limit
    self.progress = progress
  }

  /// Prepares for the next attempt and makes `curl` deliver its body and headers here.
  func install(on curl: CurlEasy, resuming: Bool) {
    self.resuming = resuming
    response = ResponseRecorder()
    bodyStarted = false
    restartFromZero = false
    response.install(on: curl)
    installCallbacks(on: curl)
  }

  /// Decides, at the first body byte of a 2xx answer, what the body means for the work file.
  private func beginBody() -> Bool {
    bodyStarted = true
    guard response.isSuccess else { return true }
    if response.status == 206, resuming {
      // `bytes START-END/TOTAL`: it must continue exactly where the file ends.
      let range = response.header("Content-Range") ?? ""
      let parts = range.replacingOccurrences(of: "bytes ", with: "").split(separator: "/")
      let start = parts.first.flatMap { Int64($0.split(separator: "-").first ?? "") }
      guard start == received else {
        truncate()
        restartFromZero = true
        return false
      }
      total = parts.count == 2 ? Int64(parts[1]) : nil
    } else {
      // A whole body: start the file over (a server that ignored Range, or a changed object, sends it all).
      if received > 0 { truncate() }
      total = response.header("Content-Length").flatMap { Int64($0) }
      validator = response.header("ETag") ?? response.header("Last-Modified")
      splitAt = nil
      if let splitAbove, let total, total >= splitAbove, validator != nil,
        response.header("Accept-Ranges")?.lowercased().contains("bytes") == true
      {
        splitAt = splitAbove / 2
      }
    }
    if let total, total > limit {
      tooLarge = true
      return false
    }
    return true
  }

  private func truncate() {
    _ = ftruncate(fd, 0)
    _ = lseek(fd, 0, SEEK_SET)
    received = 0
  }

  func onBody(_ bytes: UnsafeRawBufferPointer) -> Int {
    if !bodyStarted, !beginBody() { return 0 }
    guard response.isSuccess else {
      response.captureErrorBody(bytes)
      return bytes.count
    }
    guard received + Int64(bytes.count) <= limit else {
      tooLarge = true
      return 0
    }
    // A split body: this stream keeps its first part only (returning short closes the connection).
    let count = splitAt.map { Int(min(Int64(bytes.count), $0 - received)) } ?? bytes.count
    var offset = 0
    while offset < count {
      let n = Foundation.write(fd, bytes.baseAddress! + offset, count - offset)
      if n < 0 {
        if errno == EINTR { continue }
        localFailure = "cannot write the work file: \(String(cString: strerror(errno)))"
        return 0
      }
      offset += n
    }
    received += Int64(count)
    return count
  }

  func proceed() -> Bool {
    if !progress(received, total) {
      cancelled = true
      return false
    }
    return true
  }
}
