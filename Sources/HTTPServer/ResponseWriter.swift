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
    } else if !status.reason.utf8.allSatisfy({ $0 >= 0x20 && $0 < 0x7F || $0 == 0x09 }) {
      status = HTTPStatus(status.code)
    }
    out.append(contentsOf: "HTTP/1.1 ".utf8)
    out.append(contentsOf: String(status.code).utf8)
    out.append(0x20)
    out.append(contentsOf: status.reason.utf8)
    out.append(contentsOf: "\r\n".utf8)
    out.append(contentsOf: dateLine)
    for field in response.headers where isSafe(field) {
      out.append(contentsOf: field.name.utf8)
      out.append(contentsOf: ": ".utf8)
      out.append(contentsOf: field.value.utf8)
      out.append(contentsOf: "\r\n".utf8)
    }
    out.append(contentsOf: "X-Request-Id: ".utf8)
    out.append(contentsOf: requestID.utf8)
    out.append(contentsOf: "\r\n".utf8)
    if status.allowsBody {
      out.append(contentsOf: "Content-Length: ".utf8)
      out.append(contentsOf: String(response.body.count).utf8)
      out.append(contentsOf: "\r\n".utf8)
    }
    if !keepAlive {
      out.append(contentsOf: "Connection: close\r\n".utf8)
    } else if head.version == .http1_0 {
      out.append(contentsOf: "Connection: keep-alive\r\n".utf8)
    }
    out.append(contentsOf: "\r\n".utf8)
    guard status.allowsBody, head.method != .head else { return 0 }
    out.append(contentsOf: response.body)
    return response.body.count
  }

  /// A handler's header is written only if it cannot split the response or override framing.
  private static func isSafe(_ field: (name: String, value: String)) -> Bool {
    guard !field.name.isEmpty, field.name.utf8.allSatisfy({ RequestHeadParser.isToken[Int($0)] }),
      field.value.utf8.allSatisfy({ $0 >= 0x20 && $0 != 0x7F || $0 == 0x09 })
    else { return false }
    return !reserved.contains { HTTPHeaders.equalsIgnoringCase($0, field.name) }
  }
}
