import CSpawn
import Dispatch
import Foundation
import Log
import Problems
import Synchronization

/// Ferry's HTTP/1.1 server: a Dispatch socket listener feeding connections to one event-loop thread per core.
///
/// It knows nothing of media or jobs: it parses requests strictly, enforces the limits in its configuration,
/// routes to handlers, turns errors into `application/problem+json` answers and logs one access line per
/// request. `shutdown(grace:)` stops accepting and lets in-flight requests finish.
public final class HTTPServer: @unchecked Sendable {
  /// The configuration the server was made with.
  public let configuration: HTTPServerConfiguration
  let router: Router
  let logger: Logger
  private let loops: [EventLoop]
  private let acceptQueue = DispatchQueue(label: "ferry.http.accept", qos: .userInitiated)
  private let openConnections = Atomic<Int>(0)
  /// Open connections by client address (only addresses with one open).
  private let connectionsByAddress = Mutex<[String: Int]>([:])
  private let activeRequests = Atomic<Int>(0)
  private let draining = Atomic<Bool>(false)
  private let started = Atomic<Bool>(false)
  private let serving = Atomic<Bool>(false)
  // Owned by `acceptQueue`.
  private var listenSource: DispatchSourceRead?
  private var nextLoop = 0
  private var lastCapWarning: UInt64 = 0
  private var acceptPaused = false
  private var boundPort = 0

  /// The certificate new connections get (nil: plain HTTP); replaced by `reloadCertificate()`.
  private let tlsContext: Mutex<TLSContext?>

  /// Told of every answer, matched to a route or not (`/metrics` counts them).
  let observer: (@Sendable (Answered) -> Void)?

  /// What the observer hears of an answer.
  public struct Answered: Sendable {
    /// The index of the route that answered (`Route.index`, `Router.patterns`); nil when none matched.
    public var route: Int?
    /// The request's path, still percent-encoded.
    public var path: Substring
    /// The status code sent.
    public var status: Int
  }

  /// Makes a server; throws if the event loops' descriptors cannot be created, or the TLS certificate or key
  /// cannot be loaded (`TLSConfigurationError`).
  public init(
    configuration: HTTPServerConfiguration, router: Router, logger: Logger,
    observer: (@Sendable (Answered) -> Void)? = nil
  ) throws {
    self.observer = observer
    self.configuration = configuration
    self.router = router
    self.logger = logger
    tlsContext = Mutex(try configuration.tls.map { tls throws(TLSConfigurationError) in try TLSContext(tls) })
    // A random prefix per process keeps ids unique across restarts; loops then count without sharing state.
    let prefix = String(UInt64.random(in: (1 << 40)..<(1 << 41)), radix: 36)
    loops = try (0..<configuration.loopCount).map { try EventLoop(index: $0, requestIDPrefix: prefix, logger: logger) }
  }

  /// The port the server is bound to (useful with port 0), valid after `start()`.
  public var port: Int { acceptQueue.sync { boundPort } }

  /// Whether connections speak TLS.
  public var servesTLS: Bool { configuration.tls != nil }

  /// Loads the configured certificate and key again, for connections accepted from now on; open connections
  /// keep the one they started with. On failure the current certificate stays and the error says why.
  public func reloadCertificate() throws(TLSConfigurationError) {
    guard let tls = configuration.tls else { return }
    let fresh = try TLSContext(tls)
    tlsContext.withLock { $0 = fresh }
  }

  /// Open connections right now.
  public var connectionCount: Int { openConnections.load(ordering: .relaxed) }

  /// File bodies sent over TLS so far, by how: `kernel` through kernel TLS and `SSL_sendfile`, `buffered`
  /// read into memory and encrypted by OpenSSL.
  public var tlsFileBodies: (kernel: Int, buffered: Int) {
    (tlsFileBodiesByKernel.load(ordering: .relaxed), tlsFileBodiesBuffered.load(ordering: .relaxed))
  }
  private let tlsFileBodiesByKernel = Atomic<Int>(0)
  private let tlsFileBodiesBuffered = Atomic<Int>(0)

  /// Binds, listens and starts serving. Throws if the address cannot be bound.
  public func start() throws {
    precondition(!started.exchange(true, ordering: .relaxed), "HTTPServer.start() called twice")
    // `send` says MSG_NOSIGNAL, but `sendfile` (file bodies) has no such flag: a client that hangs up mid-
    // download would raise SIGPIPE, whose default action ends the process.
    signal(SIGPIPE, SIG_IGN)
    Socket.raiseOpenFileLimit()
    let (fd, port) = try Socket.listen(host: configuration.host, port: configuration.port)
    let tick = min(Duration.seconds(1), configuration.headerTimeout / 4, configuration.idleTimeout / 4)
    for loop in loops {
      loop.start(tick: max(tick, .milliseconds(50))) { [self] loop, now in
        let isDraining = isDraining
        for connection in loop.allConnections {
          connection.checkTimeouts(now: now, draining: isDraining)
        }
      }
    }
    serving.store(true, ordering: .releasing)
    acceptQueue.sync {
      boundPort = port
      let source = DispatchSource.makeReadSource(fileDescriptor: fd, queue: acceptQueue)
      source.setEventHandler { [unowned self] in acceptReady(fd) }
      source.setCancelHandler { Glibc.close(fd) }
      listenSource = source
      source.resume()
    }
  }

