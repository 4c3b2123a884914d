import Foundation
import SigV4

#if canImport(Glibc)
  import Glibc
#endif

/// Maps `s3://bucket/key` to the URL Ferry requests, per `s3.endpoint`, `s3.region` and `s3.path_style`.
///
/// Without an endpoint: AWS, virtual-hosted (`https://bucket.s3.region.amazonaws.com/key`), or path-style for
/// buckets with dots (TLS names cannot cover them) or when configured. With an endpoint: path-style when
/// configured or when the endpoint's host is an IP literal or `localhost`, otherwise virtual-hosted on it.
/// Keys are taken literally and encoded exactly once, by S3's rules (`AWSURIEncoding`, slashes kept).
public struct S3Addressing: Sendable, Equatable {
  /// `s3.endpoint`: scheme, host and optional port (and path prefix) of an S3-compatible store.
  public var endpoint: String?
  /// `s3.region`, used when a location's auth names none.
  public var defaultRegion: String
  /// `s3.path_style`.
  public var pathStyle: Bool

  public init(endpoint: String? = nil, defaultRegion: String = "us-east-1", pathStyle: Bool = false) {
    self.endpoint = endpoint
    self.defaultRegion = defaultRegion
    self.pathStyle = pathStyle
  }

  /// Where an object lives, ready to request and to sign.
  public struct Address: Sendable, Equatable {
    /// The URL to request, key encoded once.
    public var url: String
    /// The `Host` header value (with the port when it is not the scheme's default).
    public var host: String
    /// The path as raw characters (`/bucket/key` or `/key`), for `SignableRequest.path`.
    public var path: String
    /// The signing region.
    public var region: String
  }

  /// The address of `key` in `bucket`; `region` (from the location's auth) overrides the default.
  public func address(bucket: String, key: String, region: String? = nil) -> Address {
    let region = region ?? defaultRegion
    var scheme = "https"
    var host = "s3.\(region).amazonaws.com"
    var port: Int?
    var prefix = ""
    var usePathStyle = pathStyle || bucket.contains(".")
    if let endpoint, let url = URL(string: endpoint), let endpointHost = url.host {
      scheme = url.scheme?.lowercased() ?? "https"
      host = endpointHost
      port = url.port
      prefix = url.path == "/" ? "" : url.path
      usePathStyle = pathStyle || S3Addressing.isIPLiteral(endpointHost) || endpointHost.lowercased() == "localhost"
    }
    let bracketed = host.contains(":") ? "[\(host)]" : host
    let defaultPort = scheme == "https" ? 443 : 80
    let portSuffix = port.map { $0 == defaultPort ? "" : ":\($0)" } ?? ""
    let authority = (usePathStyle ? bracketed : "\(bucket).\(bracketed)") + portSuffix
    let path = prefix + (usePathStyle ? "/\(bucket)/\(key)" : "/\(key)")
    return Address(
      url: "\(scheme)://\(authority)\(AWSURIEncoding.encode(path, keepingSlashes: true))", host: authority, path: path,
      region: region)
  }

  static func isIPLiteral(_ host: String) -> Bool {
    var v4 = in_addr()
    var v6 = in6_addr()
    let bare = host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
    return inet_pton(AF_INET, bare, &v4) == 1 || inet_pton(AF_INET6, bare, &v6) == 1
  }
}
