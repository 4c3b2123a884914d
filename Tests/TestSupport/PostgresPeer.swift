import CSpawn
import Foundation
import Postgres
import Synchronization

/// A throw-away PostgreSQL cluster on 127.0.0.1: `initdb` into a temp directory and `pg_ctl start` (as the
/// `postgres` user when the tests run as root: PostgreSQL refuses root), stopped by PID. Tests get a fresh
/// database each (`makeDatabase()`), so they never see each other's rows.
public final class PostgresPeer: @unchecked Sendable {
  public let port: Int
  /// The cluster's directory: `data/`, the server log and the unix socket.
  public let directory: String
  private let binaries: String
  private let pid: pid_t
  private let admin: Mutex<PostgresConnection?> = Mutex(nil)
  private let stopped = Atomic<Bool>(false)

  /// The newest `/usr/lib/postgresql/<version>/bin` with `initdb` and `pg_ctl`.
  public static var binaries: String? {
    let root = "/usr/lib/postgresql"
    let versions = (try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []
    return versions.compactMap { Int($0) }.sorted(by: >).map { "\(root)/\($0)/bin" }
      .first { FileManager.default.isExecutableFile(atPath: $0 + "/pg_ctl") }
  }

  /// Why a cluster cannot start here, or nil when it can.
  public static var unavailable: String? {
    if binaries == nil {
      return "PostgreSQL server binaries not found in /usr/lib/postgresql/*/bin (make test installs postgresql)"
    }
    if getuid() == 0 && getpwnam("postgres") == nil {
      return "running as root without a postgres user to run the server as"
    }
    return nil
  }

  /// Starts a cluster on a free port (a few tries: another process may take the port first).
  public init() throws {
    guard let binaries = Self.binaries else {
      throw PostgresPeerError(message: Self.unavailable ?? "PostgreSQL is not installed")
    }
    self.binaries = binaries
    directory = try makeTemporaryDirectory("ferry-pg")
    if getuid() == 0, let user = getpwnam("postgres") {
      chown(directory, user.pointee.pw_uid, user.pointee.pw_gid)
    }
    try Self.run(
      binaries + "/initdb",
      ["-D", directory + "/data", "-U", "postgres", "-A", "trust", "--no-sync", "-E", "UTF8", "--locale=C"],
      in: directory)
    var started: (port: Int, pid: pid_t)?
    var lastError: (any Error)?
    for _ in 0..<3 where started == nil {
      let port = try S3Peers.freePort()
      // Loopback only, the socket inside the cluster's directory, durability off (a test cluster).
      let options = [
        "-p \(port)", "-k \(directory)", "-c listen_addresses=127.0.0.1", "-c fsync=off",
        "-c synchronous_commit=off", "-c full_page_writes=off", "-c max_connections=300",
      ].joined(separator: " ")
      do {
        try Self.run(
          binaries + "/pg_ctl",
          ["-D", directory + "/data", "-l", directory + "/server.log", "-w", "-t", "60", "-o", options, "start"],
          in: directory)
        let pidFile = try String(contentsOfFile: directory + "/data/postmaster.pid", encoding: .utf8)
        guard let pid = pid_t(pidFile.split(separator: "\n").first ?? "") else {
          throw PostgresPeerError(message: "no PID in postmaster.pid")
        }
        started = (port, pid)
      } catch {
        lastError = error
      }
    }
    guard let started else {
      try? FileManager.default.removeItem(atPath: directory)
      throw lastError ?? PostgresPeerError(message: "the PostgreSQL server did not start")
    }
    port = started.port
    pid = started.pid
  }

  deinit { stop() }

  /// The URL of `database` on this cluster (no password: the test cluster trusts loopback).
  public func url(database: String) -> String { "postgresql://postgres@127.0.0.1:\(port)/\(database)" }

  /// Creates an empty database and returns its URL.
  public func makeDatabase() throws -> String {
    let name = "ferry_\(UUID().uuidString.prefix(8).lowercased())_\(Self.counter.add(1, ordering: .relaxed).newValue)"
    try admin.withLock { admin in
      if admin == nil { admin = try PostgresConnection(url: url(database: "postgres")) }
      // A name of our own making: identifiers cannot be bound as parameters.
      try admin!.execute("CREATE DATABASE \(name)")
    }
    return url(database: name)
  }

  private static let counter = Atomic<Int>(0)

  /// Stops the server (`pg_ctl stop -m immediate`, then SIGKILL if its PID still lives) and removes the
  /// cluster's directory.
  public func stop() {
    guard !stopped.exchange(true, ordering: .relaxed) else { return }
    admin.withLock { $0 = nil }
    try? Self.run(binaries + "/pg_ctl", ["-D", directory + "/data", "-m", "immediate", "-w", "stop"], in: directory)
    for _ in 0..<100 where kill(pid, 0) == 0 { usleep(20_000) }
    if kill(pid, 0) == 0 { kill(pid, SIGKILL) }
    try? FileManager.default.removeItem(atPath: directory)
  }

  /// The server's log, for failure messages.
  public var log: String { (try? String(contentsOfFile: directory + "/server.log", encoding: .utf8)) ?? "" }

  // MARK: One cluster per test process

  private static let sharedPeer = Mutex<Result<PostgresPeer, any Error>?>(nil)

  /// A cluster shared by the whole test process, started on first use and stopped when the process exits.
  public static func shared() throws -> PostgresPeer {
    try sharedPeer.withLock { state in
      if let state { return try state.get() }
      let result = Result { try PostgresPeer() }
      state = result
      if case .success = result { atexit { PostgresPeer.stopShared() } }
      return try result.get()
    }
  }

  private static func stopShared() {
    if case .success(let peer)? = sharedPeer.withLock({ $0 }) { peer.stop() }
  }

  // MARK: Processes

  /// Runs a PostgreSQL program to its end, as the `postgres` user when this process is root; its output goes
  /// to `commands.log` in the cluster's directory. posix_spawn and waitpid rather than Foundation's Process:
  /// `pg_ctl start` leaves a daemon behind, and Process was seen to wait forever for an exited `runuser`.
  private static func run(_ program: String, _ arguments: [String], in directory: String) throws {
    let argv = (getuid() == 0 ? ["/usr/sbin/runuser", "-u", "postgres", "--", program] : [program]) + arguments
    let logPath = directory + "/commands.log"
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
    posix_spawn_file_actions_addopen(&actions, 1, logPath, O_WRONLY | O_CREAT | O_APPEND, 0o644)
    posix_spawn_file_actions_adddup2(&actions, 1, 2)
    _ = ferry_spawn_close_from(&actions, 3)
    _ = ferry_spawn_chdir(&actions, directory)
    var cArguments = argv.map { strdup($0) } + [nil]
    defer { for argument in cArguments { free(argument) } }
    var pid = pid_t()
    let spawned = posix_spawn(&pid, argv[0], &actions, nil, &cArguments, environ)
    guard spawned == 0 else { throw PostgresPeerError(message: "cannot run \(argv[0]): error \(spawned)") }
    var status: Int32 = 0
    while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
    // WIFEXITED and WEXITSTATUS are macros Swift does not import.
    guard status & 0x7F == 0, (status >> 8) & 0xFF == 0 else {
      let log = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
      throw PostgresPeerError(
        message:
          "\(URL(fileURLWithPath: program).lastPathComponent) failed (wait status \(status)): \(log.suffix(2000))")
    }
  }
}

/// A test cluster that could not be started or used.
public struct PostgresPeerError: Error, CustomStringConvertible {
  public var message: String
  public var description: String { message }
}
