import CCurl
import Foundation

/// A request body from memory and the answer's body kept in memory (at most `maxAnswerBytes`, 1 MiB unless
/// asked): for the small calls around transfers (S3's multipart create, complete and abort, a HEAD), whose XML
/// answers or headers matter, and for the `ferry` client's JSON API calls.
final class MemoryExchange {
  let body: [UInt8]
  private var offset = 0
  private(set) var response = ResponseRecorder()
  private(set) var answer: [UInt8] = []
  let maxAnswerBytes: Int

  init(body: [UInt8], maxAnswerBytes: Int = 1 << 20) {
    self.body = body
    self.maxAnswerBytes = maxAnswerBytes
  }

  func install(on curl: CurlEasy, method: String) {
    offset = 0
    answer = []
    response = ResponseRecorder()
    response.install(on: curl)
    let context = Unmanaged.passUnretained(self).toOpaque()
    switch method {
    case "GET": curl.set(CURLOPT_HTTPGET, 1)
    // A HEAD answer announces a body it does not send: curl must not wait for it.
    case "HEAD": curl.set(CURLOPT_NOBODY, 1)
    case "POST":
      curl.set(CURLOPT_POST, 1)
      ferry_curl_setopt_off(curl.handle, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(body.count))
    case "PUT":
      curl.set(CURLOPT_UPLOAD, 1)
      ferry_curl_setopt_off(curl.handle, CURLOPT_INFILESIZE_LARGE, curl_off_t(body.count))
    default: curl.set(CURLOPT_CUSTOMREQUEST, method)
    }
    curl.set(CURLOPT_READDATA, pointer: context)
    curl.set(CURLOPT_WRITEDATA, pointer: context)
    ferry_curl_setopt_datacb(curl.handle, CURLOPT_READFUNCTION, MemoryExchange.read)
    ferry_curl_setopt_datacb(curl.handle, CURLOPT_WRITEFUNCTION, MemoryExchange.write)
  }

  private static let read: ferry_curl_data_cb = { buffer, size, count, context in
    let exchange = Unmanaged<MemoryExchange>.fromOpaque(context!).takeUnretainedValue()
    let n = min(size * count, exchange.body.count - exchange.offset)
    exchange.body.withUnsafeBytes { raw in
      if n > 0 { UnsafeMutableRawPointer(buffer!).copyMemory(from: raw.baseAddress! + exchange.offset, byteCount: n) }
    }
    exchange.offset += n
    return n
  }

  private static let write: ferry_curl_data_cb = { data, size, count, context in
    let exchange = Unmanaged<MemoryExchange>.fromOpaque(context!).takeUnretainedValue()
    let bytes = UnsafeRawBufferPointer(start: data, count: size * count)
    guard exchange.answer.count + bytes.count <= exchange.maxAnswerBytes else { return 0 }
    exchange.answer.append(contentsOf: bytes)
    if !exchange.response.isSuccess { exchange.response.captureErrorBody(bytes) }
    return bytes.count
  }
}
