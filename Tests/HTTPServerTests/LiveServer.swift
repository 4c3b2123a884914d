import Dispatch
import Foundation
import HTTPServer
import Log
import Problems
import TestSupport

/// An `HTTPServer` on 127.0.0.1 port 0 with test routes, its log lines collected in memory.
final class LiveServer: Sendable {
  let server: HTTPServer
  let port: Int
  let logs = MemoryLogSink()
  let uploads: String

  /// Starts a server; `configure` adjusts the configuration, `routes` adds routes to the standard ones.
  init(
    _ configure: (inout HTTPServerConfiguration) -> Void = { _ in },
    routes: (inout Router) -> Void = { _ in }
  ) throws {
    var configuration = HTTPServerConfiguration(host: "127.0.0.1", port: 0)
    configure(&configuration)
    let uploads = try makeTemporaryDirectory("ferry-uploads")
    self.uploads = uploads
    var router = Router()
    router.get("/hello") { _ in .text("hello") }
    router.post("/echo") { request in
      Response(status: .ok, headers: ["Content-Type": "application/octet-stream"], body: request.body.bytes)
    }
    router.put(
      "/upload",
      body: .streamed(limit: 1 << 30) { _ in try FileBodySink(path: uploads + "/" + UUID().uuidString) }
    ) { request in
      guard case .streamed(let sink) = request.body, let file = sink as? FileBodySink else {
        throw HTTPError.badRequest("no body")
      }
      return try .json(["path": file.path, "bytes": String(file.byteCount)])
    }
    router.get("/slow") { _ in
      try await Task.sleep(for: .milliseconds(800))
      return .text("slow")
    }
    router.get("/nap") { _ in
      try await Task.sleep(for: .milliseconds(30))
      return .text("nap")
    }
    router.get("/fail") { _ in throw Unexpected() }
    router.get("/teapot") { _ in
      throw HTTPError(Problem(type: "/problems/teapot", status: 418, title: "Teapot"), detail: "short and stout")
    }
    routes(&router)
    let logger = Logger(level: .info, sink: logs)
    server = try HTTPServer(configuration: configuration, router: router, logger: logger)
    try server.start()
    port = server.port
  }

  func stop(grace: Duration = .seconds(2)) async {
    await server.shutdown(grace: grace)
    try? FileManager.default.removeItem(atPath: uploads)
  }

  /// A new raw client connected to this server.
  func client(timeout: Double = 10) throws -> RawHTTPClient {
    try RawHTTPClient(port: port, timeout: timeout)
  }
}

/// An error type the server knows nothing about, standing in for a bug.
struct Unexpected: Error {}
