import CSpawn
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

  // The running child's pid (0 when none) and whether a cancel came; a kill happens under the lock, and
  // the pid is cleared before the child is reaped, so a recycled pid is never signalled.
  private let state = Mutex((pid: pid_t(0), killed: false))
  /// The stderr kept, in bytes (the end of it: that is where ffmpeg explains).
  public let stderrLimit: Int

  public init(stderrLimit: Int = 8192) {
    self.stderrLimit = stderrLimit
  }

  /// Runs `executable` with `arguments` in `directory` (the caller's when nil) and waits for it; `onLine` gets
  /// each stdout line as it arrives. The child gets stdin from /dev/null (or `stdin`), no descriptor of
  /// Ferry's but its stdout and stderr pipes (and `fd3` as its descriptor 3), and an environment of `PATH`
  /// only (Ferry's own holds secrets). `stdin` and `fd3` are the runner's to close, once the child has them:
  /// the ends of a pipe between two runs (`pipe:3` of one feeding `pipe:0` of the other) then see its end.
  public func run(
    _ executable: String, _ arguments: [String], in directory: String? = nil, stdin: Int32? = nil, fd3: Int32? = nil,
    onLine: (Substring) -> Void = { _ in }
  ) throws -> Exit {
    func closeHandedOver() {
      if let stdin { close(stdin) }
      if let fd3 { close(fd3) }
    }
    let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
    let command: [String]
    if let wrapper = Self.deathSignalWrapper {
      // The program is found here, so a missing one is a launch error as without the wrapper.
      guard let program = ExecutableLookup.find(executable, path: path) else {
        closeHandedOver()
        throw LaunchError(description: "cannot start \(executable): \(String(cString: strerror(ENOENT)))")
      }
      command = wrapper + [program] + arguments
    } else {
      command = [executable] + arguments
    }
    var stdoutPipe: [Int32] = [-1, -1]
    var stderrPipe: [Int32] = [-1, -1]
    guard ferry_pipe_cloexec(&stdoutPipe) == 0 else {
      closeHandedOver()
      throw LaunchError(description: "cannot create pipes: \(String(cString: strerror(errno)))")
    }
    guard ferry_pipe_cloexec(&stderrPipe) == 0 else {
      closeHandedOver()
      stdoutPipe.forEach { close($0) }
      throw LaunchError(description: "cannot create pipes: \(String(cString: strerror(errno)))")
    }
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    if let stdin {
      posix_spawn_file_actions_adddup2(&actions, stdin, 0)
    } else {
      posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
    }
    posix_spawn_file_actions_adddup2(&actions, stdoutPipe[1], 1)
    posix_spawn_file_actions_adddup2(&actions, stderrPipe[1], 2)
    if let fd3 { posix_spawn_file_actions_adddup2(&actions, fd3, 3) }
    _ = ferry_spawn_close_from(&actions, fd3 == nil ? 3 : 4)
    if let directory { _ = ferry_spawn_chdir(&actions, directory) }
    let argv: [UnsafeMutablePointer<CChar>?] = command.map { strdup($0) } + [nil]
    defer { argv.forEach { free($0) } }
    let variables: [String] = ["PATH=\(path)", "LC_ALL=C"]
    let environment: [UnsafeMutablePointer<CChar>?] = variables.map { strdup($0) } + [nil]
    defer { environment.forEach { free($0) } }
    var child: pid_t = 0
    let spawned = posix_spawnp(&child, command[0], &actions, nil, argv, environment)
    close(stdoutPipe[1])
    close(stderrPipe[1])
    // The child has its copies: ours would keep a pipe open past the child's end.
    closeHandedOver()
    guard spawned == 0 else {
      close(stdoutPipe[0])
      close(stderrPipe[0])
      throw LaunchError(description: "cannot start \(executable): \(String(cString: strerror(spawned)))")
    }
    // A cancel that came before the pid was known kills now.
    let killNow = state.withLock { state -> Bool in
      state.pid = child
      return state.killed
    }
    if killNow { kill(child, SIGKILL) }

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
    // Wait for the exit without reaping (the pid stays ours as a zombie), forget the pid, then reap.
    var info = siginfo_t()
    while waitid(P_PID, id_t(child), &info, WEXITED | WNOWAIT) < 0 && errno == EINTR {}
    state.withLock { $0.pid = 0 }
    var status: Int32 = 0
    while waitpid(child, &status, 0) < 0 && errno == EINTR {}
    stderrDone.wait()
    let exitStatus: Int32 = (status & 0x7F) == 0 ? (status >> 8) & 0xFF : 128 + (status & 0x7F)
    return Exit(
      status: exitStatus, stderr: String(decoding: stderrTail.withLock { $0 }, as: UTF8.self),
      killed: state.withLock { $0.killed })
  }

  /// The child is started through util-linux's `setpriv --pdeathsig KILL`, which asks the kernel to kill it
  /// when the thread that started it ends, and then runs the program in its place (same pid): a Ferry that is
  /// SIGKILLed or crashes leaves no ffmpeg working on for nobody. (The thread that starts a child waits for
  /// it, so only Ferry's end kills it.) Without setpriv, children start directly.
  static let deathSignalWrapper: [String]? =
    access("/usr/bin/setpriv", X_OK) == 0 ? ["/usr/bin/setpriv", "--pdeathsig", "KILL", "--"] : nil

  /// Kills the running process (SIGKILL); a process not started yet is killed as it starts.
  public func cancel() {
    state.withLock { state in
      state.killed = true
      if state.pid > 0 { kill(state.pid, SIGKILL) }
    }
  }
}
