import Foundation
import Problems

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
  public init(path: String) throws(BodyWriteError) {
    self.path = path
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
    guard fd >= 0 else { throw BodyWriteError(code: errno) }
  }

  /// Writes to an open descriptor, which the sink then owns (tests: `/dev/full`).
  init(descriptor: Int32, path: String) {
    self.path = path
    fd = descriptor
  }

  deinit {
    if fd >= 0 { close(fd) }
  }

  public func write(_ bytes: UnsafeRawBufferPointer) throws(BodyWriteError) {
    var offset = 0
    while offset < bytes.count {
      let n = Foundation.write(fd, bytes.baseAddress! + offset, bytes.count - offset)
      if n < 0 {
        if errno == EINTR { continue }
        throw BodyWriteError(code: errno)
      }
      offset += n
    }
    byteCount += Int64(bytes.count)
  }

  public func finish() throws(BodyWriteError) {
    let result = close(fd)
    fd = -1
    guard result == 0 else { throw BodyWriteError(code: errno) }
  }

  public func abort() {
    if fd >= 0 {
      close(fd)
      fd = -1
    }
    unlink(path)
  }
}

/// A body the server could not write down: its own trouble, not the client's. Answered 503 with the cause;
/// nothing was stored, so the client may send it again later.
public struct BodyWriteError: ProblemError, Sendable, Equatable {
  /// The `errno` the write failed with.
  public var code: Int32

  public init(code: Int32) { self.code = code }

  public var problem: Problem { .notReady }

  public var detail: String {
    if code == ENOSPC || code == EDQUOT { return "the server's disk is full; nothing was stored, try again later" }
    return "the server could not write the upload (\(String(cString: strerror(code)))); nothing was stored"
  }
}
