import Foundation
import Log
import Synchronization

/// One client connection. Everything here runs on the owning loop's thread, except the handoff of an answer
/// from a handler that suspended, which goes through `handoff`.
final class Connection: @unchecked Sendable {
  private enum State {
    /// Waiting for (more of) a request head.
    case head
    /// Reading a request body.
    case body(BodyReader)
    /// A handler is running; reading is paused so pipelined requests wait their turn.
    case handling
    /// Our side is shut down for writing; reading and discarding until the peer closes or a deadline.
    case lingering(until: UInt64)
    case closed
  }

  /// How an answer travels from the handler's task to the loop.
  private enum Handoff {
    case idle
    case running
    /// The task finished before the loop looked: the loop takes the answer inline.
    case finished(Response)
    /// The task suspended: it must send its answer to the loop itself.
    case detached
  }

  private static let initialCapacity = 16 * 1024
  /// Unsent answer bytes past which no more pipelined requests are parsed until the client reads.
  private static let outputHighWater = 256 * 1024
  private static let lingerNanoseconds: UInt64 = 2_000_000_000
  private static let maxLingerBytes = 1 << 20

  let fd: Int32
  let remoteAddress: String
  // Strong: a handler that outlives a forced shutdown may still map its error through the server.
  private let server: HTTPServer
  private let loop: EventLoop
  private var state = State.head
  private var parser: RequestHeadParser
  private let handoff = Mutex(Handoff.idle)

  private var input: UnsafeMutableRawPointer
  private var capacity = Connection.initialCapacity
  /// Large enough for the longest head the limits allow, so a full buffer always means a parser error.
  private let maxCapacity: Int
  private var readIndex = 0
  private var writeIndex = 0
  private var output: [UInt8] = []
  private var outputOffset = 0
  /// A file body still being sent after `output` (no further request is parsed until it is done).
  private var fileBody: (body: FileBody, sent: Int64)?

  /// The connection's TLS session; nil for plain HTTP (and after a plain-HTTP request came to the TLS port).
  private var tls: TLSSession?
  /// The TLS handshake is not finished: no request bytes exist yet.
  private var handshaking = false
  /// A TLS read needs the socket to be writable first (OpenSSL writes while it reads, rarely).
  private var readWaitsForWritable = false
  /// The kernel encrypts what this connection sends (kernel TLS): file bodies go out with `SSL_sendfile`.
  private var tlsThroughKernel = false
  /// Over TLS without kernel TLS a file body is read into this buffer and encrypted by OpenSSL;
  /// `tlsChunk.count` bytes are in it, the first `tlsChunk.written` already accepted by OpenSSL.
  private var tlsChunk: (buffer: UnsafeMutableRawPointer, count: Int, written: Int)?
  /// The socket is corked while a file body goes out through OpenSSL: its 16 KiB records then leave as full
  /// segments instead of one each (fewer packets, and fewer wake-ups for the client).
  private var corked = false
  private static let tlsChunkCapacity = 256 * 1024

  /// Reading is paused while a handler runs or an answer waits for the client to read.
  private var readPaused = false
  /// Unsent output is waiting for the socket to become writable.
  private var awaitingWritable = false

  private var peerClosed = false
  /// epoll reported that the peer shut down its side: read to the end even after a short read.
  private var peerHungUp = false
  private var closeAfterWrite = false
  private var servedRequests = 0
  private var lingerDiscarded = 0
  /// Uptime of the last byte read or written (idle and body timeouts).
  private var lastActivity: UInt64
  /// Uptime at which the current head began (connection opened, or first byte after an idle period).
  private var headStartedAt: UInt64?
  /// Uptime at which the current body began to be read (the minimum body rate counts from it).
  private var bodyStartedAt: UInt64?
  private var current: InFlight?
  /// The running handler, cancelled if the connection closes under it.
  private var handlerTask: Task<Void, Never>?
  /// The request whose body is being read, and its route.
  private var pendingRequest: (Request, Route)?

