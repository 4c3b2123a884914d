import Crypto
import Foundation

/// Ferry's temporary storage (`dlb://` keys) on local disk: `<root>/<hex SHA-256 of the app key>/<key>`.
/// Keys arrive validated by `LocationParser` (no empty, `.` or `..` segments, no leading `/`, no control
/// characters), so a key's path stays inside its owner's folder.
public struct LocalStorage: Sendable {
  /// `<data_dir>/storage`.
  public let root: String

  public init(root: String) {
    self.root = root
  }

  /// A storage failure that the user can act on.
  public enum StorageError: Error, Sendable, Equatable, CustomStringConvertible {
    /// No file under the key.
    case notFound(key: String)
    /// The key and an existing key would need the same path as a file and as a folder.
    case conflict(key: String)
    /// The disk said no (full, permissions).
    case io(String)

    public var description: String {
      switch self {
      case .notFound(let key): "dlb://\(key) does not exist (upload it first, or check the key)"
      case .conflict(let key): "dlb://\(key) collides with another key used as a folder or a file"
      case .io(let detail): detail
      }
    }
  }

  /// The name of the owner's folder under `root` (hex SHA-256 of the app key: app keys never show in paths).
  public func namespace(owner: String) -> String {
    Self.namespace(owner: owner)
  }

  /// The owner's namespace in any temporary storage: hex SHA-256 of the app key.
  public static func namespace(owner: String) -> String {
    Hex.encode(SHA256.hash(owner.utf8))
  }

  /// The file that holds `key` for `owner` (it may not exist).
  public func path(owner: String, key: String) -> String {
    path(namespace: namespace(owner: owner), key: key)
  }

  /// The file that holds `key` in the folder `namespace` (a `namespace(owner:)` name).
  public func path(namespace: String, key: String) -> String {
    root + "/" + namespace + "/" + key
  }

  /// The existing file for `key`, or `notFound`.
  public func existingFile(owner: String, key: String) throws(StorageError) -> String {
    let path = path(owner: owner, key: key)
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue else {
      throw .notFound(key: key)
    }
    return path
  }

  /// Moves the finished file at `file` (on the same file system, in the data dir) to `key`, replacing an
  /// earlier file under that key.
  public func adopt(file: String, owner: String, key: String) throws(StorageError) {
    try adopt(file: file, namespace: namespace(owner: owner), key: key)
  }

  /// `adopt(file:owner:key:)` for a namespace folder name.
  public func adopt(file: String, namespace: String, key: String) throws(StorageError) {
    let target = path(namespace: namespace, key: key)
    let parent = (target as NSString).deletingLastPathComponent
    var isDirectory: ObjCBool = false
    if FileManager.default.fileExists(atPath: target, isDirectory: &isDirectory), isDirectory.boolValue {
      throw .conflict(key: key)
    }
    // The hourly sweep removes empty folders: if it takes the one just made before the rename, make it again.
    for attempt in 1...2 {
      do {
        try FileManager.default.createDirectory(
          atPath: parent, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
      } catch {
        // A file where a folder of the key's path must be.
        throw .conflict(key: key)
      }
      if rename(file, target) == 0 { return }
      let code = errno
      if code == EISDIR || code == ENOTDIR || code == ENOTEMPTY { throw .conflict(key: key) }
      if code != ENOENT || attempt == 2 { throw .io("cannot store dlb://\(key): \(String(cString: strerror(code)))") }
    }
  }

  /// Deletes files last written before `cutoff` (`storage.retention_h` ago) and the folders that empties;
  /// returns how many files went.
  @discardableResult
  public func sweep(before cutoff: Date) -> Int {
    guard let walker = FileManager.default.enumerator(atPath: root) else { return 0 }
    var removed = 0
    var folders: [String] = []
    while let relative = walker.nextObject() as? String {
      let path = root + "/" + relative
      var info = stat()
      guard lstat(path, &info) == 0 else { continue }
      if info.st_mode & S_IFMT == S_IFDIR {
        folders.append(path)
      } else if Double(info.st_mtim.tv_sec) < cutoff.timeIntervalSince1970, unlink(path) == 0 {
        removed += 1
      }
    }
    // Deepest first; rmdir refuses folders that still hold something. `.incoming` stays: an upload may be
    // about to create its file there.
    for folder in folders.sorted(by: { $0.count > $1.count }) where !folder.hasSuffix("/.incoming") { rmdir(folder) }
    return removed
  }
}
