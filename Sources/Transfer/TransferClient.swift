import CCurl
import Foundation
import Locations
import Log
import Retry

/// An outbound request: the URL exactly as it is to be sent, extra headers, and when it stops being valid.
public struct OutboundRequest: Sendable {
  /// The URL, byte for byte (pre-signed URLs are never decoded and re-encoded).
  public var url: String
  public var headers: [(name: String, value: String)]
  public var basicAuth: (username: String, password: String)?
  /// A pre-signed URL's expiry: no attempt starts at or after it.
  public var expiry: Date?
  /// Headers computed for each attempt at its start time (SigV4 `Authorization`, `X-Amz-Date`).
  public var signer: (@Sendable (Date) -> [(name: String, value: String)])?
  /// The URL is on an endpoint the operator configured (`s3.endpoint`), which the network policy trusts.
  /// Never set for a URL a client supplied; a redirect to another origin drops it.
  public var trusted: Bool
  /// For S3 requests: the same request addressed and signed for another region. Used once, when S3 answers
  /// that the bucket lives elsewhere (`x-amz-bucket-region`).
  public var inRegion: (@Sendable (String) -> OutboundRequest)?

  public init(
    url: String, headers: [(name: String, value: String)] = [], basicAuth: (username: String, password: String)? = nil,
    expiry: Date? = nil, trusted: Bool = false, signer: (@Sendable (Date) -> [(name: String, value: String)])? = nil
  ) {
    self.url = url
    self.headers = headers
    self.basicAuth = basicAuth
    self.expiry = expiry
    self.trusted = trusted
    self.signer = signer
  }

  /// Scheme, host and port, lowercased: credentials and trust never cross from one to another.
  var origin: String? {
    guard let c = URLComponents(string: url), let scheme = c.scheme?.lowercased(), let host = c.host?.lowercased()
    else {
      return nil
    }
    return "\(scheme)://\(host):\(c.port ?? (scheme == "https" ? 443 : 80))"
  }

  /// The request for a redirect to `location`: credentials, signing and trust are kept only on the same
  /// origin, and a pre-signed target's earlier expiry applies.
  func redirected(to location: String) -> OutboundRequest {
    var next = self
    next.url = location
    if next.origin == nil || next.origin != origin {
      next.basicAuth = nil
      next.signer = nil
      next.trusted = false
      next.inRegion = nil
      next.headers.removeAll { $0.name.lowercased() == "authorization" }
    }
    let query = location.firstIndex(of: "?").map { location[location.index(after: $0)...] } ?? ""
    if let presigned = try? PresignedURL.detect(query: query, field: "redirect") {
      next.expiry = min(next.expiry ?? .distantFuture, presigned.expiry.date)
    }
    return next
  }
}

/// Limits and timing of transfers (from the `transfer.*` settings).
public struct TransferSettings: Sendable {
  public var maxBytes: Int64
  public var connectTimeout: Duration
  /// An attempt that moves less than `minRate` bytes a second over this long is abandoned (and retried): a
  /// source or sink that trickles, or an answer that never comes, ends here.
  public var lowSpeedTimeout: Duration
  /// The slowest rate, bytes a second averaged over `lowSpeedTimeout`, an attempt may keep.
  public var minRate: Int
  /// The longest one attempt may take, however fast it moves.
  public var maxDuration: Duration
  public var maxAttempts: Int
  public var maxRedirects: Int
  /// The wait between attempts; a `Retry-After` up to its cap is honoured when longer.
  public var retry: RetryPolicy
  /// Connections a download may use at once (`transfer.download_connections`): a body of at least two
  /// `downloadPartSize` parts from a server that takes ranges (`Accept-Ranges: bytes`) is fetched in parts,
  /// each on its own connection with its own retries. 1: one connection.
  public var downloadConnections: Int
  public var downloadPartSize: Int64
  /// PEM file of the CAs that https servers' certificates are checked against instead of the system's.
  public var caFile: String?

