import Foundation
import TestSupport
import Testing

/// HTTP to a `ferry serve` process on loopback (one request per connection, blocking I/O off the concurrency
/// pool), for the tests that run Ferry as a child process and kill it.
enum LiveNode {
  /// `method path` with a Bearer token and an optional JSON body.
  static func send(port: Int, _ method: String, _ path: String, token: String, body: String? = nil) async throws
    -> RawHTTPClient.Response
  {
    var text = "\(method) \(path) HTTP/1.1\r\nHost: t\r\nConnection: close\r\nAuthorization: Bearer \(token)\r\n"
    if let body {
      text += "Content-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)"
    } else {
      text += "Content-Length: 0\r\n\r\n"
    }
    return try await exchange(port: port, text)
  }

  /// An access token for the app `key`/`secret`.
  static func token(port: Int, key: String, secret: String) async throws -> String {
    let basic = Data("\(key):\(secret)".utf8).base64EncodedString()
    let body = "grant_type=client_credentials"
    let answer = try await exchange(
      port: port,
      "POST /v1/auth/token HTTP/1.1\r\nHost: t\r\nConnection: close\r\nAuthorization: Basic \(basic)\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: \(body.count)\r\n\r\n\(body)"
    )
    return try #require(answer.json["access_token"] as? String, "\(answer.text)")
  }

  /// A GET of an absolute URL on a loopback peer (a pre-signed S3 URL: no Authorization).
  static func get(_ url: String) async throws -> RawHTTPClient.Response {
    let port = try #require(URL(string: url)?.port)
    let target = String(url.dropFirst("http://".count).drop { $0 != "/" })
    return try await exchange(
      port: port, "GET \(target) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nConnection: close\r\n\r\n")
  }

  /// Sends `text` and reads the answer.
  static func exchange(port: Int, _ text: String) async throws -> RawHTTPClient.Response {
    try await blocking {
      let client = try RawHTTPClient(port: port, timeout: 30)
      try client.send(text)
      return try client.readResponse()
    }
  }

  /// A 2 s, 48 kHz mono tone at -20 dBFS.
  static func tone(_ path: String) throws -> [UInt8] {
    let made = Process()
    made.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    made.arguments = [
      "ffmpeg", "-loglevel", "error", "-y", "-f", "lavfi", "-i", "sine=f=440:d=2:sample_rate=48000", "-af",
      "volume=-20dB", path,
    ]
    try made.run()
    made.waitUntilExit()
    return Array(try Data(contentsOf: URL(fileURLWithPath: path)))
  }
}