  /// Stops accepting, closes idle connections, waits up to `grace` for in-flight requests to be answered,
  /// then closes whatever is left.
  public func shutdown(grace: Duration) async {
    guard !draining.exchange(true, ordering: .relaxed) else { return }
    guard serving.load(ordering: .acquiring) else {
      // start() failed or never ran: no listener, no loop threads, nothing in flight.
      for loop in loops { loop.stop() }
      return
    }
    // Never block on the server's own threads here: a handler running inline on a loop may call this.
    await onQueue(acceptQueue) { [self] in
      resumeAccepting()
      listenSource?.cancel()
      listenSource = nil
    }
    await closeConnections(onlyIdle: true)
    let deadline = ContinuousClock.now + grace
    // A cancelled task's sleep returns at once: stop waiting rather than spin.
    while openConnections.load(ordering: .relaxed) > 0 && ContinuousClock.now < deadline && !Task.isCancelled {
      try? await Task.sleep(for: .milliseconds(20))
    }
    let leftRequests = activeRequests.load(ordering: .relaxed)
    if leftRequests > 0 {
      logger.warning("shutdown grace period over", ["requests_cut_off": .int(leftRequests)])
    }
    await closeConnections(onlyIdle: false)
    for loop in loops { loop.stop() }
  }

  private func closeConnections(onlyIdle: Bool) async {
    for loop in loops {
      await loop.submit {
        for connection in loop.allConnections where !onlyIdle || connection.isIdle {
          connection.close()
        }
      }
    }
  }

  private func onQueue(_ queue: DispatchQueue, _ body: @escaping @Sendable () -> Void) async {
    await withCheckedContinuation { continuation in
      queue.async {
        body()
        continuation.resume()
      }
    }
  }

  var isDraining: Bool { draining.load(ordering: .relaxed) }

  // MARK: Accepting