  /// `initialBackoff` and `maxBackoff` make `retry` (`.exponentialJitter`).
  public init(
    maxBytes: Int64 = 10_737_418_240, connectTimeout: Duration = .seconds(10), lowSpeedTimeout: Duration = .seconds(60),
    minRate: Int = 1, maxDuration: Duration = .seconds(21600), maxAttempts: Int = 5, maxRedirects: Int = 5,
    initialBackoff: Duration = .milliseconds(500), maxBackoff: Duration = .seconds(30), downloadConnections: Int = 1,
    downloadPartSize: Int64 = 16 << 20, caFile: String? = nil
  ) {
    self.downloadConnections = max(1, downloadConnections)
    self.downloadPartSize = max(1 << 20, downloadPartSize)
    self.maxBytes = maxBytes
    self.connectTimeout = connectTimeout
    self.lowSpeedTimeout = lowSpeedTimeout
    self.minRate = max(1, minRate)
    self.maxDuration = maxDuration
    self.maxAttempts = maxAttempts
    self.maxRedirects = maxRedirects
    self.retry = .exponentialJitter(initial: initialBackoff, cap: maxBackoff)
    self.caFile = caFile
  }
}

/// What a finished transfer did.
public struct TransferResult: Sendable, Equatable {
  /// Bytes downloaded or uploaded.
  public var bytes: Int64
  public var attempts: Int
  public var contentType: String?
  /// The stored object's ETag, for uploads to stores that send one.
  public var etag: String?
  /// The final answer's HTTP status (for exchanges; 0 where no one asked).
  public var status = 0
}

/// Moves bodies between work files and URLs with libcurl, the same way in both directions: every resolved
/// address must pass the network policy, curl is pinned to those addresses and an open-socket callback
/// refuses anything else, nothing is sent at or after a URL's expiry, and connection failures, 408, 429
/// and 5xx are retried after the settings' `RetryPolicy` (honouring `Retry-After`) while other 4xx are final.
/// Downloads stream to a new 0600 file, follow redirects by hand (re-checked, at most `maxRedirects`), resume
/// interrupted bodies with `Range` and enforce the size limit from the first header to the last byte.
/// Uploads are PUTs with `Content-Length` (never chunked: pre-signed S3 PUTs refuse it), re-sent whole.
public struct TransferClient: Sendable {
  public let policy: NetworkPolicy
  public let resolver: any HostResolver
  public let settings: TransferSettings
  private let now: @Sendable () -> Date
  private let sleep: @Sendable (Duration) -> Void

  public init(
    policy: NetworkPolicy, resolver: any HostResolver = SystemResolver(),
    settings: TransferSettings = TransferSettings(), now: @escaping @Sendable () -> Date = { Date() },
    sleep: @escaping @Sendable (Duration) -> Void = { Thread.sleep(forTimeInterval: $0.seconds) }
  ) {
    self.policy = policy
    self.resolver = resolver
    self.settings = settings
    self.now = now
    self.sleep = sleep
  }

  // MARK: Downloads

