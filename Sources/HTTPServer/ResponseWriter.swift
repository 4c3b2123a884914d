import Log

/// Serialises a response into the connection's output buffer: status line, headers and body in one buffer,
/// so each answer goes out in one `send`.
enum ResponseWriter {
  /// Header names the server writes itself; a handler's own values for them are dropped.
  private static let reserved = ["content-length", "transfer-encoding", "connection", "date", "x-request-id"]

  /// Appends `response` to `out`; returns the number of body bytes written.
  static func write(
    _ response: Response, for head: RequestHead, requestID: String, keepAlive: Bool, dateLine: [UInt8],
    into out: inout [UInt8]
  ) -> Int {
    // A final answer needs a code from 200 to 599 and a reason that cannot split the status line.
    var status = response.status
    if !(200...599).contains(status.code) {
      status = .internalServerError
    }
    if let standard = statusLines[status.code], status.reason == standard.reason {
      out.append(contentsOf: standard.line)
    } else {
      if !status.reason.allBytes({ $0 >= 0x20 && $0 < 0x7F || $0 == 0x09 }) { status = HTTPStatus(status.code) }
      out.append(contentsOf: http11)
      out.appendDecimal(status.code)
      out.append(0x20)
      out.appendUTF8(status.reason)
      out.append(contentsOf: crlf)
    }
    out.append(contentsOf: dateLine)
    for field in response.headers where isSafe(field) {
      out.appendUTF8(field.name)
      out.append(contentsOf: colonSpace)
      out.appendUTF8(field.value)
      out.append(contentsOf: crlf)
    }
    out.append(contentsOf: requestIDPrefix)
    out.appendUTF8(requestID)
    out.append(contentsOf: crlf)
    let bodyLength = response.file.map { Int($0.length) } ?? response.body.count
    if status.allowsBody {
      out.append(contentsOf: contentLengthPrefix)
      out.appendDecimal(bodyLength)
      out.append(contentsOf: crlf)
    }
    if !keepAlive {
      out.append(contentsOf: connectionClose)
    } else if head.version == .http1_0 {
      out.append(contentsOf: connectionKeepAlive)
    }
    out.append(contentsOf: crlf)
    guard status.allowsBody, head.method != .head else { return 0 }
    // A file body follows the head from the connection (`Connection.sendFile`).
    if response.file == nil { out.append(contentsOf: response.body) }
    return bodyLength
  }

  // The fixed parts, as bytes once.
  private static let http11 = Array("HTTP/1.1 ".utf8)
  private static let crlf = Array("\r\n".utf8)
  private static let colonSpace = Array(": ".utf8)
  private static let requestIDPrefix = Array("X-Request-Id: ".utf8)
  private static let contentLengthPrefix = Array("Content-Length: ".utf8)
  private static let connectionClose = Array("Connection: close\r\n".utf8)
  private static let connectionKeepAlive = Array("Connection: keep-alive\r\n".utf8)
  /// `HTTP/1.1 <code> <reason>\r\n` for every status with a standard reason.
  private static let statusLines = Dictionary(
    uniqueKeysWithValues: HTTPStatus.reasons.map {
      ($0.key, (reason: $0.value, line: Array("HTTP/1.1 \($0.key) \($0.value)\r\n".utf8)))
    })

  /// A handler's header is written only if it cannot split the response or override framing.
  private static func isSafe(_ field: (name: String, value: String)) -> Bool {
    guard !field.name.isEmpty, field.name.allBytes(RequestHeadParser.isToken),
      field.value.allBytes({ $0 >= 0x20 && $0 != 0x7F || $0 == 0x09 })
    else { return false }
    return !reserved.contains { HTTPHeaders.equalsIgnoringCase($0, field.name) }
  }
}
