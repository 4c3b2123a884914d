import CEventPoll
import Foundation
import Log
import Synchronization

/// One thread that owns a share of the connections: it waits on epoll, and reads, parses, runs inline
/// handlers and writes for its connections itself, so a request costs no thread hand-off and no epoll
/// re-arming. Registrations are edge-triggered and persistent, as nginx's are: a level-triggered epoll
/// re-polls every socket that was ready on each wait, which measurably costs kernel time per request.
/// Connections therefore read until the socket is drained, and changing a registration (`watch`) reports
/// data that is already waiting. Other threads reach the loop through `execute`, which queues work and
/// wakes the loop through an eventfd.
///
/// Everything but `execute`, `submit` and `stop` must be called on the loop's own thread.
final class EventLoop: @unchecked Sendable {
  let index: Int
  private let epollFD: Int32
  private let wakeFD: Int32
  private struct Inbox {
    var work: [@Sendable () -> Void] = []
    /// Set once the loop has run its last work: later work is refused (its descriptors are closing).
    var stopped = false
  }

  private let inbox = Mutex(Inbox())
  private let running = Atomic<Bool>(true)
  private let threadStarted = Atomic<Bool>(false)
  private var thread: Thread?

  // Loop-thread state.
  private var connections: [Int32: Connection] = [:]
  private(set) var dateLine: [UInt8]
  /// Timestamps for this loop's log lines, formatted once per second.
  let timestamps = TimestampCache()
  /// Access-log lines of this loop's current batch, handed to the log sink once per wake-up: one lock per
  /// batch instead of one per request, which the loops would otherwise contend on.
  var accessLog: [UInt8] = []
  private let logger: Logger
  private var requestCounter: UInt64 = 0
  /// Uptime when the loop last woke up: a clock read once per batch of events, good enough for timeouts.
  private(set) var now: UInt64 = DispatchTime.now().uptimeNanoseconds
  private let requestIDPrefix: String

  init(index: Int, requestIDPrefix: String, logger: Logger) throws {
    self.index = index
    self.logger = logger
    self.requestIDPrefix = requestIDPrefix + String(index, radix: 36) + "-"
    dateLine = EventLoop.formatDateLine()
    epollFD = epoll_create1(Int32(EPOLL_CLOEXEC))
    guard epollFD >= 0 else { throw SocketError.errno("epoll_create1") }
    wakeFD = eventfd(0, Int32(EFD_NONBLOCK | EFD_CLOEXEC))
    guard wakeFD >= 0 else {
      close(epollFD)
      throw SocketError.errno("eventfd")
    }
    var event = epoll_event()
    event.events = EPOLLIN.rawValue
    event.data.fd = wakeFD
    epoll_ctl(epollFD, EPOLL_CTL_ADD, wakeFD, &event)
  }

  deinit {
    // A loop that ran closed these itself on its way out.
    if !threadStarted.load(ordering: .acquiring) {
      close(epollFD)
      close(wakeFD)
    }
  }

  /// Starts the loop's thread; `onTick` runs on it about every `tick` with the current uptime.
  func start(tick: Duration, onTick: @escaping @Sendable (EventLoop, UInt64) -> Void) {
    threadStarted.store(true, ordering: .releasing)
    let thread = Thread { [self] in run(tickNanoseconds: tick.nanoseconds, onTick: onTick) }
    thread.name = "ferry-http-\(index)"
    thread.qualityOfService = .userInitiated
    self.thread = thread
    thread.start()
  }

  /// Ends the loop after the work already queued; the loop closes its epoll and eventfd descriptors.
  /// A loop whose thread never started just refuses further work.
  func stop() {
    running.store(false, ordering: .releasing)
    guard threadStarted.load(ordering: .acquiring) else {
      inbox.withLock { $0.stopped = true }
      return
    }
    wake()
  }

  /// Runs `work` on the loop's thread soon; returns false (and drops it) if the loop has stopped.
  /// Safe from any thread.
  @discardableResult
  func execute(_ work: @escaping @Sendable () -> Void) -> Bool {
    let (accepted, wasEmpty) = inbox.withLock { inbox -> (Bool, Bool) in
      guard !inbox.stopped else { return (false, false) }
      inbox.work.append(work)
      return (true, inbox.work.count == 1)
    }
    // The loop takes the whole inbox after each wake-up, so only the first item needs to wake it.
    if wasEmpty { wake() }
    return accepted
  }

  /// Runs `work` on the loop's thread and waits for it; returns at once if the loop has stopped.
  func submit(_ work: @escaping @Sendable () -> Void) async {
    await withCheckedContinuation { continuation in
      let accepted = execute {
        work()
        continuation.resume()
      }
      if !accepted { continuation.resume() }
    }
  }

  private func wake() {
    var one: UInt64 = 1
    _ = write(wakeFD, &one, 8)
  }

