import Foundation

/// Parses one request head (request line and header section) from bytes as they arrive.
///
/// Bytes are scanned once, whatever size the reads come in, so a client dribbling a byte at a time costs
/// linear work. Limits are enforced while scanning: a request line over `limits.requestLineBytes` is a 414
/// before its end arrives, a header section over `limits.headerBytes` or `limits.headerCount` fields a 431.
/// Syntax is strict (RFC 9112): lines end in CRLF, no obs-fold, no whitespace before a colon, no control
/// characters in values, so two parsers can never disagree about where a request ends.
public struct RequestHeadParser: Sendable {
  /// Size limits of a request head.
  public struct Limits: Sendable, Equatable {
    /// Longest request line (excluding CRLF): longer is 414.
    public var requestLineBytes: Int
    /// Longest header section (excluding the request line): longer is 431.
    public var headerBytes: Int
    /// Most header fields: more is 431.
    public var headerCount: Int

    public init(requestLineBytes: Int = 8192, headerBytes: Int = 32768, headerCount: Int = 100) {
      self.requestLineBytes = requestLineBytes
      self.headerBytes = headerBytes
      self.headerCount = headerCount
    }
  }

  /// The outcome of feeding bytes to the parser.
  public enum Result: Sendable {
    /// The head is not complete yet.
    case needMore
    /// A complete head, which took `consumed` bytes from the start of the buffer.
    case head(RequestHead, consumed: Int)
  }

  /// The limits this parser enforces.
  public let limits: Limits

  // Scan state for the head being read; offsets are relative to the start of the caller's buffer.
  private var scanned = 0
  private var headStart = 0
  private var lineStart = 0
  private var requestLineEnd = -1
  private var fieldLines = 0

  public init(limits: Limits = Limits()) {
    self.limits = limits
  }

  /// Whether any bytes of a head have been seen (used to tell an idle connection from a slow client).
  public var hasPartialHead: Bool { scanned > 0 }

  /// Forgets the current head; call after a head was returned and its bytes removed from the buffer.
  public mutating func reset() {
    scanned = 0
    headStart = 0
    lineStart = 0
    requestLineEnd = -1
    fieldLines = 0
  }

  /// Scans `buffer`, which starts where the head starts and holds every byte received since; bytes already
  /// scanned are not looked at again.
  public mutating func parse(_ buffer: UnsafeRawBufferPointer) throws(HTTPError) -> Result {
    guard let base = buffer.baseAddress, buffer.count > scanned else { return .needMore }
    var i = scanned
    while i < buffer.count {
      guard let hit = memchr(base + i, 0x0A, buffer.count - i) else {
        i = buffer.count
        break
      }
      let lf = base.distance(to: UnsafeRawPointer(hit))
      // Limits first, measured exactly as for a partial line below: the outcome must not depend on
      // where the reads happened to split the bytes.
      if requestLineEnd < 0 {
        guard lf - lineStart <= limits.requestLineBytes + 1 else { throw .uriTooLong(limit: limits.requestLineBytes) }
      } else {
        guard lf - requestLineEnd - 1 <= limits.headerBytes else {
          throw .headerFieldsTooLarge("The header section is larger than \(limits.headerBytes) bytes.")
        }
      }
      guard lf > 0, buffer[lf - 1] == 0x0D else {
        throw .badRequest("Lines must end with CRLF; found a bare LF.")
      }
      let lineLength = lf - 1 - lineStart
      if requestLineEnd < 0 {
        if lineLength == 0 {
          // RFC 9112 §2.2: ignore empty lines before the request line, but only a few.
          guard lf + 1 <= 8 else { throw .badRequest("Too many empty lines before the request line.") }
          headStart = lf + 1
        } else {
          requestLineEnd = lf
        }
      } else {
        if lineLength == 0 {
          scanned = lf + 1
          let head = try parseHead(
            UnsafeRawBufferPointer(rebasing: buffer[headStart..<(lf + 1)]), requestLineEnd - headStart)
          return .head(head, consumed: lf + 1)
        }
        fieldLines += 1
        guard fieldLines <= limits.headerCount else {
          throw .headerFieldsTooLarge("More than \(limits.headerCount) header fields.")
        }
      }
      lineStart = lf + 1
      i = lf + 1
    }
    scanned = i
    if requestLineEnd < 0 {
      guard buffer.count - lineStart <= limits.requestLineBytes + 1 else {
        throw .uriTooLong(limit: limits.requestLineBytes)
      }
    } else if buffer.count - requestLineEnd - 1 > limits.headerBytes {
      throw .headerFieldsTooLarge("The header section is larger than \(limits.headerBytes) bytes.")
    }
    return .needMore
  }

