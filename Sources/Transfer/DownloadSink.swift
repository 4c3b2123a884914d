import CCurl
import Foundation

/// The state libcurl's callbacks share during one download: the work file, the bytes so far, the current
/// response's headers, and what went wrong. Used from the thread running `curl_easy_perform` only.
final class DownloadSink {
  let fd: Int32
  let limit: Int64
  let progress: (Int64, Int64?) -> Bool
  /// Bytes in the work file (across attempts).
  private(set) var received: Int64 = 0
  /// The full size, once a response said it.
  private(set) var total: Int64?
  private var headers: [(String, String)] = []
  private var status = 0
  private var bodyStarted = false
  private var resuming = false
  private var errorBody: [UInt8] = []

  var tooLarge = false
  var cancelled = false
  var restartFromZero = false
  var localFailure: String?
  var refusedConnection: String?

  // For the connect-time check.
  var allowed: Set<IPAddress> = []
  var policy = NetworkPolicy()
  var host = ""
  var port = 0

  init(fd: Int32, limit: Int64, progress: @escaping (Int64, Int64?) -> Bool) {
    self.fd = fd
    self.limit = limit
    self.progress = progress
  }

  func startAttempt(resuming: Bool) {
    self.resuming = resuming
    headers = []
    status = 0
    bodyStarted = false
    errorBody = []
    restartFromZero = false
  }

  func header(_ name: String) -> String? {
    headers.last { $0.0.caseInsensitiveCompare(name) == .orderedSame }?.1
  }

  func retryAfter() -> Duration? {
    guard let value = header("Retry-After"), let seconds = Int(value.trimmingCharacters(in: .whitespaces)), seconds >= 0
    else { return nil }
    return .seconds(seconds)
  }

  /// A short, safe description of an error answer: S3's `<Code>` and `<Message>` when present, else nothing
  /// (bodies can echo what was sent, signatures included).
  func errorDetail() -> String {
    let text = String(decoding: errorBody, as: UTF8.self)
    func element(_ name: String) -> String? {
      guard let start = text.range(of: "<\(name)>"),
        let end = text.range(of: "</\(name)>", range: start.upperBound..<text.endIndex)
      else { return nil }
      let value = text[start.upperBound..<end.lowerBound]
      return value.count <= 200 && !value.contains("<") ? String(value) : nil
    }
    return [element("Code"), element("Message")].compactMap { $0 }.joined(separator: ": ")
  }

  // MARK: Callbacks

  private func onHeader(_ line: String) {
    if line.hasPrefix("HTTP/") {
      headers = []
      status = Int(line.split(separator: " ").dropFirst().first ?? "") ?? 0
      return
    }
    guard let colon = line.firstIndex(of: ":") else { return }
    headers.append(
      (String(line[..<colon]), line[line.index(after: colon)...].trimmingCharacters(in: .whitespacesAndNewlines)))
  }

  /// Decides, at the first body byte of a 2xx answer, what the body means for the work file.
  private func beginBody() -> Bool {
    bodyStarted = true
    guard (200..<300).contains(status) else { return true }
    if status == 206, resuming {
      // `bytes START-END/TOTAL`: it must continue exactly where the file ends.
      let range = header("Content-Range") ?? ""
      let parts = range.replacingOccurrences(of: "bytes ", with: "").split(separator: "/")
      let start = parts.first.flatMap { Int64($0.split(separator: "-").first ?? "") }
      guard start == received else {
        truncate()
        restartFromZero = true
        return false
      }
      total = parts.count == 2 ? Int64(parts[1]) : nil
    } else {
      // A whole body: start the file over (a server that ignored Range sends everything again).
      if received > 0 { truncate() }
      total = header("Content-Length").flatMap { Int64($0) }
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

  private func onBody(_ bytes: UnsafeRawBufferPointer) -> Int {
    if !bodyStarted, !beginBody() { return 0 }
    guard (200..<300).contains(status) else {
      if errorBody.count < 4096 { errorBody.append(contentsOf: bytes.prefix(4096 - errorBody.count)) }
      return bytes.count
    }
    guard received + Int64(bytes.count) <= limit else {
      tooLarge = true
      return 0
    }
    var offset = 0
    while offset < bytes.count {
      let n = Foundation.write(fd, bytes.baseAddress! + offset, bytes.count - offset)
      if n < 0 {
        if errno == EINTR { continue }
        localFailure = "cannot write the work file: \(String(cString: strerror(errno)))"
        return 0
      }
      offset += n
    }
    received += Int64(bytes.count)
    return bytes.count
  }

  private func onOpenSocket(family: Int32, type: Int32, proto: Int32, address: IPAddress?) -> Int32 {
    // The last gate: whatever curl decided to connect to must be an address the policy passed.
    guard let address, allowed.contains(address) else {
      let shown = address?.description ?? "an unknown address"
      refusedConnection =
        address.flatMap { policy.refusal(address: $0, port: port, host: host) }
        ?? "\(shown) was not among the checked addresses"
      return -1
    }
    return socket(family, type, proto)
  }

  // MARK: C entry points

  static let write: ferry_curl_data_cb = { data, size, count, context in
    let sink = Unmanaged<DownloadSink>.fromOpaque(context!).takeUnretainedValue()
    return sink.onBody(UnsafeRawBufferPointer(start: data, count: size * count))
  }

  static let header: ferry_curl_data_cb = { data, size, count, context in
    let sink = Unmanaged<DownloadSink>.fromOpaque(context!).takeUnretainedValue()
    let bytes = UnsafeRawBufferPointer(start: data, count: size * count)
    sink.onHeader(String(decoding: bytes, as: UTF8.self))
    return size * count
  }

  static let xferinfo: ferry_curl_xferinfo_cb = { context, _, downloaded, _, _ in
    let sink = Unmanaged<DownloadSink>.fromOpaque(context!).takeUnretainedValue()
    _ = downloaded
    if !sink.progress(sink.received, sink.total) {
      sink.cancelled = true
      return 1
    }
    return 0
  }

  static let openSocket: ferry_curl_opensocket_cb = { context, _, address in
    let sink = Unmanaged<DownloadSink>.fromOpaque(context!).takeUnretainedValue()
    guard let address else { return -1 }
    let offset = MemoryLayout<curl_sockaddr>.offset(of: \curl_sockaddr.addr)!
    let sockaddrPointer = (UnsafeMutableRawPointer(address) + offset).assumingMemoryBound(to: sockaddr.self)
    return sink.onOpenSocket(
      family: address.pointee.family, type: address.pointee.socktype, proto: address.pointee.protocol,
      address: SystemResolver.address(sockaddrPointer))
  }
}