  /// Downloads `request` into a new file at `path` (mode 0600). `progress` gets bytes so far and the total
  /// when known, and returns false to cancel. `prefix`, when given, gets the length of the file's leading
  /// bytes that are written and whole so far (parts land out of order): it only grows, except when the
  /// download starts the file over (a server that resumed wrongly or sent a changed object whole). The file
  /// is removed if the download fails.
  public func download(
    _ request: OutboundRequest, to path: String, progress: @escaping (Int64, Int64?) -> Bool = { _, _ in true },
    prefix: ((Int64) -> Void)? = nil
  ) throws(TransferError) -> TransferResult {
    // A new file only: never follow a link or take over an existing file's contents or mode.
    let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
    guard fd >= 0 else { throw .local("cannot create the work file: \(String(cString: strerror(errno)))") }
    var succeeded = false
    defer {
      close(fd)
      if !succeeded { unlink(path) }
    }
    // One stream writes the file front to back: what it has received is the prefix.
    let sink = DownloadSink(fd: fd, limit: settings.maxBytes) { done, total in
      prefix?(done)
      return progress(done, total)
    }
    // Set when the body is fetched in parts: the hop that answered (after any redirects).
    var split: OutboundRequest?
    if settings.downloadConnections > 1 { sink.splitAbove = 2 * settings.downloadPartSize }
    let result = try withAttempts(request) { hop throws(TransferError) -> Outcome in
      let url = hop.url
      let answered = hop
      var hop = hop
      if sink.received > 0, let validator = sink.validator {
        // Resume only the same version of the object; a changed one comes back whole (200).
        hop.headers.append((name: "If-Range", value: validator))
      }
      let (curl, gate) = try connect(hop)
      sink.install(on: curl, resuming: sink.received > 0)
      if sink.received > 0 { curl.set(CURLOPT_RANGE, "\(sink.received)-") }
      curl.set(CURLOPT_HTTPGET, 1)
      let code = withExtendedLifetime((sink, gate)) { curl.perform() }
      if let refusal = gate.refusal { throw .refused(refusal) }
      if sink.cancelled { throw .cancelled }
      if sink.tooLarge { throw .tooLarge(limit: settings.maxBytes) }
      if let failure = sink.localFailure { throw .local(failure) }
      if let first = sink.splitAt, sink.received == first {
        // The first part is in; the rest comes in parts (this connection was closed at the part's end).
        // The parts ask for this hop with their own ranges and `If-Range` (not this attempt's resume headers).
        split = answered
        return .done(TransferResult(bytes: first, attempts: 0, contentType: sink.response.header("Content-Type")))
      }
      if sink.restartFromZero {
        return .retry(.network("the server resumed at the wrong offset"), retryAfter: .zero, connectionFailure: false)
      }
      let response = sink.response
      if code == CURLE_OK, (300..<400).contains(response.status), let location = response.header("Location") {
        guard let next = URL(string: location, relativeTo: URL(string: url))?.absoluteURL.absoluteString else {
          throw .status(response.status, detail: "a redirect without a usable Location")
        }
        return .redirect(next)
      }
      if code == CURLE_OK, response.isSuccess, let total = sink.total, sink.received != total {
        return .retry(
          .network("the body ended after \(sink.received) of \(total) bytes"), retryAfter: nil, connectionFailure: true)
      }
      if code == CURLE_OK, response.status == 416, let total = sink.total, sink.received == total {
        return .done(TransferResult(bytes: sink.received, attempts: 0, contentType: nil, etag: nil))
      }
      return try outcome(code, curl, response) {
        TransferResult(bytes: sink.received, attempts: 0, contentType: response.header("Content-Type"), etag: nil)
      }
    }
    if let hop = split, let first = sink.splitAt, let total = sink.total {
      try downloadParts(
        hop, into: fd, from: first, to: total, validator: sink.validator,
        progress: PartProgress(
          first: first, total: total, partSize: settings.downloadPartSize, report: progress, prefix: prefix))
      succeeded = true
      return TransferResult(bytes: total, attempts: result.attempts, contentType: result.contentType, etag: nil)
    }
    succeeded = true
    return result
  }

  // MARK: Uploads

  /// PUTs the file at `path` to `request` with `Content-Length`. `progress` gets bytes sent and the file's
  /// size, and returns false to cancel. Redirects are not followed (a signed PUT cannot move).
  public func upload(
    _ request: OutboundRequest, from path: String, progress: @escaping (Int64, Int64?) -> Bool = { _, _ in true }
  ) throws(TransferError) -> TransferResult {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { throw .local("cannot open the file to upload: \(String(cString: strerror(errno)))") }
    defer { close(fd) }
    var info = stat()
    guard fstat(fd, &info) == 0 else { throw .local("cannot read the file to upload") }
    return try put(request, source: UploadSource(fd: fd, size: Int64(info.st_size), progress: progress))
  }

  private func put(_ request: OutboundRequest, source: UploadSource) throws(TransferError) -> TransferResult {
    try withAttempts(request) { hop throws(TransferError) -> Outcome in
      let (curl, gate) = try connect(hop)
      source.install(on: curl)
      let code = withExtendedLifetime((source, gate)) { curl.perform() }
      if let refusal = gate.refusal { throw .refused(refusal) }
      if source.cancelled { throw .cancelled }
      if let failure = source.localFailure { throw .local(failure) }
      let response = source.response
      if code == CURLE_OK, (300..<400).contains(response.status) {
        throw .status(response.status, detail: "the upload was redirected; Ferry does not follow redirects for uploads")
      }
      return try outcome(code, curl, response) {
        TransferResult(bytes: source.size, attempts: 0, contentType: nil, etag: response.header("ETag"))
      }
    }
  }

  /// PUTs `length` bytes of the file at `path` from `offset` (an S3 part). `progress` gets the part's bytes.
  public func upload(
    _ request: OutboundRequest, from path: String, offset: Int64, length: Int64,
    progress: @escaping (Int64, Int64?) -> Bool = { _, _ in true }
  ) throws(TransferError) -> TransferResult {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { throw .local("cannot open the file to upload: \(String(cString: strerror(errno)))") }
    defer { close(fd) }
    return try put(request, source: UploadSource(fd: fd, offset: offset, size: length, progress: progress))
  }