  /// The request being answered.
  private struct InFlight {
    var head: RequestHead
    var id: String
    var startedAt: UInt64
    var keepAlive: Bool
    /// The route that matched (`Route.index`), for the server's observer.
    var route: Int? = nil
  }

  init(fd: Int32, remoteAddress: String, server: HTTPServer, loop: EventLoop, tls: TLSContext? = nil) {
    self.fd = fd
    self.remoteAddress = remoteAddress
    self.server = server
    self.loop = loop
    let limits = server.configuration.limits
    parser = RequestHeadParser(limits: limits)
    maxCapacity = max(64 * 1024, limits.requestLineBytes + limits.headerBytes + 4096)
    input = UnsafeMutableRawPointer.allocate(byteCount: Connection.initialCapacity, alignment: 16)
    lastActivity = DispatchTime.now().uptimeNanoseconds
    headStartedAt = lastActivity
    if let tls {
      // Without a session (out of memory) the connection closes on its first read.
      self.tls = tls.makeSession(fd: fd)
      handshaking = true
    }
  }

  deinit {
    input.deallocate()
    tlsChunk?.buffer.deallocate()
  }

  /// Starts reading; call on the loop's thread.
  func start() {
    loop.register(self)
  }

  // MARK: Reading

  /// The peer will send nothing more (the end of input may arrive together with the last data).
  func peerShutDownWriting() {
    peerHungUp = true
  }

  /// The socket has bytes (or end of input) to read. Reads until the socket is drained (the loop is
  /// edge-triggered) or reading is paused; after 16 reads it yields to other connections and comes back.
  func onReadable() {
    if case .closed = state { return }
    if handshaking {
      guard advanceHandshake() else { return }
    }
    var rounds = 0
    var drained = false
    while true {
      if rounds == 16 {
        if !drained, !readPaused, !awaitingWritable, !peerClosed {
          loop.execute { [self] in onReadable() }
        }
        break
      }
      rounds += 1
      if case .closed = state { return }
      if readIndex > 0 && (writeIndex == capacity || readIndex == writeIndex) { compact() }
      if writeIndex == capacity {
        guard capacity < maxCapacity else { break }
        grow()
      }
      let space = capacity - writeIndex
      let n = receive(into: input + writeIndex, count: space)
      if n > 0 {
        writeIndex += n
        lastActivity = loop.now
        if case .lingering = state {
          discardLingering(n)
          continue
        }
        process()
        // A short read means the socket had no more; new data brings a new edge. After the peer's FIN there
        // is no new edge, so keep reading until the end of input shows. A TLS read returns one record at a
        // time, so only OpenSSL's "want read" says the socket is drained.
        if n < space && !peerHungUp && tls == nil {
          drained = true
          break
        }
        if readPaused || awaitingWritable { break }
      } else if n == 0 {
        peerClosed = true
        break
      } else if errno == EINTR {
        continue
      } else if errno == EAGAIN || errno == EWOULDBLOCK {
        drained = true
        break
      } else if errno == Connection.tlsWantsWrite {
        readWaitsForWritable = true
        waitForWritable()
        break
      } else {
        close()
        return
      }
    }
    if peerClosed { peerDidClose() }
  }

  /// Stands in for errno when a TLS read must wait for the socket to be writable.
  private static let tlsWantsWrite: Int32 = -1

  /// `recv`, or a TLS read while the session is up (a lingering connection discards raw bytes), with
  /// `recv`'s results: bytes, 0 at the end of input, or -1 and errno (`tlsWantsWrite` for a TLS read that
  /// waits for writability).
  private func receive(into buffer: UnsafeMutableRawPointer, count: Int) -> Int {
    guard let tls else { return recv(fd, buffer, count, 0) }
    if case .lingering = state { return recv(fd, buffer, count, 0) }
    switch tls.read(into: buffer, count: count) {
    case .done(let n):
      return n
    case .closed:
      return 0
    case .wantRead:
      errno = EAGAIN
    case .wantWrite:
      errno = Connection.tlsWantsWrite
    case .failed:
      errno = EPROTO
    }
    return -1
  }