  /// Parses a complete head: `head` runs from the request line to the final empty line's LF, and
  /// `lineEnd` is the index of the request line's LF.
  private func parseHead(_ head: UnsafeRawBufferPointer, _ lineEnd: Int) throws(HTTPError) -> RequestHead {
    let (method, rawTarget, version) = try parseRequestLine(UnsafeRawBufferPointer(rebasing: head[0..<(lineEnd - 1)]))
    var headers = HTTPHeaders(capacity: 8)
    var start = lineEnd + 1
    while start < head.count - 2 {
      // The scan already proved that every line ends in CRLF.
      let end = head.baseAddress!.distance(
        to: UnsafeRawPointer(memchr(head.baseAddress! + start, 0x0A, head.count - start)!))
      try parseField(UnsafeRawBufferPointer(rebasing: head[start..<(end - 1)]), into: &headers)
      start = end + 1
    }
    let target = try originForm(rawTarget, method: method)
    return try Self.decideSemantics(method: method, target: target, version: version, headers: headers)
  }

  private func parseRequestLine(_ line: UnsafeRawBufferPointer) throws(HTTPError) -> (HTTPMethod, String, HTTPVersion) {
    var i = 0
    while i < line.count, Self.isToken(line[i]) { i += 1 }
    guard i > 0, i < line.count, line[i] == 0x20 else { throw .badRequest("Malformed request line.") }
    let method = HTTPMethod(String(decoding: UnsafeRawBufferPointer(rebasing: line[0..<i]), as: UTF8.self))
    let targetStart = i + 1
    i = targetStart
    while i < line.count, line[i] > 0x20, line[i] < 0x7F { i += 1 }
    guard i > targetStart, i < line.count, line[i] == 0x20 else {
      throw .badRequest("Malformed request line: the target must be visible ASCII between single spaces.")
    }
    let target = String(decoding: UnsafeRawBufferPointer(rebasing: line[targetStart..<i]), as: UTF8.self)
    let version = UnsafeRawBufferPointer(rebasing: line[(i + 1)...])
    return (method, target, try Self.parseVersion(version))
  }

  static func parseVersion(_ v: UnsafeRawBufferPointer) throws(HTTPError) -> HTTPVersion {
    guard v.count == 8, v[0] == UInt8(ascii: "H"), v[1] == UInt8(ascii: "T"), v[2] == UInt8(ascii: "T"),
      v[3] == UInt8(ascii: "P"), v[4] == UInt8(ascii: "/"), v[6] == UInt8(ascii: "."),
      (0x30...0x39).contains(v[5]), (0x30...0x39).contains(v[7])
    else { throw .badRequest("Malformed HTTP version.") }
    switch (v[5], v[7]) {
    case (UInt8(ascii: "1"), UInt8(ascii: "1")): return .http1_1
    case (UInt8(ascii: "1"), UInt8(ascii: "0")): return .http1_0
    default: throw .versionNotSupported(String(decoding: v, as: UTF8.self))
    }
  }

  private func parseField(_ line: UnsafeRawBufferPointer, into headers: inout HTTPHeaders) throws(HTTPError) {
    guard let first = line.first else { throw .badRequest("Empty header line.") }
    if first == 0x20 || first == 0x09 {
      throw .badRequest("Folded header lines (obs-fold) are not accepted.")
    }
    var colon = 0
    while colon < line.count, Self.isToken(line[colon]) { colon += 1 }
    guard colon < line.count, line[colon] == UInt8(ascii: ":") else {
      if colon < line.count, line[colon] == 0x20 || line[colon] == 0x09 {
        throw .badRequest("Whitespace between a header name and its colon is not accepted.")
      }
      throw .badRequest("Malformed header field.")
    }
    guard colon > 0 else { throw .badRequest("Empty header name.") }
    var start = colon + 1
    var end = line.count
    while start < end, line[start] == 0x20 || line[start] == 0x09 { start += 1 }
    while end > start, line[end - 1] == 0x20 || line[end - 1] == 0x09 { end -= 1 }
    guard Self.isFieldValue(UnsafeRawBufferPointer(rebasing: line[start..<end])) else {
      throw .badRequest("Header values must not contain control characters.")
    }
    headers.add(
      String(decoding: UnsafeRawBufferPointer(rebasing: line[0..<colon]), as: UTF8.self),
      String(decoding: UnsafeRawBufferPointer(rebasing: line[start..<end]), as: UTF8.self))
  }

  private func originForm(_ target: String, method: HTTPMethod) throws(HTTPError) -> String {
    if target.utf8.first == UInt8(ascii: "/") { return target }
    if target == "*" && method == .options { return target }
    // Absolute form (RFC 9112 §3.2.2): servers must accept it; keep the path and query.
    for scheme in ["http://", "https://"] where target.count > scheme.count && target.lowercased().hasPrefix(scheme) {
      let rest = target.dropFirst(scheme.count)
      guard let slash = rest.firstIndex(where: { $0 == "/" || $0 == "?" }) else { return "/" }
      let tail = String(rest[slash...])
      return tail.hasPrefix("?") ? "/" + tail : tail
    }
    throw .badRequest("The request target must be an absolute path.")
  }

