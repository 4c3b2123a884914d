import CCurl
import Foundation
import Log

/// An outbound request: the URL exactly as it is to be sent, extra headers, and when it stops being valid.
public struct OutboundRequest: Sendable {
  /// The URL, byte for byte (pre-signed URLs are never decoded and re-encoded).
  public var url: String
  public var headers: [(name: String, value: String)]
  public var basicAuth: (username: String, password: String)?
  /// A pre-signed URL's expiry: no attempt starts at or after it.
  public var expiry: Date?

  public init(
    url: String, headers: [(name: String, value: String)] = [], basicAuth: (username: String, password: String)? = nil,
    expiry: Date? = nil
  ) {
    self.url = url
    self.headers = headers
    self.basicAuth = basicAuth
    self.expiry = expiry
  }
}

/// Limits and timing of transfers (from the `transfer.*` settings).
public struct TransferSettings: Sendable {
  public var maxBytes: Int64
  public var connectTimeout: Duration
  /// A transfer that moves less than a byte a second for this long is abandoned (and retried).
  public var lowSpeedTimeout: Duration
  public var maxAttempts: Int
  public var maxRedirects: Int
  public var initialBackoff: Duration
  public var maxBackoff: Duration

  public init(
    maxBytes: Int64 = 10_737_418_240, connectTimeout: Duration = .seconds(10), lowSpeedTimeout: Duration = .seconds(60),
    maxAttempts: Int = 5, maxRedirects: Int = 5, initialBackoff: Duration = .milliseconds(500),
    maxBackoff: Duration = .seconds(30)
  ) {
    self.maxBytes = maxBytes
    self.connectTimeout = connectTimeout
    self.lowSpeedTimeout = lowSpeedTimeout
    self.maxAttempts = maxAttempts
    self.maxRedirects = maxRedirects
    self.initialBackoff = initialBackoff
    self.maxBackoff = maxBackoff
  }
}

/// What a finished download did.
public struct DownloadResult: Sendable, Equatable {
  public var bytes: Int64
  public var attempts: Int
  public var contentType: String?
}

/// Streams GET responses to a work file with libcurl: every address checked by the network policy (and
/// pinned, then checked again as the socket opens), redirects followed by hand and re-checked, interrupted
/// bodies resumed with `Range`, the size limit enforced from the first header to the last byte, and
/// retries with backoff and jitter for connection failures, 408, 429 and 5xx.
public struct Downloader: Sendable {
  public let policy: NetworkPolicy
  public let resolver: any HostResolver
  /// `host:port` of endpoints the operator configured (`s3.endpoint`): trusted without an allow entry.
  public let trustedEndpoints: Set<String>
  public let settings: TransferSettings
  private let now: @Sendable () -> Date
  private let sleep: @Sendable (Duration) -> Void

  public init(
    policy: NetworkPolicy, resolver: any HostResolver = SystemResolver(), trustedEndpoints: Set<String> = [],
    settings: TransferSettings = TransferSettings(), now: @escaping @Sendable () -> Date = { Date() },
    sleep: @escaping @Sendable (Duration) -> Void = { Thread.sleep(forTimeInterval: $0.seconds) }
  ) {
    self.policy = policy
    self.resolver = resolver
    self.trustedEndpoints = Set(trustedEndpoints.map { $0.lowercased() })
    self.settings = settings
    self.now = now
    self.sleep = sleep
  }

  /// Downloads `request` into a new file at `path` (mode 0600). `progress` gets bytes so far and the total
  /// when known, and returns false to cancel. The file is removed if the download fails.
  public func download(
    _ request: OutboundRequest, to path: String, progress: @escaping (Int64, Int64?) -> Bool = { _, _ in true }
  ) throws(TransferError) -> DownloadResult {
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
    guard fd >= 0 else { throw .local("cannot create the work file: \(String(cString: strerror(errno)))") }
    var succeeded = false
    defer {
      close(fd)
      if !succeeded { unlink(path) }
    }
    let sink = DownloadSink(fd: fd, limit: settings.maxBytes, progress: progress)
    var url = request.url
    var redirects = 0
    var attempt = 0
    var lastError = TransferError.network("no attempt was made")
    while attempt < settings.maxAttempts {
      attempt += 1
      if let expiry = request.expiry, now() >= expiry { throw .expired }
      let outcome = try perform(request, url: url, sink: sink)
      switch outcome {
      case .done:
        succeeded = true
        return DownloadResult(bytes: sink.received, attempts: attempt, contentType: sink.header("Content-Type"))
      case .redirect(let location):
        redirects += 1
        guard redirects <= settings.maxRedirects else {
          throw .status(310, detail: "more than \(settings.maxRedirects) redirects")
        }
        url = location
        attempt -= 1  // following a redirect is not a retry
        continue
      case .retry(let error, let retryAfter):
        lastError = error
        guard attempt < settings.maxAttempts else { break }
        let delay = backoff(attempt: attempt, retryAfter: retryAfter)
        if let expiry = request.expiry, now().addingTimeInterval(delay.seconds) >= expiry { throw .expired }
        sleep(delay)
      }
    }
    throw lastError
  }

  private enum Outcome {
    case done
    case redirect(String)
    case retry(TransferError, retryAfter: Duration?)
  }

