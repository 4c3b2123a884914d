import Foundation

/// A response body read from an open file: `length` bytes from `offset`, sent with `sendfile` as the client
/// takes them (never held in memory). Owns the descriptor and closes it when released.
public final class FileBody: Sendable {
  let fd: Int32
  /// Where the body starts in the file.
  public let offset: Int64
  /// How many bytes the body has.
  public let length: Int64

  /// The bytes `range` (the whole file when nil) of the file at `path`; nil when it cannot be opened as a
  /// regular file. `O_NOFOLLOW`: a link in the last path component is refused.
  public init?(path: String, range: ClosedRange<Int64>? = nil) {
    let fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
    guard fd >= 0 else { return nil }
    var info = stat()
    guard fstat(fd, &info) == 0, info.st_mode & S_IFMT == S_IFREG else {
      close(fd)
      return nil
    }
    let size = Int64(info.st_size)
    // The whole file when no range is asked (it may be empty: no range can describe zero bytes).
    let chosen = range.map { ($0.lowerBound, $0.upperBound - $0.lowerBound + 1) } ?? (0, size)
    guard chosen.0 >= 0, chosen.1 >= 0, chosen.0 + chosen.1 <= size else {
      // Nothing is stored yet: no deinit runs, so the descriptor is closed here, once.
      close(fd)
      return nil
    }
    self.fd = fd
    offset = chosen.0
    length = chosen.1
  }

  deinit { close(fd) }

  /// The size of the file at `path`, if it is a regular file.
  public static func size(of path: String) -> Int64? {
    var info = stat()
    guard lstat(path, &info) == 0, info.st_mode & S_IFMT == S_IFREG else { return nil }
    return Int64(info.st_size)
  }
}

/// A single byte range from a `Range` header (RFC 9110 §14): `bytes=a-b`, `bytes=a-` or `bytes=-n`.
public enum ByteRange {
  /// What a `Range` header asks of a body of `size` bytes.
  public enum Outcome: Equatable, Sendable {
    /// No usable single range (absent, another unit, several ranges, malformed): send the whole body.
    case whole
    /// These bytes, with 206.
    case partial(ClosedRange<Int64>)
    /// A syntactically valid range that the body cannot satisfy: 416.
    case unsatisfiable
  }

  public static func parse(_ header: String?, size: Int64) -> Outcome {
    guard let header, header.hasPrefix("bytes="), !header.contains(",") else { return .whole }
    let spec = header.dropFirst(6).trimmingCharacters(in: .whitespaces)
    let parts = spec.split(separator: "-", maxSplits: 1, omittingEmptySubsequences: false)
    guard parts.count == 2 else { return .whole }
    let first = parts[0].isEmpty ? nil : Int64(parts[0])
    let last = parts[1].isEmpty ? nil : Int64(parts[1])
    if !parts[0].isEmpty && first == nil || !parts[1].isEmpty && last == nil { return .whole }
    switch (first, last) {
    case (let start?, let end):
      if let end, end < start { return .whole }
      guard start < size else { return .unsatisfiable }
      return .partial(start...min(end ?? size - 1, size - 1))
    case (nil, let suffix?):
      guard suffix > 0, size > 0 else { return .unsatisfiable }
      return .partial(max(0, size - suffix)...(size - 1))
    case (nil, nil):
      return .whole
    }
  }
}
