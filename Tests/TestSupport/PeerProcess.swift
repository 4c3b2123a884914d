import CSpawn
import Foundation
import Synchronization

/// A peer server a test starts (moto, the strict proxy, nanio): spawned with posix_spawn, its output sent to
/// files, stopped by PID and reaped with waitpid.
///
/// Why not Foundation's `Process`: a child inherits the signal mask of the thread that spawns it, and the
/// Dispatch and Swift concurrency threads tests run on block SIGTERM. Children started with `Process` from a
/// test never saw SIGTERM, so every stop waited out its grace and ended in SIGKILL (1-2 s per peer, 2 s per
/// S3 test). Here the child starts with an empty mask and default dispositions, as from a shell.
public final class PeerProcess: @unchecked Sendable {
  public let pid: pid_t
  /// The wait status once reaped; nil while the child runs.
  private let reaped = Mutex<Int32?>(nil)

  /// Starts `arguments[0]` (an absolute path) with `arguments`, stdin from /dev/null, stdout to `stdout` and
  /// stderr to `stderr` (appended; `/dev/null` to drop), no descriptor beyond those, and `environment`
  /// (this process's when nil).
  public init(_ arguments: [String], environment: [String: String]? = nil, stdout: String, stderr: String) throws {
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
    posix_spawn_file_actions_addopen(&actions, 1, stdout, O_WRONLY | O_CREAT | O_APPEND, 0o644)
    if stderr == stdout {
      posix_spawn_file_actions_adddup2(&actions, 1, 2)
    } else {
      posix_spawn_file_actions_addopen(&actions, 2, stderr, O_WRONLY | O_CREAT | O_APPEND, 0o644)
    }
    _ = ferry_spawn_close_from(&actions, 3)

    var attributes = posix_spawnattr_t()
    posix_spawnattr_init(&attributes)
    defer { posix_spawnattr_destroy(&attributes) }
    var none = sigset_t()
    sigemptyset(&none)
    posix_spawnattr_setsigmask(&attributes, &none)
    var defaults = sigset_t()
    sigemptyset(&defaults)
    for number in [SIGTERM, SIGINT, SIGHUP, SIGPIPE, SIGQUIT] { sigaddset(&defaults, number) }
    posix_spawnattr_setsigdefault(&attributes, &defaults)
    posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

    let argv = arguments.map { strdup($0) } + [nil]
    defer { argv.forEach { free($0) } }
    let variables: [UnsafeMutablePointer<CChar>?]? = environment.map { pairs in
      pairs.map { strdup("\($0.key)=\($0.value)") } + [nil]
    }
    defer { variables?.forEach { free($0) } }
    var child = pid_t()
    let spawned =
      if let variables {
        posix_spawn(&child, arguments[0], &actions, &attributes, argv, variables)
      } else {
        posix_spawn(&child, arguments[0], &actions, &attributes, argv, environ)
      }
    guard spawned == 0 else {
      throw RawHTTPClient.ClientError(
        description: "cannot start \(arguments[0]): \(String(cString: strerror(spawned)))")
    }
    pid = child
  }

  deinit { stop() }

  /// Whether the child has not exited yet (reaping it if it has).
  public var isRunning: Bool {
    reaped.withLock { status in
      if status != nil { return false }
      var wait: Int32 = 0
      let result = waitpid(pid, &wait, WNOHANG)
      if result == pid || (result == -1 && errno == ECHILD) {
        status = wait
        return false
      }
      return true
    }
  }

  /// Stops the child: SIGTERM, then SIGKILL if it has not exited within `grace` seconds; returns once it
  /// is reaped (bounded: SIGKILL cannot be refused).
  public func stop(grace: Double = 5) {
    guard isRunning else { return }
    kill(pid, SIGTERM)
    let deadline = Date().addingTimeInterval(grace)
    while isRunning && Date() < deadline { usleep(5_000) }
    guard isRunning else { return }
    kill(pid, SIGKILL)
    for _ in 0..<1000 where isRunning { usleep(5_000) }
  }
}
