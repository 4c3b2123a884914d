import Foundation
import Synchronization

/// Where finished log lines go. Implementations must be safe to call from any thread.
public protocol LogSink: Sendable {
  /// Takes one complete line, newline included. `urgent` lines (errors, lifecycle) are written before
  /// the call returns.
  func write(_ line: [UInt8], urgent: Bool)
  /// Writes everything still buffered.
  func flush()
}

/// Buffers lines in memory and writes them to a file descriptor from a background thread, so a busy
/// server pays one `write` per batch instead of one per access-log line. Urgent lines flush at once.
public final class BufferedFileLogSink: LogSink, @unchecked Sendable {
  private struct State {
    var pending: [UInt8] = []
    var writerStarted = false
  }

  private let fd: Int32
  private let state = Mutex(State())
  private let wake = DispatchSemaphore(value: 0)
  private let flushInterval: Duration
  // Serialises actual writes, so a synchronous flush and the background writer never interleave lines.
  private let writeLock = NSLock()

  /// Logs to `fd` (stderr by default), batching for at most `flushInterval`.
  public init(fd: Int32 = 2, flushInterval: Duration = .milliseconds(50)) {
    self.fd = fd
    self.flushInterval = flushInterval
  }

  public func write(_ line: [UInt8], urgent: Bool) {
    // The writer starts with the first line that waits for it: an urgent line is written at once and starts
    // nothing (a process whose first line was a warning never started the writer, and its info lines then
    // waited for the next warning or the end).
    let (firstOfBatch, startWriter) = state.withLock { state -> (Bool, Bool) in
      let first = state.pending.isEmpty
      state.pending.append(contentsOf: line)
      let start = !urgent && !state.writerStarted
      if start { state.writerStarted = true }
      return (first, start)
    }
    if urgent {
      flush()
      return
    }
    if startWriter {
      let thread = Thread { [self] in runWriter() }
      thread.name = "ferry-log"
      thread.start()
    }
    // One wake-up per batch: the writer sleeps until a batch starts, then gives it `flushInterval` to fill.
    if firstOfBatch { wake.signal() }
  }

  public func flush() {
    writeLock.lock()
    defer { writeLock.unlock() }
    let batch = state.withLock { state -> [UInt8] in
      defer { state.pending.removeAll(keepingCapacity: true) }
      return state.pending
    }
    writeAll(batch)
  }

  private func runWriter() {
    while true {
      wake.wait()
      Thread.sleep(forTimeInterval: flushInterval.seconds)
      flush()
    }
  }

  private func writeAll(_ bytes: [UInt8]) {
    guard !bytes.isEmpty else { return }
    bytes.withUnsafeBytes { raw in
      var offset = 0
      while offset < raw.count {
        let n = Foundation.write(fd, raw.baseAddress! + offset, raw.count - offset)
        if n > 0 {
          offset += n
        } else if n < 0 && errno == EINTR {
          continue
        } else {
          return  // stderr closed or full: logging must never take the server down
        }
      }
    }
  }
}

/// Collects lines in memory; for tests that read what was logged.
public final class MemoryLogSink: LogSink, Sendable {
  private let lines = Mutex<[String]>([])

  public init() {}

  public func write(_ line: [UInt8], urgent: Bool) {
    let text = String(decoding: line.dropLast(), as: UTF8.self)
    lines.withLock { $0.append(text) }
  }

  public func flush() {}

  /// Every line written so far, without the trailing newline.
  public var all: [String] { lines.withLock { $0 } }
}
