import Foundation

/// Receives a request body as it arrives, so large uploads never sit wholly in memory.
///
/// The server calls `write` for each run of bytes, then `finish` once the body is complete, or `abort` when
/// the request fails (client gone, limit exceeded, malformed chunk). Calls come from one connection's loop,
/// never concurrently; the handler reads the sink's results after `finish`.
public protocol RequestBodySink: AnyObject, Sendable {
  /// Takes the next bytes of the body.
  func write(_ bytes: UnsafeRawBufferPointer) throws
  /// The body is complete.
  func finish() throws
  /// The body will not complete: release what was made.
  func abort()
}

/// Writes a body to a new file (mode 0600), counting its bytes. The file is removed on `abort`.
public final class FileBodySink: RequestBodySink, @unchecked Sendable {
  /// The file the body goes to.
  public let path: String
  /// Bytes written so far.
  public private(set) var byteCount: Int64 = 0
  private var fd: Int32

  /// Creates `path` (which must not exist) for writing.
  public init(path: String) throws {
    self.path = path
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
    guard fd >= 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
  }

  deinit {
    if fd >= 0 { close(fd) }
  }

  public func write(_ bytes: UnsafeRawBufferPointer) throws {
    var offset = 0
    while offset < bytes.count {
      let n = Foundation.write(fd, bytes.baseAddress! + offset, bytes.count - offset)
      if n < 0 {
        if errno == EINTR { continue }
        throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO)
      }
      offset += n
    }
    byteCount += Int64(bytes.count)
  }

  public func finish() throws {
    let result = close(fd)
    fd = -1
    guard result == 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
  }

  public func abort() {
    if fd >= 0 {
      close(fd)
      fd = -1
    }
    unlink(path)
  }
}