  /// Takes the TLS handshake as far as the socket allows; true once it is complete. A client that sent
  /// plain HTTP is answered in plain HTTP; other failures close the connection.
  private func advanceHandshake() -> Bool {
    guard let session = tls else {
      close()
      return false
    }
    switch session.handshake() {
    case .done:
      handshaking = false
      tlsThroughKernel = session.sendsThroughKernel
      // The request head gets its own `headerTimeout` from here: the handshake had one of its own.
      headStartedAt = loop.now
      return true
    case .wantRead:
      return false
    case .wantWrite:
      waitForWritable()
      return false
    case .closed:
      close()
      return false
    case .failed(let reason):
      handshaking = false
      if session.receivedPlainHTTP {
        // The rest of the exchange is plain: answer 400 and close (OpenSSL has read part of the request).
        tls = nil
        failBeforeHandler(
          HTTPError.badRequest("This port speaks HTTPS only: use an https:// URL."), head: nil)
        flush()
      } else {
        if server.logger.enabled(.debug) {
          server.logger.debug("tls handshake failed", ["remote": .string(remoteAddress), "reason": .string(reason)])
        }
        close()
      }
      return false
    }
  }

  private func discardLingering(_ n: Int) {
    lingerDiscarded += n
    readIndex = 0
    writeIndex = 0
    if lingerDiscarded > Connection.maxLingerBytes { close() }
  }

  private func peerDidClose() {
    switch state {
    case .handling:
      // The client may have half-closed after sending its request: answer it, then close.
      closeAfterWrite = true
      pauseReading()
    case .head where outputOffset < output.count:
      closeAfterWrite = true
      pauseReading()
    case .closed:
      break
    default:
      close()
    }
  }

  /// Parses and dispatches as many requests as the buffered bytes hold.
  private func process() {
    while true {
      switch state {
      case .head:
        guard readIndex < writeIndex, !closeAfterWrite else { return finishProcessing() }
        // A client that pipelines requests without reading answers must not make us buffer without bound.
        if output.count - outputOffset > Connection.outputHighWater || fileBody != nil {
          flush()
          guard outputOffset == 0, fileBody == nil, case .head = state else { return }
        }
        if headStartedAt == nil { headStartedAt = loop.now }
        let result: RequestHeadParser.Result
        do {
          result = try parser.parse(UnsafeRawBufferPointer(start: input + readIndex, count: writeIndex - readIndex))
        } catch {
          // The connection closes after this answer: drop what is buffered and forget the bad head.
          readIndex = writeIndex
          parser.reset()
          headStartedAt = nil
          failBeforeHandler(error, head: nil)
          return finishProcessing()
        }
        guard case .head(let head, let consumed) = consume result else { return finishProcessing() }
        readIndex += consumed
        parser.reset()
        headStartedAt = nil
        begin(head)
      case .body(var reader):
        guard readIndex < writeIndex else { return finishProcessing() }
        // Take the reader out of `state` first, so its buffer is uniquely referenced and appends don't copy.
        state = .handling
        let taken: Int
        do {
          taken = try reader.consume(UnsafeRawBufferPointer(start: input + readIndex, count: writeIndex - readIndex))
        } catch {
          reader.abort()
          failBeforeHandler(error, head: current?.head)
          return finishProcessing()
        }
        readIndex += taken
        if reader.isComplete {
          completeBody(reader)
        } else {
          state = .body(reader)
        }
      case .handling, .lingering, .closed:
        return finishProcessing()
      }
    }
  }

  private func finishProcessing() {
    if readIndex == writeIndex {
      readIndex = 0
      writeIndex = 0
    }
    flush()
  }