  static func decideSemantics(
    method: HTTPMethod, target: String, version: HTTPVersion, headers: HTTPHeaders
  ) throws(HTTPError) -> RequestHead {
    // One pass to see which framing headers are present; most requests carry none of them, and looking
    // them up one by one would build arrays for every request.
    var hosts = 0
    var hasTransferEncoding = false
    var hasContentLength = false
    var hasConnection = false
    for field in headers {
      switch field.name.utf8.count {
      case 4 where HTTPHeaders.equalsIgnoringCase(field.name, "Host"): hosts += 1
      case 10 where HTTPHeaders.equalsIgnoringCase(field.name, "Connection"): hasConnection = true
      case 14 where HTTPHeaders.equalsIgnoringCase(field.name, "Content-Length"): hasContentLength = true
      case 17 where HTTPHeaders.equalsIgnoringCase(field.name, "Transfer-Encoding"): hasTransferEncoding = true
      default: break
      }
    }
    if version == .http1_1 && hosts != 1 || hosts > 1 {
      throw .badRequest("An HTTP/1.1 request needs exactly one Host header.")
    }
    let lengths = hasContentLength ? headers.values("Content-Length") : []
    var framing = BodyFraming.none
    if hasTransferEncoding {
      let transferCodings = headers.tokens("Transfer-Encoding")
      guard lengths.isEmpty else {
        throw .badRequest("A request must not carry both Content-Length and Transfer-Encoding.")
      }
      guard version == .http1_1 else { throw .badRequest("Transfer-Encoding is not allowed in HTTP/1.0.") }
      if let unknown = transferCodings.first(where: { $0 != "chunked" }) {
        throw .notImplemented("The transfer coding \"\(unknown)\" is not supported; use chunked or Content-Length.")
      }
      guard transferCodings == ["chunked"] else {
        throw .badRequest("Transfer-Encoding must be exactly \"chunked\".")
      }
      framing = .chunked
    } else if !lengths.isEmpty {
      var length: Int64?
      for value in lengths {
        for part in value.split(separator: ",", omittingEmptySubsequences: false) {
          let digits = part.trimmingOWS()
          guard !digits.isEmpty, digits.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else {
            throw .badRequest("Content-Length must be a non-negative decimal integer.")
          }
          guard let n = Int64(digits) else { throw .badRequest("Content-Length is out of range.") }
          guard length == nil || length == n else { throw .badRequest("Conflicting Content-Length values.") }
          length = n
        }
      }
      if let length, length > 0 { framing = .length(length) }
    }
    let connection = hasConnection ? headers.tokens("Connection") : []
    let keepAlive =
      version == .http1_1
      ? !connection.contains("close") : connection.contains("keep-alive") && !connection.contains("close")
    var expectsContinue = false
    if let expect = headers["Expect"] {
      guard expect.trimmingOWS().lowercased() == "100-continue" else { throw .expectationFailed(expect) }
      expectsContinue = version == .http1_1 && framing != .none
    }
    return RequestHead(
      method: method, target: target, version: version, headers: headers, framing: framing,
      expectsContinue: expectsContinue, keepAlive: keepAlive)
  }

  /// Whether `value` holds only field-value bytes: visible ASCII, space, tab and obs-text, no other control
  /// character. Eight bytes at a time: values such as bearer tokens are long, and every request has them.
  static func isFieldValue(_ value: UnsafeRawBufferPointer) -> Bool {
    let ones: UInt64 = 0x0101_0101_0101_0101
    let highs: UInt64 = 0x8080_8080_8080_8080
    var i = 0
    while i + 8 <= value.count {
      let word = value.loadUnaligned(fromByteOffset: i, as: UInt64.self)
      // A byte below 0x20, or a byte equal to 0x7F, sets its high bit here (exact for both tests).
      let below = (word &- ones &* 0x20) & ~word & highs
      let delete = ((word ^ (ones &* 0x7F)) &- ones) & ~(word ^ (ones &* 0x7F)) & highs
      if below | delete != 0 { break }
      i += 8
    }
    while i < value.count {
      let b = value[i]
      guard b >= 0x20 && b != 0x7F || b == 0x09 else { return false }
      i += 1
    }
    return true
  }

  /// RFC 9110 `tchar` (`!#$%&'*+-.^_`|~`, digits, letters) as a 128-bit mask: a static table would cost a
  /// lazy-initialisation check on every byte.
  @inline(__always) static func isToken(_ byte: UInt8) -> Bool {
    byte < 64
      ? (0x03ff_6cfa_0000_0000 as UInt64) >> byte & 1 == 1
      : byte < 128 && (0x57ff_ffff_c7ff_fffe as UInt64) >> (byte - 64) & 1 == 1
  }
}
