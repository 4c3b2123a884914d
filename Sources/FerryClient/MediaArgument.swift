import Foundation
import Locations

/// An IN or OUT argument: a URL handed to the server as it is, or a file on this machine that travels
/// through `dlb://` temporary storage.
public enum MediaArgument: Equatable, Sendable {
  /// An `http(s)://`, `s3://` or `dlb://` location, sent as written.
  case remote(String)
  /// A local file path (`file://` URLs are read as paths).
  case local(String)

  /// Schemes the server reads and writes.
  public static let schemes = ["http", "https", "s3", "dlb"]

  /// Classifies `text`; a `scheme://` that Ferry does not know is a usage error.
  public init(_ text: String) throws(ClientError) {
    guard let separator = text.range(of: "://") else {
      self = .local(text)
      return
    }
    let scheme = text[..<separator.lowerBound].lowercased()
    if scheme == "file" {
      let path = String(text[separator.upperBound...])
      self = .local(path.removingPercentEncoding ?? path)
    } else if Self.schemes.contains(scheme) {
      self = .remote(text)
    } else if !scheme.isEmpty, scheme.allSatisfy({ $0.isLetter || $0.isNumber || "+-.".contains($0) }) {
      throw ClientError(
        .usage, "\(scheme):// locations are not supported; use a local file, http(s)://, s3:// or dlb://")
    } else {
      self = .local(text)
    }
  }

  /// The file name a local path or URL ends with (no query, no user-info), for labels and `dlb://` keys.
  public var fileName: String { (label as NSString).lastPathComponent }

  /// A label safe to print: a local path as given, a URL without its query (pre-signed URLs carry their
  /// signature there), fragment and user-info, even when it is malformed.
  public var label: String {
    switch self {
    case .local(let path): return path
    case .remote(let url): return Redaction.url(String(url.prefix { $0 != "?" }))
    }
  }
}