  // MARK: Requests

  private func begin(_ head: RequestHead) {
    let id = Connection.usableRequestID(head.headers["X-Request-Id"]) ?? loop.nextRequestID()
    current = InFlight(
      head: head, id: id, startedAt: DispatchTime.now().uptimeNanoseconds,
      keepAlive: head.keepAlive && !server.isDraining)
    server.requestStarted()
    let path = head.path
    var request = Request(
      method: head.method, path: String(path), query: head.query.map(String.init), version: head.version,
      headers: head.headers, body: .none, parameters: [:], id: id, remoteAddress: remoteAddress)

    let route: Route
    switch server.router.match(head.method, path) {
    case .found(let found, let parameters):
      route = found
      request.parameters = parameters
      current?.route = found.index
    case .methodNotAllowed(let allow):
      if let preflight = server.router.preflight(head.method, path, headers: head.headers, allow: allow) {
        return answerBeforeHandler(head: head) { _ in preflight }
      }
      return failBeforeHandler(HTTPError.methodNotAllowed(head.method, allow: allow), head: head)
    case .notFound:
      return failBeforeHandler(HTTPError.notFound(), head: head)
    }

    if let check = route.check {
      do {
        try check(request)
      } catch {
        return failBeforeHandler(error, head: head)
      }
    }
    let policy = route.body ?? .buffered(limit: server.configuration.defaultBodyLimit)
    if case .length(let length) = head.framing, length > policy.limit {
      return failBeforeHandler(HTTPError.payloadTooLarge(limit: policy.limit), head: head)
    }
    guard head.framing != .none else {
      return dispatch(request, route)
    }
    var sink: (any RequestBodySink)?
    if case .streamed(_, let makeSink) = policy {
      do {
        sink = try makeSink(request)
      } catch {
        return failBeforeHandler(error, head: head)
      }
    }
    pendingRequest = (request, route)
    state = .body(BodyReader(framing: head.framing, limit: policy.limit, sink: sink))
    bodyStartedAt = DispatchTime.now().uptimeNanoseconds
    if head.expectsContinue {
      output.append(contentsOf: "HTTP/1.1 100 Continue\r\n\r\n".utf8)
    }
  }

  private func completeBody(_ reader: BodyReader) {
    guard case (var request, let route)? = pendingRequest else { return }
    pendingRequest = nil
    do {
      request.body = try reader.finish()
    } catch {
      reader.abort()
      state = .handling
      return failBeforeHandler(error, head: current?.head)
    }
    dispatch(request, route)
  }

  /// Runs the route's middleware and handler. A synchronous handler answers right here, on the loop. An
  /// async one starts as `Task.immediate`, so it too runs here until it first suspends; if it does, it
  /// finishes on the concurrency pool and sends its answer back to the loop.
  private func dispatch(_ request: Request, _ route: Route) {
    state = .handling
    var request = request
    var prepared = 0
    do {
      for middleware in route.middleware {
        try middleware.prepare(&request)
        prepared += 1
      }
    } catch {
      // Only the middleware that prepared this request gets to finish it.
      return answer(finished(server.response(for: error, requestID: request.id), request, route, upTo: prepared))
    }
    switch route.handler {
    case .sync(let handler):
      let response: Response
      do {
        response = try handler(request)
      } catch {
        response = server.response(for: error, requestID: request.id)
      }
      answer(finished(response, request, route))
    case .async(let handler):
      dispatchAsync(handler, request, route)
    }
  }

