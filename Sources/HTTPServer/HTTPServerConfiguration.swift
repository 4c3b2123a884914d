import Foundation
import Log

/// Settings of the HTTP server: where it listens and the limits it enforces.
public struct HTTPServerConfiguration: Sendable {
  /// Listen address: an IPv4 or IPv6 literal, or a name (`localhost`).
  public var host: String
  /// Listen port; 0 picks a free one (read it from `HTTPServer.port` after `start()`).
  public var port: Int
  /// Open connections; past this, new connections get a 503 and are closed.
  public var maxConnections: Int
  /// Open connections from one client address; past this, its new connections get a 503 and are closed, so
  /// one address cannot take the whole `maxConnections` (behind a proxy every client has the proxy's address:
  /// raise it to `maxConnections` there).
  public var maxConnectionsPerAddress: Int
  /// Time a client has to send a complete request head once it started one (or after connecting): 408.
  public var headerTimeout: Duration
  /// Time an idle keep-alive connection is kept, and the longest pause while a body arrives.
  public var idleTimeout: Duration
  /// The slowest a body may arrive, bytes a second averaged from its start, once `headerTimeout` has passed:
  /// a client that trickles a body is answered 408 and closed instead of holding its connection for good.
  public var minBodyRate: Int
  /// Request line and header limits.
  public var limits: RequestHeadParser.Limits
  /// Body limit for routes that do not set their own body policy.
  public var defaultBodyLimit: Int64
  /// Number of event-loop threads connections are spread over (default: one per core).
  public var loopCount: Int
  /// The certificate to serve TLS with; nil serves plain HTTP.
  public var tls: TLSConfiguration?

  public init(
    host: String = "127.0.0.1", port: Int = 8080, maxConnections: Int = 4096, maxConnectionsPerAddress: Int = 1024,
    headerTimeout: Duration = .seconds(10), idleTimeout: Duration = .seconds(60), minBodyRate: Int = 1024,
    limits: RequestHeadParser.Limits = .init(), defaultBodyLimit: Int64 = 1_048_576,
    loopCount: Int = ProcessInfo.processInfo.activeProcessorCount, tls: TLSConfiguration? = nil
  ) {
    self.host = host
    self.port = port
    self.maxConnections = maxConnections
    self.maxConnectionsPerAddress = max(1, maxConnectionsPerAddress)
    self.headerTimeout = headerTimeout
    self.idleTimeout = idleTimeout
    self.minBodyRate = max(1, minBodyRate)
    self.limits = limits
    self.defaultBodyLimit = defaultBodyLimit
    self.loopCount = max(1, loopCount)
    self.tls = tls
  }
}
