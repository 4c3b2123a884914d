import CCurl

/// What curl hands a transfer's response body to, and asks at each progress tick whether to go on: the
/// download sinks and the upload source. `installCallbacks(on:)` points curl's two callbacks at it. Used from
/// the thread running `curl_easy_perform` only.
protocol CurlReceiver: AnyObject {
  /// Takes a piece of the response body; returns how much it took (less stops the transfer).
  func onBody(_ bytes: UnsafeRawBufferPointer) -> Int
  /// False stops the transfer (the receiver marks itself cancelled).
  func proceed() -> Bool
}

extension CurlReceiver {
  /// Makes `curl` hand the response body to `onBody` and ask `proceed` at each progress tick.
  func installCallbacks(on curl: CurlEasy) {
    let context = Unmanaged.passUnretained(self as AnyObject).toOpaque()
    curl.set(CURLOPT_WRITEDATA, pointer: context)
    curl.set(CURLOPT_XFERINFODATA, pointer: context)
    ferry_curl_setopt_datacb(curl.handle, CURLOPT_WRITEFUNCTION, curlReceiverBody)
    ferry_curl_setopt_xferinfocb(curl.handle, CURLOPT_XFERINFOFUNCTION, curlReceiverProgress)
    curl.set(CURLOPT_NOPROGRESS, 0)
  }
}

/// The receiver behind a callback's context pointer (set by `installCallbacks`).
private func receiver(_ context: UnsafeMutableRawPointer?) -> any CurlReceiver {
  Unmanaged<AnyObject>.fromOpaque(context!).takeUnretainedValue() as! any CurlReceiver
}

private let curlReceiverBody: ferry_curl_data_cb = { data, size, count, context in
  receiver(context).onBody(UnsafeRawBufferPointer(start: data, count: size * count))
}

private let curlReceiverProgress: ferry_curl_xferinfo_cb = { context, _, _, _, _ in
  receiver(context).proceed() ? 0 : 1
}