  private func dispatchAsync(_ handler: @escaping AsyncHandler, _ request: Request, _ route: Route) {
    handoff.withLock { $0 = .running }
    let task = Task.immediate { [self] in
      var response: Response
      do {
        response = try await handler(request)
      } catch {
        response = server.response(for: error, requestID: request.id)
      }
      response = finished(response, request, route)
      let detached = handoff.withLock { handoff -> Bool in
        if case .detached = handoff { return true }
        handoff = .finished(response)
        return false
      }
      if detached {
        loop.execute { [self, response] in
          answer(response)
          resumeAfterAsyncAnswer()
        }
      }
    }
    let inline = handoff.withLock { handoff -> Response? in
      if case .finished(let response) = handoff {
        handoff = .idle
        return response
      }
      handoff = .detached
      return nil
    }
    if let inline {
      answer(inline)
    } else {
      handlerTask = task
      pauseReading()
    }
  }

  /// `response` after the `finish` hooks of the route's first `count` middleware (all by default),
  /// innermost first.
  private func finished(_ response: Response, _ request: Request, _ route: Route, upTo count: Int? = nil)
    -> Response
  {
    var response = response
    for middleware in route.middleware.prefix(count ?? route.middleware.count).reversed() {
      middleware.finish(request, &response)
    }
    return response
  }

  private func resumeAfterAsyncAnswer() {
    if case .closed = state { return }
    resumeReading()
    process()
  }

  /// Answers the current request with the problem for `error`. A request whose body was not read to the end
  /// (or whose head could not be parsed) leaves the connection out of step, so it closes afterwards.
  private func failBeforeHandler(_ error: any Error, head: RequestHead?) {
    answerBeforeHandler(head: head) { [server] id in server.response(for: error, requestID: id) }
  }

  /// Answers the current request without a handler, with what `makeResponse` makes of its request id (a
  /// preflight, or an error's problem as `failBeforeHandler`).
  private func answerBeforeHandler(head: RequestHead?, _ makeResponse: (String) -> Response) {
    if current == nil {
      current = InFlight(
        head: head ?? .unparsed, id: loop.nextRequestID(), startedAt: DispatchTime.now().uptimeNanoseconds,
        keepAlive: false)
      server.requestStarted()
    }
    if head == nil || head?.framing != BodyFraming.none { current?.keepAlive = false }
    state = .handling
    pendingRequest = nil
    answer(makeResponse(current!.id))
  }

  /// Queues `response` for the current request, finished by the router (`Router.finish`), and gets ready for
  /// the next one.
  private func answer(_ response: Response) {
    guard case .handling = state, let exchange = current else { return }
    var response = response
    server.router.finish(&response, path: exchange.head.path, headers: exchange.head.headers)
    current = nil
    handlerTask = nil
    handoff.withLock { $0 = .idle }
    let keepAlive = exchange.keepAlive && !server.isDraining && !closeAfterWrite
    let bodyBytes = ResponseWriter.write(
      response, for: exchange.head, requestID: exchange.id, keepAlive: keepAlive, dateLine: loop.dateLine,
      into: &output)
    if let file = response.file, file.length > 0, response.status.allowsBody, exchange.head.method != .head {
      fileBody = (file, 0)
      if let tls { server.tlsFileBodyStarted(throughKernel: tlsThroughKernel, session: tls) }
      if var chunk = tlsChunk {
        chunk.count = 0
        chunk.written = 0
        tlsChunk = chunk
      }
    }
    servedRequests += 1
    server.requestFinished()
    server.logAccess(
      head: exchange.head, route: exchange.route, requestID: exchange.id, status: response.status.code,
      bytes: bodyBytes,
      startedAt: exchange.startedAt, remote: remoteAddress, loop: loop)
    if keepAlive {
      state = .head
    } else {
      closeAfterWrite = true
      state = .head
    }
  }

  // MARK: Writing

