import CCurl
import Foundation

/// One libcurl easy handle, owned: options set through typed calls, lists and buffers freed with it.
/// No curl type leaves this file's callers in the Transfer target.
final class CurlEasy {
  let handle: UnsafeMutableRawPointer
  private var lists: [UnsafeMutablePointer<curl_slist>] = []
  private let errorBuffer = UnsafeMutablePointer<CChar>.allocate(capacity: Int(CURL_ERROR_SIZE) + 1)

  private static let globalInit: Void = { curl_global_init(Int(CURL_GLOBAL_ALL)) }()

  init() throws(TransferError) {
    _ = CurlEasy.globalInit
    guard let handle = curl_easy_init() else { throw TransferError.local("libcurl could not create a handle") }
    self.handle = handle
    errorBuffer.initialize(to: 0)
    ferry_curl_setopt_ptr(handle, CURLOPT_ERRORBUFFER, errorBuffer)
    set(CURLOPT_NOSIGNAL, 1)
  }

  deinit {
    curl_easy_cleanup(handle)
    for list in lists { curl_slist_free_all(list) }
    errorBuffer.deallocate()
  }

  func set(_ option: CURLoption, _ value: Int) { ferry_curl_setopt_long(handle, option, value) }
  func set(_ option: CURLoption, _ value: String) { ferry_curl_setopt_str(handle, option, value) }
  func set(_ option: CURLoption, pointer: UnsafeMutableRawPointer?) { ferry_curl_setopt_ptr(handle, option, pointer) }

  /// Sets a list option (headers, resolve entries); the list lives as long as the handle.
  func set(_ option: CURLoption, list items: [String]) {
    var list: UnsafeMutablePointer<curl_slist>?
    for item in items { list = curl_slist_append(list, item) }
    if let list { lists.append(list) }
    ferry_curl_setopt_slist(handle, option, list)
  }

  func perform() -> CURLcode { curl_easy_perform(handle) }

  var responseCode: Int {
    var code = 0
    ferry_curl_getinfo_long(handle, CURLINFO_RESPONSE_CODE, &code)
    return code
  }

  /// curl's description of the last failure (no URL user-info: Ferry never puts any in a URL).
  func message(_ code: CURLcode) -> String {
    let detail = String(cString: errorBuffer)
    return detail.isEmpty ? String(cString: curl_easy_strerror(code)) : detail
  }
}
