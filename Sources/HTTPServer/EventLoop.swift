import Dispatch
import Foundation

/// One serial queue that owns a share of the connections: their reads, parsing, writes and timeouts all run
/// on it, so connection state needs no locks. A timer on the queue enforces timeouts and refreshes the cached
/// `Date` header.
final class EventLoop: @unchecked Sendable {
  let index: Int
  let queue: DispatchQueue
  // Mutated on `queue` only.
  var connections: [ObjectIdentifier: Connection] = [:]
  private(set) var dateLine: [UInt8] = []
  private var requestCounter: UInt64 = 0
  private let requestIDPrefix: String
  private var timer: DispatchSourceTimer?

  init(index: Int, requestIDPrefix: String) {
    self.index = index
    self.requestIDPrefix = requestIDPrefix + String(index, radix: 36) + "-"
    queue = DispatchQueue(label: "ferry.http.loop.\(index)", qos: .userInitiated)
    dateLine = EventLoop.formatDateLine()
  }

  /// Starts the timer that scans for timeouts every `tick`.
  func start(tick: Duration, onTick: @escaping @Sendable (EventLoop, UInt64) -> Void) {
    let timer = DispatchSource.makeTimerSource(queue: queue)
    let interval = Int(tick.nanoseconds)
    timer.schedule(
      deadline: .now() + .nanoseconds(interval), repeating: .nanoseconds(interval), leeway: .milliseconds(20))
    timer.setEventHandler { [unowned self] in
      dateLine = EventLoop.formatDateLine()
      onTick(self, DispatchTime.now().uptimeNanoseconds)
    }
    timer.resume()
    self.timer = timer
  }

  func stop() {
    timer?.cancel()
    timer = nil
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