  private func flush() {
    while outputOffset < output.count {
      let n = output.withUnsafeBytes { raw in
        transmit(raw.baseAddress! + outputOffset, raw.count - outputOffset)
      }
      if n > 0 {
        outputOffset += n
        lastActivity = loop.now
      } else if n < 0 && errno == EINTR {
        continue
      } else if n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) {
        waitForWritable()
        return
      } else {
        close()
        return
      }
    }
    output.removeAll(keepingCapacity: output.capacity <= 64 * 1024)
    outputOffset = 0
    guard sendFileBody() else { return }
    if closeAfterWrite, case .head = state {
      linger()
    }
  }

  /// `send`, or a TLS write while the session is up, with `send`'s results (-1 and EAGAIN while TLS waits).
  private func transmit(_ buffer: UnsafeRawPointer, _ count: Int) -> Int {
    guard let tls else { return send(fd, buffer, count, Int32(MSG_NOSIGNAL)) }
    switch tls.write(from: buffer, count: count) {
    case .done(let n):
      return n
    case .wantWrite:
      errno = EAGAIN
    case .wantRead:
      // Only renegotiation makes a write wait for a read, and it is off; wait for the socket all the same
      // (the idle timeout ends a connection that never moves again).
      errno = EAGAIN
    case .closed, .failed:
      errno = EPIPE
    }
    return -1
  }

  /// Sends what is left of the file body; false while some of it waits for the socket (or it failed).
  private func sendFileBody() -> Bool {
    guard let tls else {
      return sendFileBody { file, offset, count in
        var position = off_t(offset)
        let n = sendfile(fd, file, &position, count)
        if n > 0 { return .sent(n) }
        if n < 0 && errno == EINTR { return .interrupted }
        return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) ? .wait : .failed
      }
    }
    guard tlsThroughKernel else { return sendFileBodyOverTLS() }
    // Kernel TLS: `SSL_sendfile` has the kernel read, encrypt and send the file, with no copy through user space.
    return sendFileBody { file, offset, count in
      switch tls.sendFile(file, offset: offset, count: count) {
      case .done(let n): .sent(n)
      case .wantWrite, .wantRead: .wait
      case .closed, .failed: .failed
      }
    }
  }

  /// What one send of a piece of the file body did.
  private enum PieceSent {
    case sent(Int)
    /// Interrupted by a signal before anything was sent: send again.
    case interrupted
    /// The socket cannot take more now.
    case wait
    case failed
  }

  /// Sends what is left of the file body a piece at a time (at most 1 MiB of `file` from `offset`) with
  /// `send`, plain `sendfile` or kernel TLS; false while some of it waits for the socket (or it failed).
  private func sendFileBody(_ send: (_ file: Int32, _ offset: Int64, _ count: Int) -> PieceSent) -> Bool {
    var thisTurn: Int64 = 0
    while let (body, sent) = fileBody {
      // A fast client must not keep the loop's other connections waiting: after 16 MiB, take turns.
      if thisTurn >= 16 << 20 {
        loop.execute { [self] in continueAfterYield() }
        return false
      }
      if sent >= body.length {
        fileBody = nil
        return true
      }
      switch send(body.fd, body.offset + sent, Int(min(body.length - sent, 1 << 20))) {
      case .sent(let n):
        fileBody = (body, sent + Int64(n))
        thisTurn += Int64(n)
        lastActivity = loop.now
      case .interrupted:
        continue
      case .wait:
        waitForWritable()
        return false
      case .failed:
        // The file shrank under us or the socket failed: the promised length cannot be kept.
        close()
        return false
      }
    }
    return true
  }

  /// The file body through OpenSSL in user space (no kernel TLS for this connection): read a piece, encrypt
  /// and write it, and so on. Same turn-taking and results as `sendFileBody`.
  private func sendFileBodyOverTLS() -> Bool {
    var thisTurn: Int64 = 0
    if fileBody != nil && !corked {
      corked = true
      Socket.setCork(fd, true)
    }
    while let (body, sent) = fileBody {
      if thisTurn >= 16 << 20 {
        loop.execute { [self] in continueAfterYield() }
        return false
      }
      if tlsChunk == nil || tlsChunk!.written == tlsChunk!.count {
        if sent >= body.length {
          fileBody = nil
          releaseTLSChunk()
          corked = false
          Socket.setCork(fd, false)
          return true
        }
        let buffer =
          tlsChunk?.buffer ?? UnsafeMutableRawPointer.allocate(byteCount: Connection.tlsChunkCapacity, alignment: 16)
        let want = Int(min(body.length - sent, Int64(Connection.tlsChunkCapacity)))
        let n = pread(body.fd, buffer, want, off_t(body.offset + sent))
        tlsChunk = (buffer, max(n, 0), 0)
        if n < 0 && errno == EINTR { continue }
        guard n > 0 else {
          // The file shrank under us: the promised length cannot be kept.
          close()
          return false
        }
      }
      let chunk = tlsChunk!
      let n = transmit(chunk.buffer + chunk.written, chunk.count - chunk.written)
      if n > 0 {
        tlsChunk!.written += n
        fileBody = (body, sent + Int64(n))
        thisTurn += Int64(n)
        lastActivity = loop.now
      } else if errno == EAGAIN {
        waitForWritable()
        return false
      } else {
        close()
        return false
      }
    }
    return true
  }

  private func releaseTLSChunk() {
    tlsChunk?.buffer.deallocate()
    tlsChunk = nil
  }

  /// Goes on with a file body after yielding the loop, then with what the client sent meanwhile.
  private func continueAfterYield() {
    if case .closed = state { return }
    guard !awaitingWritable else { return }
    flush()
    guard !awaitingWritable, outputOffset == 0, fileBody == nil, case .head = state else { return }
    process()
  }

  private func waitForWritable() {
    guard !awaitingWritable else { return }
    awaitingWritable = true
    updateInterest()
  }

  /// The socket can take more output.
  func onWritable() {
    guard awaitingWritable else { return }
    if case .closed = state { return }
    awaitingWritable = false
    updateInterest()
    if handshaking {
      if advanceHandshake() { onReadable() }
      return
    }
    if readWaitsForWritable {
      readWaitsForWritable = false
      loop.execute { [self] in onReadable() }
    }
    flush()
    guard !awaitingWritable, outputOffset == 0, fileBody == nil else { return }
    switch state {
    case .head, .body:
      process()
    case .handling, .lingering, .closed:
      break
    }
  }

  private func pauseReading() {
    guard !readPaused else { return }
    readPaused = true
    updateInterest()
  }

  private func resumeReading() {
    guard readPaused else { return }
    readPaused = false
    updateInterest()
  }

  /// Tells the loop what to watch: no reading while output is blocked (back-pressure) or reading is paused.
  private func updateInterest() {
    if case .closed = state { return }
    let read = !readPaused && !awaitingWritable
    loop.watch(fd, read: read, write: awaitingWritable)
    if read, let tls, !handshaking, tls.hasBufferedInput {
      loop.execute { [self] in if !readPaused && !awaitingWritable { onReadable() } }
    }
  }

  // MARK: Closing

  /// Half-closes and reads out what the client still sends, so our last answer is not lost to a reset.
  private func linger() {
    state = .lingering(until: DispatchTime.now().uptimeNanoseconds + Connection.lingerNanoseconds)
    tls?.close()
    Glibc.shutdown(fd, Int32(SHUT_WR))
    readIndex = 0
    writeIndex = 0
    if peerClosed { return close() }
    resumeReading()
  }

  /// Closes the connection now.
  func close() {
    if case .closed = state { return }
    if case .body(let reader) = state { reader.abort() }
    if current != nil {
      current = nil
      server.requestFinished()
    }
    handlerTask?.cancel()
    handlerTask = nil
    fileBody = nil
    releaseTLSChunk()
    state = .closed
    loop.deregister(fd)
    Glibc.close(fd)
    server.connectionClosed(remoteAddress: remoteAddress)
  }

  /// Enforces the header, idle, body and linger deadlines; called by the loop's timer.
  func checkTimeouts(now: UInt64, draining: Bool) {
    let config = server.configuration
    switch state {
    case .head where closeAfterWrite:
      // The last answer is written or waiting for the client to read it; only the stall check below applies.
      break
    case .head:
      let hasPartialRequest = readIndex < writeIndex || parser.hasPartialHead
      if !hasPartialRequest && current == nil && outputOffset >= output.count && fileBody == nil {
        // Nothing received: close quietly when draining or when the idle (or first-request) wait is over.
        let waitedFor = now &- (headStartedAt ?? lastActivity)
        let limit = servedRequests == 0 ? config.headerTimeout : config.idleTimeout
        if draining || waitedFor > limit.nanoseconds { close() }
      } else if let headStartedAt, hasPartialRequest, now &- headStartedAt > config.headerTimeout.nanoseconds {
        timeOut("The request head did not arrive within \(config.headerTimeout).")
      }
    case .body(let reader):
      if now &- lastActivity > config.idleTimeout.nanoseconds {
        timeOut("The request body stalled for longer than \(config.idleTimeout).")
      } else if let bodyStartedAt, now &- bodyStartedAt > config.headerTimeout.nanoseconds {
        // Averaged from the body's start, past a grace as long as the head's: a pause is fine, a trickle is not.
        let seconds = Double(now &- bodyStartedAt) / 1e9
        if Double(reader.received) / seconds < Double(config.minBodyRate) {
          timeOut("The request body arrived slower than \(config.minBodyRate) bytes a second.")
        }
      }
    case .lingering(let until):
      if now > until { close() }
    case .handling, .closed:
      break
    }
    // An answer (bytes or a file body) the client stopped reading.
    if outputOffset < output.count || fileBody != nil, now &- lastActivity > config.idleTimeout.nanoseconds {
      close()
    }
  }

  /// Whether the connection is between requests with nothing received (safe to close when draining).
  var isIdle: Bool {
    guard case .head = state else { return false }
    // A download still being sent is not idle: shutdown lets it finish within the grace period.
    return readIndex == writeIndex && !parser.hasPartialHead && current == nil && outputOffset >= output.count
      && fileBody == nil
  }

  private func timeOut(_ detail: String) {
    if case .body(let reader) = state { reader.abort() }
    readIndex = writeIndex
    parser.reset()
    headStartedAt = nil
    state = .handling
    pendingRequest = nil
    if current == nil {
      current = InFlight(
        head: .unparsed, id: loop.nextRequestID(), startedAt: DispatchTime.now().uptimeNanoseconds,
        keepAlive: false)
      server.requestStarted()
    }
    current?.keepAlive = false
    answer(Response.problem(.requestTimeout(detail)))
    flush()
  }

  // MARK: Buffer

  private func compact() {
    if readIndex < writeIndex { (input + 0).copyMemory(from: input + readIndex, byteCount: writeIndex - readIndex) }
    writeIndex -= readIndex
    readIndex = 0
  }

  private func grow() {
    let bigger = UnsafeMutableRawPointer.allocate(byteCount: capacity * 2, alignment: 16)
    bigger.copyMemory(from: input, byteCount: writeIndex)
    input.deallocate()
    input = bigger
    capacity *= 2
  }

  /// A client-chosen request id, if it is short and made of safe characters.
  static func usableRequestID(_ value: String?) -> String? {
    guard let value, !value.isEmpty, value.utf8.count <= 128 else { return nil }
    let ok = value.utf8.allSatisfy { b in
      (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A) || b == 0x2D || b == 0x5F
        || b == 0x2E || b == 0x3A
    }
    return ok ? value : nil
  }
}

extension RequestHead {
  /// Stands in for a head that could not be parsed, in logs and answers.
  static let unparsed = RequestHead(
    method: "-", target: "-", version: .http1_1, headers: [:], framing: .none, expectsContinue: false,
    keepAlive: false)
}