  /// One small exchange with its body in memory; the answer's body (at most 1 MiB) comes back with the
  /// result. 2xx is success; other statuses are retried or final as for transfers, except that a POST (not
  /// idempotent: a lost answer may hide a success) is not repeated after a connection failure.
  public func exchange(_ request: OutboundRequest, method: String, body: [UInt8] = []) throws(TransferError)
    -> (result: TransferResult, body: [UInt8])
  {
    var retried = false
    return try exchange(
      request, method: method, body: body, retryingConnectionFailures: method != "POST", retried: &retried)
  }

  /// `exchange` for a request that may be repeated after a connection failure even as a POST (S3's
  /// CompleteMultipartUpload). `retried` tells whether an attempt before the last one ended without a final
  /// answer (a lost answer, a retryable status): the request may already have taken effect then, and the last
  /// answer may describe the state it left (S3: `NoSuchUpload` for an upload that a lost answer completed).
  func exchange(
    _ request: OutboundRequest, method: String, body: [UInt8] = [], retryingConnectionFailures: Bool,
    retried: inout Bool
  ) throws(TransferError) -> (result: TransferResult, body: [UInt8]) {
    let exchange = MemoryExchange(body: body)
    var request = request
    if !request.headers.contains(where: { $0.name.lowercased() == "content-type" }) {
      // curl would label a POST body as a form (and some servers then parse it away): send no type instead.
      request.headers.append((name: "Content-Type", value: ""))
    }
    retried = false
    let result = try withAttempts(request, retryingConnectionFailures: retryingConnectionFailures) {
      hop throws(TransferError) -> Outcome in
      let (curl, gate) = try connect(hop)
      exchange.install(on: curl, method: method)
      let code = withExtendedLifetime((exchange, gate)) { curl.perform() }
      if let refusal = gate.refusal { throw .refused(refusal) }
      let next = try outcome(code, curl, exchange.response) {
        TransferResult(
          bytes: Int64(exchange.answer.count), attempts: 0, contentType: nil, etag: exchange.response.header("ETag"),
          status: exchange.response.status)
      }
      if case .retry = next { retried = true }
      return next
    }
    return (result, exchange.answer)
  }

  /// One exchange with its body in memory whose answer comes back whatever its final status: 2xx, and also
  /// the 3xx and 4xx answers that `exchange` throws as `.status` (except the retried 408 and 429). Connection
  /// failures and 5xx are retried as for `exchange`, and a POST is not repeated after a connection failure.
  /// For a caller that reads its own server's error bodies (the `ferry` client reads Ferry's problem details,
  /// which never carry a secret); `exchange` keeps error bodies out of errors because a foreign server's body
  /// can echo what was sent. The answer's body is kept up to `maxAnswerBytes`.
  public func call(_ request: OutboundRequest, method: String, body: [UInt8] = [], maxAnswerBytes: Int = 1 << 20)
    throws(TransferError) -> (status: Int, body: [UInt8])
  {
    let exchange = MemoryExchange(body: body, maxAnswerBytes: maxAnswerBytes)
    var request = request
    if !request.headers.contains(where: { $0.name.lowercased() == "content-type" }) {
      request.headers.append((name: "Content-Type", value: ""))
    }
    let result = try withAttempts(request, retryingConnectionFailures: method != "POST") {
      hop throws(TransferError) -> Outcome in
      let (curl, gate) = try connect(hop)
      exchange.install(on: curl, method: method)
      let code = withExtendedLifetime((exchange, gate)) { curl.perform() }
      if let refusal = gate.refusal { throw .refused(refusal) }
      let status = exchange.response.status
      if code == CURLE_OK, (300..<500).contains(status), status != 408, status != 429 {
        return .done(TransferResult(bytes: Int64(exchange.answer.count), attempts: 0, status: status))
      }
      return try outcome(code, curl, exchange.response) {
        TransferResult(bytes: Int64(exchange.answer.count), attempts: 0, status: status)
      }
    }
    return (result.status, exchange.answer)
  }

  // MARK: Shared

  enum Outcome {
    case done(TransferResult)
    case redirect(String)
    /// S3 says the bucket is in this region: readdress and re-sign there (once), or fail with the error.
    case region(String, TransferError)
    case retry(TransferError, retryAfter: Duration?, connectionFailure: Bool)
  }

