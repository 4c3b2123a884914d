import Dispatch
import Ferry
import Foundation
import JSON
import Jobs
import Log
import Media
import TestSupport

/// A whole Ferry in-process on a free loopback port, with the copy operation at `/media/copy`, two apps and
/// transfers allowed to loopback.
final class APITestServer: Sendable {
  let application: FerryApplication
  let port: Int
  let dataDirectory: String
  let logs = MemoryLogSink()

  /// `dataDirectory` continues an earlier server's (a restart); by default a new one. `mediaOperations` serves
  /// the real enhance, analyze, transcode and diagnose instead of the copy operation.
  init(extraEnvironment: [String: String] = [:], dataDirectory: String? = nil, mediaOperations: Bool = false) throws {
    self.dataDirectory = try dataDirectory ?? makeTemporaryDirectory("ferry-api")
    var environment = [
      "FERRY_SERVER_PORT": "0", "FERRY_DATA_DIR": self.dataDirectory, "FERRY_NETWORK_ALLOW": #"["127.0.0.0/8"]"#,
      "FERRY_AUTH_APPS":
        #"[{"key":"app-a","secret":"secret-a","api_key":"legacy-a"},{"key":"app-b","secret":"secret-b"}]"#,
      "FERRY_WORKERS_CONCURRENCY": "2", "FERRY_AUTH_RATE_LIMIT_PER_S": "100000",
      "FERRY_AUTH_RATE_LIMIT_BURST": "100000",
    ]
    environment.merge(extraEnvironment) { $1 }
    let configuration = try ConfigurationLoader(environment: environment).load(file: nil).configuration
    let copy: @Sendable (JobTransfers) -> [any JobOperation] = { [CopyOperation(transfers: $0)] }
    application = try FerryApplication(
      configuration: configuration, logger: Logger(level: .info, sink: logs), operations: mediaOperations ? nil : copy)
    port = try application.start()
  }

  func stop() async { await application.shutdown() }

  /// Sends one request (blocking I/O off the concurrency pool), then `body`, and reads the answer.
  func send(_ text: String, body: [UInt8] = []) async throws -> RawHTTPClient.Response {
    let port = self.port
    return try await blocking {
      let client = try RawHTTPClient(port: port)
      try client.send(text)
      if !body.isEmpty { try client.send(body) }
      return try client.readResponse()
    }
  }

  /// `method path` with `headers` and a JSON `body`.
  func request(_ method: String, _ path: String, headers: [String: String] = [:], body: String? = nil) async throws
    -> RawHTTPClient.Response
  {
    var text = "\(method) \(path) HTTP/1.1\r\nHost: test\r\nConnection: close\r\n"
    for (name, value) in headers { text += "\(name): \(value)\r\n" }
    if let body {
      if headers["Content-Type"] == nil { text += "Content-Type: application/json\r\n" }
      text += "Content-Length: \(body.utf8.count)\r\n\r\n\(body)"
    } else {
      text += "\r\n"
    }
    return try await send(text)
  }

  /// A Bearer token for an app.
  func token(key: String, secret: String) async throws -> String {
    let basic = Data("\(key):\(secret)".utf8).base64EncodedString()
    let response = try await request(
      "POST", "/v1/auth/token",
      headers: ["Authorization": "Basic \(basic)", "Content-Type": "application/x-www-form-urlencoded"],
      body: "grant_type=client_credentials")
    guard let token = response.json["access_token"] as? String else {
      throw RawHTTPClient.ClientError(description: "no token: \(response.status) \(response.text)")
    }
    return token
  }

  /// Polls the job until it ends (at most `timeout` seconds).
  func waitForEnd(_ jobID: String, token: String, path: String = "/media/copy", timeout: Double = 15) async throws
    -> [String: Any]
  {
    let deadline = Date() + timeout
    while Date() < deadline {
      let response = try await request(
        "GET", "\(path)?job_id=\(jobID)", headers: ["Authorization": "Bearer \(token)"])
      let status = response.json["status"] as? String
      if let status, !["Pending", "Running"].contains(status) { return response.json }
      try await Task.sleep(for: .milliseconds(50))
    }
    throw RawHTTPClient.ClientError(description: "job \(jobID) did not end in \(timeout) s")
  }
}
