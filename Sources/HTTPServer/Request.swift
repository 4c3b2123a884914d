/// A request as handlers see it: the head, the body (buffered or streamed), route parameters and a request id.
public struct Request: Sendable {
  /// The method as sent.
  public var method: HTTPMethod
  /// The target's path, still percent-encoded (`/media/enhance`).
  public var path: String
  /// The target's query without `?`, still percent-encoded; nil when the target has none.
  public var query: String?
  /// The protocol version.
  public var version: HTTPVersion
  /// The header fields.
  public var headers: HTTPHeaders
  /// The body.
  public var body: RequestBody
  /// Values of the route's `:name` segments and `*` tail (as `*`), percent-decoded.
  public var parameters: [String: String]
  /// The request id: the client's `X-Request-Id` when it is usable, otherwise generated.
  public var id: String
  /// The peer's address (`127.0.0.1`, `::1`).
  public var remoteAddress: String

  public init(
    method: HTTPMethod, path: String, query: String? = nil, version: HTTPVersion = .http1_1,
    headers: HTTPHeaders = [:], body: RequestBody = .none, parameters: [String: String] = [:],
    id: String = "test", remoteAddress: String = "127.0.0.1"
  ) {
    self.method = method
    self.path = path
    self.query = query
    self.version = version
    self.headers = headers
    self.body = body
    self.parameters = parameters
    self.id = id
    self.remoteAddress = remoteAddress
  }

  /// The query's name/value pairs, `+` and percent-escapes decoded (`application/x-www-form-urlencoded`).
  public var queryItems: [(name: String, value: String)] {
    guard let query else { return [] }
    return FormDecoding.pairs(query)
  }

  /// The first value of the query parameter `name`. Scans the raw query's bytes in place and decodes only
  /// what it returns (or a name that needs decoding to compare): status polling reads `job_id` on every request.
  public func queryValue(_ name: String) -> String? {
    guard let query else { return nil }
    let found = query.utf8.withContiguousStorageIfAvailable { Self.queryValue(name, in: $0) }
    if let found { return found }
    return Array(query.utf8).withUnsafeBufferPointer { Self.queryValue(name, in: $0) }
  }

  private static func queryValue(_ name: String, in bytes: UnsafeBufferPointer<UInt8>) -> String? {
    var start = 0
    while start < bytes.count {
      var end = start
      while end < bytes.count && bytes[end] != UInt8(ascii: "&") { end += 1 }
      defer { start = end + 1 }
      guard end > start else { continue }
      var equals = start
      while equals < end && bytes[equals] != UInt8(ascii: "=") { equals += 1 }
      let rawName = UnsafeBufferPointer(rebasing: bytes[start..<equals])
      let matches =
        FormDecoding.needsDecoding(rawName, plusIsSpace: true)
        ? FormDecoding.decode(rawName, plusIsSpace: true) == name
        : name.utf8.withContiguousStorageIfAvailable { rawName.elementsEqual($0) } ?? rawName.elementsEqual(name.utf8)
      guard matches else { continue }
      guard equals < end else { return "" }
      return FormDecoding.decode(UnsafeBufferPointer(rebasing: bytes[(equals + 1)..<end]), plusIsSpace: true)
    }
    return nil
  }
}

/// A request body, as the route's `BodyPolicy` asked for it.
public enum RequestBody: Sendable {
  /// The request had no body.
  case none
  /// The whole body, read into memory (at most the route's limit).
  case bytes([UInt8])
  /// The body went to a sink as it arrived; the sink holds what it made of it (a file, a digest).
  case streamed(any RequestBodySink)

  /// The buffered bytes, or empty for other cases.
  public var bytes: [UInt8] {
    if case .bytes(let b) = self { return b }
    return []
  }
}

/// Percent-decoding of query strings and form bodies.
public enum FormDecoding {
  /// Splits `a=1&b=2` into decoded pairs; `+` means space.
  public static func pairs(_ text: some StringProtocol) -> [(name: String, value: String)] {
    text.split(separator: "&", omittingEmptySubsequences: true).map { part in
      let kv = part.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
      return (name: decode(kv[0], plusIsSpace: true), value: kv.count > 1 ? decode(kv[1], plusIsSpace: true) : "")
    }
  }

  /// Decodes `%XX` escapes (invalid escapes are kept as they are; invalid UTF-8 becomes U+FFFD).
  public static func decode(_ text: some StringProtocol, plusIsSpace: Bool = false) -> String {
    if let decoded = text.utf8.withContiguousStorageIfAvailable({ decode($0, plusIsSpace: plusIsSpace) }) {
      return decoded
    }
    return Array(text.utf8).withUnsafeBufferPointer { decode($0, plusIsSpace: plusIsSpace) }
  }

  /// Decodes the bytes of a form value or path segment (see `decode(_:plusIsSpace:)`).
  public static func decode(_ bytes: UnsafeBufferPointer<UInt8>, plusIsSpace: Bool = false) -> String {
    guard needsDecoding(bytes, plusIsSpace: plusIsSpace) else { return String(decoding: bytes, as: UTF8.self) }
    var out: [UInt8] = []
    out.reserveCapacity(bytes.count)
    var i = 0
    while i < bytes.count {
      let b = bytes[i]
      if b == UInt8(ascii: "%"), i + 2 < bytes.count, let hi = hex(bytes[i + 1]), let lo = hex(bytes[i + 2]) {
        out.append(hi << 4 | lo)
        i += 3
      } else {
        out.append(plusIsSpace && b == UInt8(ascii: "+") ? 0x20 : b)
        i += 1
      }
    }
    return String(decoding: out, as: UTF8.self)
  }

  /// Whether `bytes` hold an escape (or a `+` meaning space) that decoding would change.
  static func needsDecoding(_ bytes: UnsafeBufferPointer<UInt8>, plusIsSpace: Bool) -> Bool {
    bytes.contains { $0 == UInt8(ascii: "%") || (plusIsSpace && $0 == UInt8(ascii: "+")) }
  }

  private static func hex(_ b: UInt8) -> UInt8? {
    switch b {
    case UInt8(ascii: "0")...UInt8(ascii: "9"): b - 48
    case UInt8(ascii: "a")...UInt8(ascii: "f"): b - 87
    case UInt8(ascii: "A")...UInt8(ascii: "F"): b - 55
    default: nil
    }
  }
}