  /// Runs attempts until one is done, a failure is final, or attempts run out; redirects do not count.
  /// Each attempt gets the request for the current hop (see `OutboundRequest.redirected(to:)`).
  func withAttempts(
    _ request: OutboundRequest, retryingConnectionFailures: Bool = true,
    _ attempt: (OutboundRequest) throws(TransferError) -> Outcome
  ) throws(TransferError) -> TransferResult {
    var hop = request
    var redirects = 0
    var attempts = 0
    var lastError = TransferError.network("no attempt was made")
    attempting: while attempts < settings.maxAttempts {
      attempts += 1
      if let expiry = hop.expiry, now() >= expiry { throw .expired }
      switch try attempt(hop) {
      case .done(var result):
        result.attempts = attempts
        return result
      case .redirect(let location):
        redirects += 1
        guard redirects <= settings.maxRedirects else {
          throw .tooManyRedirects(limit: settings.maxRedirects)
        }
        hop = hop.redirected(to: location)
        attempts -= 1
      case .region(let region, let error):
        // Only S3 requests can move (a pre-signed URL is signed for its region); and only once.
        guard let readdress = hop.inRegion else { throw error }
        hop = readdress(region)
        hop.inRegion = nil
        attempts -= 1
      case .retry(let error, let retryAfter, let connectionFailure):
        lastError = error
        // (A plain `break` would only leave the switch, and repeat a POST whose answer was lost.)
        guard attempts < settings.maxAttempts, retryingConnectionFailures || !connectionFailure else {
          break attempting
        }
        let delay = backoff(attempt: attempts, retryAfter: retryAfter)
        if let expiry = hop.expiry, now().addingTimeInterval(delay.seconds) >= expiry { throw .expired }
        sleep(delay)
      }
    }
    throw lastError
  }

  /// curl failures that another attempt cannot fix.
  private static let finalCurlErrors: Set<UInt32> = [
    CURLE_UNSUPPORTED_PROTOCOL.rawValue, CURLE_URL_MALFORMAT.rawValue, CURLE_PEER_FAILED_VERIFICATION.rawValue,
    CURLE_SSL_CACERT_BADFILE.rawValue, CURLE_SSL_CERTPROBLEM.rawValue, CURLE_WRITE_ERROR.rawValue,
    CURLE_READ_ERROR.rawValue, CURLE_ABORTED_BY_CALLBACK.rawValue, CURLE_FILESIZE_EXCEEDED.rawValue,
  ]

  /// The common reading of an exchange's end: success, a retryable failure, or a final one.
  func outcome(
    _ code: CURLcode, _ curl: CurlEasy, _ response: ResponseRecorder, success: () -> TransferResult
  ) throws(TransferError) -> Outcome {
    guard code == CURLE_OK else {
      let message = curl.message(code)
      // curl says "Operation too slow" when the low-speed check ended the attempt, "Operation timed out" when
      // the overall limit did (connect timeouts say "Connection timed out" or "Failed to connect").
      let error: TransferError =
        if code == CURLE_OPERATION_TIMEDOUT, message.hasPrefix("Operation too slow") {
          .tooSlow(minRate: settings.minRate, window: settings.lowSpeedTimeout)
        } else if code == CURLE_OPERATION_TIMEDOUT, message.hasPrefix("Operation timed out") {
          .tooLong(limit: settings.maxDuration)
        } else {
          .network(message)
        }
      if Self.finalCurlErrors.contains(code.rawValue) || error == .tooLong(limit: settings.maxDuration) { throw error }
      // Connection failures, resets, stalls and short bodies.
      return .retry(error, retryAfter: nil, connectionFailure: true)
    }
    if response.isSuccess { return .done(success()) }
    let status = response.status
    // S3 names the bucket's region when a request went to the wrong one (301 PermanentRedirect, or 400 with a
    // credential scope for another region).
    let detail = response.errorDetail()
    if status == 301 || status == 400, let region = response.header("x-amz-bucket-region"),
      !region.isEmpty, region.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" })
    {
      return .region(
        region.lowercased(), .status(status, detail: detail.isEmpty ? "the bucket is in region \(region)" : detail))
    }
    let error = TransferError.status(status, detail: detail)
    // S3 answers 400 RequestTimeout when the body arrived too slowly: worth another try.
    if status == 408 || status == 429 || status >= 500 || (status == 400 && detail.hasPrefix("RequestTimeout")) {
      return .retry(error, retryAfter: response.retryAfter(), connectionFailure: false)
    }
    throw error
  }

