import CCurl
import Foundation

/// The status and headers of the response in progress, and the start of an error body; curl's header
/// callback feeds it.
final class ResponseRecorder {
  private(set) var status = 0
  private(set) var headers: [(String, String)] = []
  private var errorBody: [UInt8] = []

  /// Makes `curl` report header lines here; the recorder must outlive the transfer.
  func install(on curl: CurlEasy) {
    curl.set(CURLOPT_HEADERDATA, pointer: Unmanaged.passUnretained(self).toOpaque())
    ferry_curl_setopt_datacb(curl.handle, CURLOPT_HEADERFUNCTION, ResponseRecorder.headerLine)
  }

  var isSuccess: Bool { (200..<300).contains(status) }

  func header(_ name: String) -> String? {
    headers.last { $0.0.caseInsensitiveCompare(name) == .orderedSame }?.1
  }

  /// `Retry-After` in seconds (the date form is ignored: backoff applies).
  func retryAfter() -> Duration? {
    guard let value = header("Retry-After"), let seconds = Int(value.trimmingCharacters(in: .whitespaces)), seconds >= 0
    else { return nil }
    return .seconds(seconds)
  }

  /// Keeps the first 4 KiB of an error answer's body.
  func captureErrorBody(_ bytes: UnsafeRawBufferPointer) {
    if errorBody.count < 4096 { errorBody.append(contentsOf: bytes.prefix(4096 - errorBody.count)) }
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

  private func onLine(_ line: String) {
    if line.hasPrefix("HTTP/") {
      // A new response (after a 100 Continue, or the next attempt): forget the previous one.
      headers = []
      errorBody = []
      status = Int(line.split(separator: " ").dropFirst().first ?? "") ?? 0
      return
    }
    guard let colon = line.firstIndex(of: ":") else { return }
    headers.append(
      (String(line[..<colon]), line[line.index(after: colon)...].trimmingCharacters(in: .whitespacesAndNewlines)))
  }

  private static let headerLine: ferry_curl_data_cb = { data, size, count, context in
    let recorder = Unmanaged<ResponseRecorder>.fromOpaque(context!).takeUnretainedValue()
    recorder.onLine(String(decoding: UnsafeRawBufferPointer(start: data, count: size * count), as: UTF8.self))
    return size * count
  }
}
