import Foundation
import HTTPServer
import Log

/// Loads the listener's certificate again, for new connections: on `SIGHUP` (`reload(trigger:)`) and when
/// the certificate, key or client CA file changes (checked every few seconds). A file that cannot be loaded
/// keeps the current certificate and logs why; a later change tries again.
final class CertificateReloader: @unchecked Sendable {
  private let server: HTTPServer
  private let files: [String]
  private let logger: Logger
  private let lock = NSLock()
  /// What the files looked like at the last attempt (guarded by `lock`).
  private var seen: [FileStamp?]
  private var watch: PeriodicTask?

  /// Enough of `stat` to notice a rewrite, a rename over the file or a touch.
  struct FileStamp: Equatable {
    var device: UInt64
    var inode: UInt64
    var size: Int64
    var modified: timespec

    static func == (a: FileStamp, b: FileStamp) -> Bool {
      a.device == b.device && a.inode == b.inode && a.size == b.size && a.modified.tv_sec == b.modified.tv_sec
        && a.modified.tv_nsec == b.modified.tv_nsec
    }

    init?(path: String) {
      var info = stat()
      guard stat(path, &info) == 0 else { return nil }
      device = UInt64(info.st_dev)
      inode = UInt64(info.st_ino)
      size = Int64(info.st_size)
      modified = info.st_mtim
    }
  }

  /// Nil when the server does not serve TLS.
  init?(server: HTTPServer, tls: FerryConfiguration.TLS?, logger: Logger, every interval: Double = 2) {
    guard let tls else { return nil }
    self.server = server
    self.logger = logger
    files = [tls.certificatePath, tls.keyPath] + (tls.clientCAPath.map { [$0] } ?? [])
    seen = files.map(FileStamp.init(path:))
    watch = nil
    watch = PeriodicTask(name: "ferry.tls.watch", every: interval) { [weak self] in self?.reloadIfChanged() }
  }

  func start() { watch?.start() }
  func cancel() { watch?.cancel() }

  /// Loads the files again now; false (and the current certificate kept) when they cannot be loaded.
  @discardableResult
  func reload(trigger: String) -> Bool {
    lock.withLock {
      seen = files.map(FileStamp.init(path:))
      return load(trigger: trigger)
    }
  }

  private func reloadIfChanged() {
    lock.withLock {
      let now = files.map(FileStamp.init(path:))
      guard now != seen else { return }
      seen = now
      _ = load(trigger: "file changed")
    }
  }

  private func load(trigger: String) -> Bool {
    do {
      try server.reloadCertificate()
      logger.info("certificate reloaded", ["trigger": .string(trigger), "cert": .string(files[0])])
      return true
    } catch {
      logger.error(
        "certificate reload failed; new connections keep the current certificate",
        ["trigger": .string(trigger), "error": .string(error.reason)])
      return false
    }
  }
}