  // MARK: Registration (loop thread)

  /// Watches `connection`'s socket for reading.
  func register(_ connection: Connection) {
    connections[connection.fd] = connection
    var event = epoll_event()
    event.events = EPOLLIN.rawValue | EPOLLRDHUP.rawValue | EPOLLET.rawValue
    event.data.fd = connection.fd
    epoll_ctl(epollFD, EPOLL_CTL_ADD, connection.fd, &event)
  }

  /// Changes what `fd` is watched for (read, write, both or neither; errors are always reported). A socket
  /// that is already readable or writable is reported once more, so no edge is lost across the change.
  func watch(_ fd: Int32, read: Bool, write: Bool) {
    var event = epoll_event()
    event.events =
      (read ? EPOLLIN.rawValue | EPOLLRDHUP.rawValue : 0) | (write ? EPOLLOUT.rawValue : 0) | EPOLLET.rawValue
    event.data.fd = fd
    epoll_ctl(epollFD, EPOLL_CTL_MOD, fd, &event)
  }

  /// Stops watching `fd`; the caller closes it afterwards.
  func deregister(_ fd: Int32) {
    connections[fd] = nil
    epoll_ctl(epollFD, EPOLL_CTL_DEL, fd, nil)
  }

  /// The connections this loop owns right now.
  var allConnections: [Connection] { Array(connections.values) }

  // MARK: The loop

  private func run(tickNanoseconds: UInt64, onTick: @Sendable (EventLoop, UInt64) -> Void) {
    let capacity = 256
    let events = UnsafeMutablePointer<epoll_event>.allocate(capacity: capacity)
    defer { events.deallocate() }
    var nextTick = DispatchTime.now().uptimeNanoseconds + tickNanoseconds
    while running.load(ordering: .acquiring) {
      let now = self.now
      let timeout = nextTick > now ? Int32(min((nextTick - now) / 1_000_000 + 1, 1000)) : 0
      let count = epoll_wait(epollFD, events, Int32(capacity), timeout)
      if count < 0 && errno != EINTR { break }
      self.now = DispatchTime.now().uptimeNanoseconds
      for i in 0..<max(0, Int(count)) {
        let fd = events[i].data.fd
        let flags = events[i].events
        if fd == wakeFD {
          var value: UInt64 = 0
          _ = read(wakeFD, &value, 8)
          continue
        }
        // A connection closed earlier in this batch may have left an event behind.
        guard let connection = connections[fd] else { continue }
        if flags & (EPOLLERR.rawValue | EPOLLHUP.rawValue) != 0 && flags & EPOLLIN.rawValue == 0 {
          connection.close()
          continue
        }
        if flags & EPOLLOUT.rawValue != 0 { connection.onWritable() }
        if flags & EPOLLRDHUP.rawValue != 0 { connection.peerShutDownWriting() }
        if flags & (EPOLLIN.rawValue | EPOLLRDHUP.rawValue) != 0 { connection.onReadable() }
      }
      runInbox()
      flushAccessLog()
      let after = DispatchTime.now().uptimeNanoseconds
      if after >= nextTick {
        dateLine = EventLoop.formatDateLine()
        onTick(self, after)
        nextTick = after + tickNanoseconds
      }
    }
    let last = inbox.withLock { inbox -> [@Sendable () -> Void] in
      inbox.stopped = true
      defer { inbox.work.removeAll() }
      return inbox.work
    }
    for work in last { work() }
    for connection in connections.values { connection.close() }
    flushAccessLog()
    close(epollFD)
    close(wakeFD)
  }

  private func flushAccessLog() {
    guard !accessLog.isEmpty else { return }
    logger.writeBatch(accessLog)
    accessLog.removeAll(keepingCapacity: true)
  }

  /// Runs the work queued so far. Work queued meanwhile waits for the next turn (its `execute` finds the
  /// inbox empty and wakes the loop), so a connection that re-queues itself cannot starve epoll or the tick.
  private func runInbox() {
    let work = inbox.withLock { inbox -> [@Sendable () -> Void] in
      defer { inbox.work.removeAll(keepingCapacity: true) }
      return inbox.work
    }
    for item in work { item() }
  }

  /// A new request id: unique within this process without shared state between loops.
  func nextRequestID() -> String {
    requestCounter &+= 1
    return requestIDPrefix + String(requestCounter, radix: 16)
  }

  /// `Date: <IMF-fixdate>\r\n` for the current second.
  static func formatDateLine() -> [UInt8] {
    var t = time(nil)
    var parts = tm()
    gmtime_r(&t, &parts)
    var buffer = [CChar](repeating: 0, count: 64)
    let n = strftime(&buffer, buffer.count, "Date: %a, %d %b %Y %H:%M:%S GMT\r\n", &parts)
    return buffer[0..<n].map { UInt8(bitPattern: $0) }
  }
}