  /// A handle for one exchange with `request.url`: policy-checked, pinned, gated, with timeouts and headers.
  func connect(_ request: OutboundRequest) throws(TransferError) -> (CurlEasy, ConnectionGate) {
    let url = request.url
    guard let components = URLComponents(string: url), let scheme = components.scheme?.lowercased(),
      scheme == "http" || scheme == "https", let host = components.host, !host.isEmpty
    else { throw .local("not an http(s) URL") }
    let port = components.port ?? (scheme == "https" ? 443 : 80)
    let allowed = try allowedAddresses(host: host, port: port, trusted: request.trusted)
    // Resolving took time: check the expiry again, and never let connecting outlast it.
    var connectTimeout = settings.connectTimeout.seconds
    if let expiry = request.expiry {
      let left = expiry.timeIntervalSince(now())
      guard left > 0 else { throw .expired }
      connectTimeout = min(connectTimeout, left)
    }
    let curl = try CurlEasy()
    curl.set(CURLOPT_URL, url)
    curl.set(CURLOPT_PATH_AS_IS, 1)
    curl.set(CURLOPT_PROTOCOLS_STR, "http,https")
    curl.set(CURLOPT_FOLLOWLOCATION, 0)
    // No proxy from the environment: the policy judges the real destination, and a proxy URL in an error
    // message could carry credentials.
    curl.set(CURLOPT_PROXY, "")
    curl.set(CURLOPT_NOPROXY, "*")
    if let caFile = settings.caFile { curl.set(CURLOPT_CAINFO, caFile) }
    curl.set(CURLOPT_CONNECTTIMEOUT_MS, max(1, Int(connectTimeout * 1000)))
    curl.set(CURLOPT_LOW_SPEED_LIMIT, settings.minRate)
    curl.set(CURLOPT_LOW_SPEED_TIME, max(1, Int(settings.lowSpeedTimeout.seconds)))
    curl.set(CURLOPT_TIMEOUT_MS, max(1, Int(settings.maxDuration.seconds * 1000)))
    // Larger buffers than libcurl's defaults (16 KiB receive, 64 KiB upload): fewer callbacks and system
    // calls per MiB (make bench).
    curl.set(CURLOPT_BUFFERSIZE, 512 * 1024)
    curl.set(CURLOPT_UPLOAD_BUFFERSIZE, 512 * 1024)
    if IPAddress(host) == nil {
      // Connect only to the addresses the policy passed: curl must not resolve the name again.
      let pinned = allowed.map { $0.isIPv4 ? $0.description : "[\($0)]" }.joined(separator: ",")
      curl.set(CURLOPT_RESOLVE, list: ["\(host):\(port):\(pinned)"])
    }
    // "Name:" with no value tells curl to leave out a header it would add itself.
    var headers = request.headers.map { $0.value.isEmpty ? "\($0.name):" : "\($0.name): \($0.value)" }
    if let signer = request.signer { headers += signer(now()).map { "\($0.name): \($0.value)" } }
    // No "Expect: 100-continue": one round trip less, and some stores mishandle it.
    headers.append("Expect:")
    curl.set(CURLOPT_HTTPHEADER, list: headers)
    if let auth = request.basicAuth {
      curl.set(CURLOPT_HTTPAUTH, 1)  // CURLAUTH_BASIC, a macro Swift cannot import
      curl.set(CURLOPT_USERNAME, auth.username)
      curl.set(CURLOPT_PASSWORD, auth.password)
    }
    let gate = ConnectionGate(allowed: allowed, policy: policy, host: host, port: port)
    gate.install(on: curl)
    return (curl, gate)
  }

  private func allowedAddresses(host: String, port: Int, trusted: Bool) throws(TransferError) -> [IPAddress] {
    let addresses: [IPAddress]
    do {
      addresses = try resolver.resolve(host)
    } catch {
      throw .network(error.description)
    }
    guard !addresses.isEmpty else { throw .network("\(host) resolved to no address") }
    // The operator's own endpoint (s3.endpoint) is trusted; the request says so, never the URL.
    if trusted { return addresses }
    // Every address must pass: a name that also points inside is refused outright.
    for address in addresses {
      if let reason = policy.refusal(address: address, port: port, host: host) { throw .refused(reason) }
    }
    return addresses
  }

  /// The wait after failed attempt `attempt`: the retry policy's, or the server's `Retry-After` when that is
  /// longer (up to the policy's cap, so a server cannot park a transfer for hours).
  private func backoff(attempt: Int, retryAfter: Duration?) -> Duration {
    max(settings.retry.delay(afterAttempt: attempt), min(retryAfter ?? .zero, settings.retry.cap))
  }
}