  /// One HTTP exchange; throws for failures that retrying cannot fix.
  private func perform(_ request: OutboundRequest, url: String, sink: DownloadSink) throws(TransferError) -> Outcome {
    guard let components = URLComponents(string: url), let scheme = components.scheme?.lowercased(),
      scheme == "http" || scheme == "https", let host = components.host, !host.isEmpty
    else { throw .local("not an http(s) URL") }
    let port = components.port ?? (scheme == "https" ? 443 : 80)
    let allowed = try allowedAddresses(host: host, port: port)

    let curl = try CurlEasy()
    curl.set(CURLOPT_URL, url)
    curl.set(CURLOPT_PATH_AS_IS, 1)
    curl.set(CURLOPT_PROTOCOLS_STR, "http,https")
    curl.set(CURLOPT_FOLLOWLOCATION, 0)
    curl.set(CURLOPT_CONNECTTIMEOUT_MS, Int(settings.connectTimeout.seconds * 1000))
    curl.set(CURLOPT_LOW_SPEED_LIMIT, 1)
    curl.set(CURLOPT_LOW_SPEED_TIME, max(1, Int(settings.lowSpeedTimeout.seconds)))
    if IPAddress(host) == nil {
      // Connect only to the addresses the policy passed: curl must not resolve the name again.
      let bare = allowed.map { $0.isIPv4 ? $0.description : "[\($0)]" }.joined(separator: ",")
      curl.set(CURLOPT_RESOLVE, list: ["\(host):\(port):\(bare)"])
    }
    var headers = request.headers.map { "\($0.name): \($0.value)" }
    sink.startAttempt(resuming: sink.received > 0)
    if sink.received > 0 { headers.append("Range: bytes=\(sink.received)-") }
    headers.append("Expect:")
    curl.set(CURLOPT_HTTPHEADER, list: headers)
    if let auth = request.basicAuth {
      curl.set(CURLOPT_HTTPAUTH, 1)  // CURLAUTH_BASIC, a macro Swift cannot import
      curl.set(CURLOPT_USERNAME, auth.username)
      curl.set(CURLOPT_PASSWORD, auth.password)
    }
    sink.allowed = Set(allowed)
    sink.policy = policy
    sink.host = host
    sink.port = port
    let context = Unmanaged.passUnretained(sink).toOpaque()
    curl.set(CURLOPT_WRITEDATA, pointer: context)
    curl.set(CURLOPT_HEADERDATA, pointer: context)
    curl.set(CURLOPT_XFERINFODATA, pointer: context)
    curl.set(CURLOPT_OPENSOCKETDATA, pointer: context)
    ferry_curl_setopt_datacb(curl.handle, CURLOPT_WRITEFUNCTION, DownloadSink.write)
    ferry_curl_setopt_datacb(curl.handle, CURLOPT_HEADERFUNCTION, DownloadSink.header)
    ferry_curl_setopt_xferinfocb(curl.handle, CURLOPT_XFERINFOFUNCTION, DownloadSink.xferinfo)
    ferry_curl_setopt_opensocketcb(curl.handle, CURLOPT_OPENSOCKETFUNCTION, DownloadSink.openSocket)
    curl.set(CURLOPT_NOPROGRESS, 0)

    let code = withExtendedLifetime(sink) { curl.perform() }
    let status = curl.responseCode

    if let refusal = sink.refusedConnection { throw .refused(refusal) }
    if sink.cancelled { throw .cancelled }
    if sink.tooLarge { throw .tooLarge(limit: settings.maxBytes) }
    if let failure = sink.localFailure { throw .local(failure) }
    if sink.restartFromZero { return .retry(.network("the server resumed at the wrong offset"), retryAfter: .zero) }

    if code == CURLE_OK, (300..<400).contains(status), let location = sink.header("Location") {
      guard let next = URL(string: location, relativeTo: URL(string: url))?.absoluteURL.absoluteString else {
        throw .status(status, detail: "a redirect without a usable Location")
      }
      return .redirect(next)
    }
    if code == CURLE_OK, (200..<300).contains(status) {
      if let total = sink.total, sink.received != total {
        return .retry(.network("the body ended after \(sink.received) of \(total) bytes"), retryAfter: nil)
      }
      return .done
    }
    if code == CURLE_OK, status == 416, let total = sink.total, sink.received == total {
      return .done
    }
    if code == CURLE_OK {
      let detail = sink.errorDetail()
      if status == 408 || status == 429 || status >= 500 {
        return .retry(.status(status, detail: detail), retryAfter: sink.retryAfter())
      }
      throw .status(status, detail: detail)
    }
    // Connection failures, resets, stalls and short bodies: retried, resuming what arrived.
    return .retry(.network(curl.message(code)), retryAfter: nil)
  }

  private func allowedAddresses(host: String, port: Int) throws(TransferError) -> [IPAddress] {
    let addresses: [IPAddress]
    do {
      addresses = try resolver.resolve(host)
    } catch {
      throw .network(error.description)
    }
    let authority = (host.contains(":") ? "[\(host)]" : host).lowercased() + ":\(port)"
    if trustedEndpoints.contains(authority) { return addresses }
    // Every address must pass: a name that also points inside is refused outright.
    for address in addresses {
      if let reason = policy.refusal(address: address, port: port, host: host) { throw .refused(reason) }
    }
    guard !addresses.isEmpty else { throw .network("\(host) resolved to no address") }
    return addresses
  }

  private func backoff(attempt: Int, retryAfter: Duration?) -> Duration {
    let base = settings.initialBackoff.seconds * pow(2, Double(attempt - 1))
    let jittered = min(settings.maxBackoff.seconds, base) * Double.random(in: 0.5...1.0)
    let chosen = max(jittered, min(retryAfter?.seconds ?? 0, settings.maxBackoff.seconds))
    return .milliseconds(Int64(chosen * 1000))
  }
}
