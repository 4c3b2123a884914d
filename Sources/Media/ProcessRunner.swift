import Foundation
import Synchronization

/// Runs a program (ffmpeg, ffprobe) with an argument array — never through a shell — feeding its stdout to
/// a line handler and keeping the tail of its stderr. The process is killed when `cancel()` is called.
/// Spawned with posix_spawn and reaped with waitpid on the calling thread, so no run loop is involved.
public final class ProcessRunner: Sendable {
  /// What a finished process left.
  public struct Exit: Sendable, Equatable {
    /// The exit status, or 128 + signal number when a signal ended it.
    public var status: Int32
    /// The last `stderrLimit` bytes of its stderr.
    public var stderr: String
    /// True when `cancel()` killed it.
    public var killed: Bool
  }

  public struct LaunchError: Error, Sendable, CustomStringConvertible {
    public var description: String
  }

  private let pid = Mutex<pid_t>(0)
  private let killed = Mutex(false)
  /// The stderr kept, in bytes (the end of it: that is where ffmpeg explains).
  public let stderrLimit: Int

  public init(stderrLimit: Int = 8192) {
    self.stderrLimit = stderrLimit
  }

  /// Runs `executable` with `arguments` and waits for it; `onLine` gets each stdout line as it arrives.
  public func run(_ executable: String, _ arguments: [String], onLine: (Substring) -> Void = { _ in }) throws
    -> Exit
  {
    var stdoutPipe: [Int32] = [0, 0]
    var stderrPipe: [Int32] = [0, 0]
    // pipe2 is not exported to Swift: set close-on-exec right after, so other spawns do not inherit them.
    guard pipe(&stdoutPipe) == 0, pipe(&stderrPipe) == 0 else {
      throw LaunchError(description: "cannot create pipes: \(String(cString: strerror(errno)))")
    }
    for fd in stdoutPipe + stderrPipe { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
    posix_spawn_file_actions_adddup2(&actions, stdoutPipe[1], 1)
    posix_spawn_file_actions_adddup2(&actions, stderrPipe[1], 2)
    let argv: [UnsafeMutablePointer<CChar>?] = ([executable] + arguments).map { strdup($0) } + [nil]
    defer { argv.forEach { free($0) } }
    var child: pid_t = 0
    let spawned = posix_spawnp(&child, executable, &actions, nil, argv, environ)
    close(stdoutPipe[1])
    close(stderrPipe[1])
    guard spawned == 0 else {
      close(stdoutPipe[0])
      close(stderrPipe[0])
      throw LaunchError(description: "cannot start \(executable): \(String(cString: strerror(spawned)))")
    }
    pid.withLock { $0 = child }
    // A cancel that came before the pid was known kills now.
    if killed.withLock({ $0 }) { kill(child, SIGKILL) }

    // stderr drains on its own thread so a chatty process never blocks on a full pipe.
    let stderrTail = Mutex<[UInt8]>([])
    let stderrDone = DispatchSemaphore(value: 0)
    let limit = stderrLimit
    let stderrFD = stderrPipe[0]
    Thread.detachNewThread {
      var buffer = [UInt8](repeating: 0, count: 16384)
      while true {
        let n = read(stderrFD, &buffer, buffer.count)
        if n <= 0 { break }
        stderrTail.withLock { tail in
          tail.append(contentsOf: buffer[0..<n])
          if tail.count > limit { tail.removeFirst(tail.count - limit) }
        }
      }
      close(stderrFD)
      stderrDone.signal()
    }

    var pending: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 16384)
    while true {
      let n = read(stdoutPipe[0], &buffer, buffer.count)
      if n < 0 && errno == EINTR { continue }
      if n <= 0 { break }
      pending.append(contentsOf: buffer[0..<n])
      while let newline = pending.firstIndex(of: 0x0A) {
        onLine(Substring(String(decoding: pending[..<newline], as: UTF8.self)))
        pending.removeSubrange(...newline)
      }
      // A process that never ends its lines cannot grow this without bound.
      if pending.count > 1 << 20 { pending.removeAll() }
    }
    close(stdoutPipe[0])
    var status: Int32 = 0
    while waitpid(child, &status, 0) < 0 && errno == EINTR {}
    pid.withLock { $0 = 0 }
    stderrDone.wait()
    let exitStatus: Int32 = (status & 0x7F) == 0 ? (status >> 8) & 0xFF : 128 + (status & 0x7F)
    return Exit(
      status: exitStatus, stderr: String(decoding: stderrTail.withLock { $0 }, as: UTF8.self),
      killed: killed.withLock { $0 })
  }

  /// Kills the running process (SIGKILL); a process not started yet is killed as it starts.
  public func cancel() {
    killed.withLock { $0 = true }
    let running = pid.withLock { $0 }
    if running > 0 { kill(running, SIGKILL) }
  }
}