  private func acceptReady(_ listenFD: Int32) {
    for _ in 0..<256 {
      var storage = sockaddr_storage()
      var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
      let fd = withUnsafeMutablePointer(to: &storage) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
          // Close-on-exec from the start: a process spawned by another thread never inherits a client socket.
          ferry_accept_cloexec(listenFD, $0, &length)
        }
      }
      if fd < 0 {
        if errno == EINTR { continue }
        if errno == EMFILE || errno == ENFILE { pauseAccepting("out of file descriptors") }
        return
      }
      if isDraining {
        Glibc.close(fd)
        continue
      }
      guard openConnections.load(ordering: .relaxed) < configuration.maxConnections else {
        refuse(fd, "connection limit reached", limit: ("max_connections", configuration.maxConnections))
        continue
      }
      let remote = Socket.address(of: storage).host
      let admitted = connectionsByAddress.withLock { open in
        guard open[remote, default: 0] < configuration.maxConnectionsPerAddress else { return false }
        open[remote, default: 0] += 1
        return true
      }
      guard admitted else {
        refuse(
          fd, "connection limit of one address reached",
          limit: ("max_connections_per_address", configuration.maxConnectionsPerAddress))
        continue
      }
      openConnections.add(1, ordering: .relaxed)
      Socket.setNoDelay(fd)
      let loop = loops[nextLoop]
      nextLoop = (nextLoop + 1) % loops.count
      let tls = tlsContext.withLock { $0 }
      loop.execute { [self] in
        Connection(fd: fd, remoteAddress: remote, server: self, loop: loop, tls: tls).start()
      }
    }
  }

  /// Past a connection cap: a short 503 instead of silence or a crash.
  private func refuse(_ fd: Int32, _ message: String, limit: (name: String, value: Int)) {
    // A TLS client cannot read a plain answer, and a handshake is the work a server at its cap must not take
    // on: it gets a TLS alert instead (in the clear, as alerts before a handshake are), so it reports an error
    // from the server rather than a connection that just closed.
    let answer = servesTLS ? HTTPServer.tlsRefusal : HTTPServer.refusal
    answer.withUnsafeBytes { _ = send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
    Glibc.shutdown(fd, Int32(SHUT_WR))
    var scratch = [UInt8](repeating: 0, count: 4096)
    _ = recv(fd, &scratch, scratch.count, Int32(MSG_DONTWAIT))
    Glibc.close(fd)
    let now = DispatchTime.now().uptimeNanoseconds
    if now &- lastCapWarning > 1_000_000_000 {
      lastCapWarning = now
      logger.warning(message, [limit.name: .int(limit.value)])
    }
  }

  /// Out of descriptors: stop accepting for a moment instead of spinning on a listener that stays readable.
  private func pauseAccepting(_ reason: String) {
    guard let source = listenSource, !acceptPaused else { return }
    logger.error("accept paused", ["reason": .string(reason)])
    acceptPaused = true
    source.suspend()
    acceptQueue.asyncAfter(deadline: .now() + .milliseconds(100)) { [self] in resumeAccepting() }
  }

  private func resumeAccepting() {
    guard acceptPaused else { return }
    acceptPaused = false
    listenSource?.resume()
  }

  /// A fatal `internal_error` alert record (TLS 1.2 record version, which TLS 1.3 clients expect too).
  private static let tlsRefusal: [UInt8] = [0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x50]

  private static let refusal: [UInt8] = {
    let problem = Response.problem(.serviceUnavailable("The server is at its connection limit; try again shortly."))
    var out: [UInt8] = []
    _ = ResponseWriter.write(
      problem, for: .unparsed, requestID: "refused", keepAlive: false, dateLine: [], into: &out)
    return out
  }()

  // MARK: Bookkeeping used by connections

  func connectionClosed(remoteAddress: String) {
    openConnections.subtract(1, ordering: .relaxed)
    connectionsByAddress.withLock { open in
      let count = open[remoteAddress, default: 1]
      open[remoteAddress] = count > 1 ? count - 1 : nil
    }
  }
  /// Counts a file body about to be sent over TLS; the first one of each kind is logged with why.
  func tlsFileBodyStarted(throughKernel: Bool, session: TLSSession) {
    let before =
      throughKernel
      ? tlsFileBodiesByKernel.add(1, ordering: .relaxed).oldValue
      : tlsFileBodiesBuffered.add(1, ordering: .relaxed).oldValue
    guard before == 0 else { return }
    if throughKernel {
      logger.info(
        "tls file bodies",
        [
          "path": "kernel TLS (SSL_sendfile)", "protocol": .string(session.protocolVersion),
          "cipher": .string(session.cipherName),
        ])
    } else {
      logger.info(
        "tls file bodies",
        [
          "path": "buffered (OpenSSL encrypts in user space)", "protocol": .string(session.protocolVersion),
          "cipher": .string(session.cipherName),
          "reason": .string(HTTPServer.noKernelTLSReason(enabled: configuration.tls?.kernelTLS)),
        ])
    }
  }

  /// Why a TLS connection did not get kernel TLS, as far as can be told from here.
  static func noKernelTLSReason(enabled: Bool?) -> String {
    guard enabled == true else { return "kernel TLS is off in the configuration" }
    let ulps = (try? String(contentsOfFile: "/proc/sys/net/ipv4/tcp_available_ulp", encoding: .utf8)) ?? ""
    if !ulps.split(whereSeparator: { $0 == " " || $0 == "\n" }).contains("tls") {
      return
        "the kernel offers no tls ULP (/proc/sys/net/ipv4/tcp_available_ulp: \(ulps.trimmingCharacters(in: .whitespacesAndNewlines)))"
    }
    return "the kernel did not take this connection's keys (its cipher, or an OpenSSL without kernel TLS)"
  }

  func requestStarted() { activeRequests.add(1, ordering: .relaxed) }
  func requestFinished() { activeRequests.subtract(1, ordering: .relaxed) }

  /// The one place errors become answers: `ProblemError`s say their own; anything else is a logged 500.
  func response(for error: any Error, requestID: String) -> Response {
    Response.answer(to: error, requestID: requestID, logger: logger)
  }

  func logAccess(
    head: RequestHead, route: Int?, requestID: String, status: Int, bytes: Int, startedAt: UInt64, remote: String,
    loop: EventLoop
  ) {
    observer?(Answered(route: route, path: head.path, status: status))
    guard logger.enabled(.info) else { return }
    // Written straight into the loop's batch: no buffer per line.
    var batch: [UInt8] = []
    swap(&batch, &loop.accessLog)
    var line = LogLine(level: .info, msg: "request", timestamps: loop.timestamps, batch: batch)
    let keys = Self.accessKeys
    line.field(keys.requestID, requestID)
    line.field(keys.method, head.method.rawValue)
    // The path only: queries can carry signatures and tokens.
    line.field(keys.path, String(head.path))
    line.field(keys.status, status)
    line.field(keys.bytes, bytes)
    line.field(keys.duration, milliseconds: DispatchTime.now().uptimeNanoseconds &- startedAt)
    line.field(keys.remote, remote)
    loop.accessLog = logger.render(line) ?? []
  }

  /// The access line's keys, spelled once.
  private static let accessKeys = (
    requestID: LogKey("request_id"), method: LogKey("method"), path: LogKey("path"), status: LogKey("status"),
    bytes: LogKey("bytes"), duration: LogKey("duration_ms"), remote: LogKey("remote")
  )
}
