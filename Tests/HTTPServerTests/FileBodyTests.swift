import Foundation
import HTTPServer
import TestSupport
import Testing

/// Bodies streamed from files: whole, ranged, to slow readers, followed by more requests on the connection.
@Suite struct FileBodyTests {
  @Test func ranges_areReadAsRFC9110Says() {
    #expect(ByteRange.parse(nil, size: 100) == .whole)
    #expect(ByteRange.parse("bytes=0-9", size: 100) == .partial(0...9))
    #expect(ByteRange.parse("bytes=90-", size: 100) == .partial(90...99))
    #expect(ByteRange.parse("bytes=90-500", size: 100) == .partial(90...99))
    #expect(ByteRange.parse("bytes=-10", size: 100) == .partial(90...99))
    #expect(ByteRange.parse("bytes=-500", size: 100) == .partial(0...99))
    #expect(ByteRange.parse("bytes=100-", size: 100) == .unsatisfiable)
    #expect(ByteRange.parse("bytes=-0", size: 100) == .unsatisfiable)
    #expect(ByteRange.parse("bytes=5-1", size: 100) == .whole)
    #expect(ByteRange.parse("bytes=0-1,5-6", size: 100) == .whole)
    #expect(ByteRange.parse("items=0-1", size: 100) == .whole)
    #expect(ByteRange.parse("bytes=x-1", size: 100) == .whole)
  }

  @Test func aFileBody_reachesASlowReaderWhole_andTheConnectionServesTheNextRequest() async throws {
    let directory = try makeTemporaryDirectory("ferry-files")
    let bytes = testBytes(count: 6 << 20)
    let path = directory + "/big.bin"
    FileManager.default.createFile(atPath: path, contents: Data(bytes))
    let live = try LiveServer(routes: { router in
      router.get("/file") { request in
        let size = FileBody.size(of: path)!
        switch ByteRange.parse(request.headers["Range"], size: size) {
        case .whole: return Response(headers: ["Content-Type": "application/octet-stream"], file: FileBody(path: path))
        case .partial(let range):
          return Response(
            status: .partialContent,
            headers: ["Content-Range": "bytes \(range.lowerBound)-\(range.upperBound)/\(size)"],
            file: FileBody(path: path, range: range))
        case .unsatisfiable: return Response(status: .rangeNotSatisfiable)
        }
      }
    })
    defer { Task { await live.stop() } }
    let port = live.port
    let result = try await blocking { () -> (Int, [UInt8], Int, [UInt8], Int, String?) in
      let client = try RawHTTPClient(port: port, timeout: 20)
      // A small receive buffer and a pause: the server meets a full socket and must wait for writability.
      var small: Int32 = 16384
      setsockopt(client.fd, SOL_SOCKET, SO_RCVBUF, &small, socklen_t(MemoryLayout<Int32>.size))
      try client.send(
        "GET /file HTTP/1.1\r\nHost: t\r\n\r\nGET /file HTTP/1.1\r\nHost: t\r\nRange: bytes=100-199\r\n\r\n")
      usleep(300_000)
      let whole = try client.readResponse()
      let part = try client.readResponse()
      try client.send("HEAD /file HTTP/1.1\r\nHost: t\r\n\r\nGET /hello HTTP/1.1\r\nHost: t\r\n\r\n")
      let head = try client.readResponse(head: true)
      let hello = try client.readResponse()
      return (whole.status, whole.body, part.status, part.body, hello.status, head.header("Content-Length"))
    }
    #expect(result.0 == 200 && result.1.count == bytes.count && result.1 == bytes)
    #expect(result.2 == 206 && result.3 == Array(bytes[100...199]))
    #expect(result.5 == String(bytes.count), "HEAD describes the body without sending it")
    #expect(result.4 == 200, "the connection goes on after file bodies")
  }
}
