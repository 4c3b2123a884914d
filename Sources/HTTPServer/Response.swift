import Foundation
import Log
import Problems

/// A response: status, headers and a body. `Content-Length`, `Date` and `Connection` are added by the server.
public struct Response: Sendable {
  /// The status.
  public var status: HTTPStatus
  /// Header fields to send.
  public var headers: HTTPHeaders
  /// The body bytes (not sent for HEAD, 204 and 304, though `Content-Length` still describes them).
  public var body: [UInt8]
  /// A body streamed from a file instead of `body` (downloads): sent with `sendfile` as the client reads.
  public var file: FileBody?

  public init(status: HTTPStatus = .ok, headers: HTTPHeaders = [:], body: [UInt8] = [], file: FileBody? = nil) {
    self.status = status
    self.headers = headers
    self.body = body
    self.file = file
  }

  /// A JSON answer from already-encoded bytes.
  public static func json(bytes body: [UInt8], status: HTTPStatus = .ok) -> Response {
    Response(status: status, headers: ["Content-Type": "application/json"], body: body)
  }

  /// A JSON answer encoding `value` with sorted keys.
  public static func json(_ value: some Encodable, status: HTTPStatus = .ok) throws -> Response {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    return .json(bytes: Array(try encoder.encode(value)), status: status)
  }

  /// A plain-text answer.
  public static func text(_ text: String, status: HTTPStatus = .ok, contentType: String = "text/plain; charset=utf-8")
    -> Response
  {
    Response(status: status, headers: ["Content-Type": contentType], body: Array(text.utf8))
  }

  /// The `application/problem+json` answer for `error`.
  public static func problem(_ error: HTTPError) -> Response { problem(error as any ProblemError) }

  /// The `application/problem+json` answer for `error` (RFC 9457): `{type, status, title, detail}`.
  public static func problem(_ error: any ProblemError) -> Response {
    let status = HTTPStatus(error.problem.status ?? 500)
    var body: [UInt8] = []
    body.reserveCapacity(160 + error.detail.utf8.count)
    body.append(contentsOf: #"{"type":"#.utf8)
    JSONText.appendString(error.problem.type, to: &body)
    body.append(contentsOf: #","status":"#.utf8)
    body.append(contentsOf: String(status.code).utf8)
    body.append(contentsOf: #","title":"#.utf8)
    JSONText.appendString(error.problem.title, to: &body)
    body.append(contentsOf: #","detail":"#.utf8)
    JSONText.appendString(error.detail, to: &body)
    body.append(UInt8(ascii: "}"))
    var headers: HTTPHeaders = ["Content-Type": "application/problem+json"]
    for (name, value) in error.headers.sorted(by: { $0.key < $1.key }) { headers.add(name, value) }
    return Response(status: status, headers: headers, body: body)
  }
}
