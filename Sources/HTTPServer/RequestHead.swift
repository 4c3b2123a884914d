/// The parsed request line and header section of one request, with its body framing decided.
public struct RequestHead: Sendable {
  /// The method as sent.
  public var method: HTTPMethod
  /// The request target exactly as sent (`/media/jobs?status=Running`).
  public let target: String
  /// The target's path part, still percent-encoded.
  public let path: Substring
  /// The target's query part without the `?`, still percent-encoded; nil when the target has none.
  public let query: Substring?
  /// The protocol version.
  public var version: HTTPVersion
  /// The header fields in arrival order.
  public var headers: HTTPHeaders
  /// How the body is delimited.
  public var framing: BodyFraming
  /// Whether the client asked for `100 Continue` before sending the body.
  public var expectsContinue: Bool
  /// Whether the connection stays open after this exchange (version default and `Connection` tokens).
  public var keepAlive: Bool

  public init(
    method: HTTPMethod, target: String, version: HTTPVersion, headers: HTTPHeaders, framing: BodyFraming,
    expectsContinue: Bool, keepAlive: Bool
  ) {
    self.method = method
    self.target = target
    // Split once here: the path is read for routing, metrics and the access log, the query by handlers.
    let utf8 = target.utf8
    let offset =
      utf8.withContiguousStorageIfAvailable { $0.firstIndex(of: UInt8(ascii: "?")) }
      ?? utf8.firstIndex(of: UInt8(ascii: "?")).map { utf8.distance(from: utf8.startIndex, to: $0) }
    if let offset {
      let q = utf8.index(utf8.startIndex, offsetBy: offset)
      path = target[..<q]
      query = target[target.utf8.index(after: q)...]
    } else {
      path = target[...]
      query = nil
    }
    self.version = version
    self.headers = headers
    self.framing = framing
    self.expectsContinue = expectsContinue
    self.keepAlive = keepAlive
  }
}

/// How a request body is delimited (RFC 9112 §6).
public enum BodyFraming: Sendable, Equatable {
  /// No body.
  case none
  /// Exactly this many bytes.
  case length(Int64)
  /// The chunked transfer coding.
  case chunked
}
