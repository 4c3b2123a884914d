import CCurl
import Foundation

/// Where an upload's body comes from: a file read from the start on each attempt, with progress.
final class UploadSource: CurlReceiver {
  let fd: Int32
  /// Where in the file the body starts (a multipart part), and how long it is.
  let offset: Int64
  let size: Int64
  let progress: (Int64, Int64?) -> Bool
  private(set) var response = ResponseRecorder()
  private(set) var sent: Int64 = 0
  var cancelled = false
  var localFailure: String?

  init(fd: Int32, offset: Int64 = 0, size: Int64, progress: @escaping (Int64, Int64?) -> Bool) {
    self.fd = fd
    self.offset = offset
    self.size = size
    self.progress = progress
  }

  /// Rewinds the file and makes `curl` read the body from here, as a PUT with `Content-Length`.
  func install(on curl: CurlEasy) {
    sent = 0
    response = ResponseRecorder()
    response.install(on: curl)
    curl.set(CURLOPT_UPLOAD, 1)
    ferry_curl_setopt_off(curl.handle, CURLOPT_INFILESIZE_LARGE, curl_off_t(size))
    curl.set(CURLOPT_READDATA, pointer: Unmanaged.passUnretained(self).toOpaque())
    ferry_curl_setopt_datacb(curl.handle, CURLOPT_READFUNCTION, UploadSource.read)
    installCallbacks(on: curl)
  }

  private static let read: ferry_curl_data_cb = { buffer, size, count, context in
    let source = Unmanaged<UploadSource>.fromOpaque(context!).takeUnretainedValue()
    let wanted = Int(min(Int64(size * count), source.size - source.sent))
    if wanted <= 0 { return 0 }
    while true {
      // pread: parts of one file are read by several threads at once.
      let n = pread(source.fd, buffer, wanted, off_t(source.offset + source.sent))
      if n >= 0 {
        source.sent += Int64(n)
        return n
      }
      if errno == EINTR { continue }
      source.localFailure = "cannot read the file to upload: \(String(cString: strerror(errno)))"
      return Int(CURL_READFUNC_ABORT)
    }
  }

  /// The answer's body: only an error's start is kept.
  func onBody(_ bytes: UnsafeRawBufferPointer) -> Int {
    if !response.isSuccess { response.captureErrorBody(bytes) }
    return bytes.count
  }

  func proceed() -> Bool {
    if !progress(sent, size) {
      cancelled = true
      return false
    }
    return true
  }
}
