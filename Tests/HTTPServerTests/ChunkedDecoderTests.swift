import Testing

@testable import HTTPServer

/// Decodes `text` fed in pieces of `step` bytes; returns the body and how many bytes were consumed.
private func decode(_ text: String, step: Int = .max) throws -> (body: String, consumed: Int, done: Bool) {
  var decoder = ChunkedDecoder()
  let bytes = Array(text.utf8)
  var body: [UInt8] = []
  var offset = 0
  var pending: [UInt8] = []
  while offset < bytes.count && !decoder.isDone {
    let end = min(bytes.count, offset + step)
    pending.append(contentsOf: bytes[offset..<end])
    offset = end
    let taken = try pending.withUnsafeBytes { raw in
      try decoder.decode(raw) { body.append(contentsOf: $0) }
    }
    pending.removeFirst(taken)
  }
  return (String(decoding: body, as: UTF8.self), offset - pending.count, decoder.isDone)
}

@Suite struct ChunkedDecoderTests {
  let message = "5\r\nhello\r\n1;name=value\r\n \r\nA\r\n0123456789\r\n0\r\nX-Trailer: t\r\n\r\n"

  @Test func decodesChunksExtensionsAndTrailers() throws {
    let result = try decode(message + "GET / HTTP/1.1")
    #expect(result.body == "hello 0123456789")
    #expect(result.done)
    #expect(result.consumed == message.utf8.count, "bytes after the message belong to the next request")
  }

  @Test func decodesTheSameWhateverTheReadSizes() throws {
    for step in [1, 2, 3, 7, 16] {
      let result = try decode(message, step: step)
      #expect(result.body == "hello 0123456789", "step \(step)")
      #expect(result.done)
    }
  }

  @Test func emptyBody() throws {
    let result = try decode("0\r\n\r\n")
    #expect(result.body == "")
    #expect(result.done)
  }

  @Test func refusesMalformedFraming() {
    #expect(throws: HTTPError.self) { try decode("z\r\n") }
    #expect(throws: HTTPError.self) { try decode("\r\n") }
    #expect(throws: HTTPError.self) { try decode("5\r\nhelloX\r\n") }
    #expect(throws: HTTPError.self) { try decode("5\nhello\r\n") }
    #expect(throws: HTTPError.self) { try decode("1000000000000000\r\n") }
    #expect(throws: HTTPError.self) { try decode("1;" + String(repeating: "e", count: 5000) + "\r\n") }
    #expect(throws: HTTPError.self) { try decode("0\r\n" + String(repeating: "X: y\r\n", count: 7000) + "\r\n") }
  }
}
