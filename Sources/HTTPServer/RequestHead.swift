/// The parsed request line and header section of one request, with its body framing decided.
public struct RequestHead: Sendable {
  /// The method as sent.
  public var method: HTTPMethod
  /// The request target exactly as sent (`/media/jobs?status=Running`).
  public var target: String
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

  /// The target's path part, still percent-encoded.
  public var path: Substring {
    guard let q = target.utf8.firstIndex(of: UInt8(ascii: "?")) else { return target[...] }
    return target[..<q]
  }

  /// The target's query part without the `?`, still percent-encoded.
  public var query: Substring? {
    guard let q = target.utf8.firstIndex(of: UInt8(ascii: "?")) else { return nil }
    return target[target.utf8.index(after: q)...]
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
