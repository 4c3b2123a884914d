/// Reads one request body by its framing into memory or into a sink, enforcing the route's size limit.
struct BodyReader {
  private var remaining: Int64
  private var decoder: ChunkedDecoder?
  private let limit: Int64
  /// Body bytes taken so far.
  private(set) var received: Int64 = 0
  private let sink: (any RequestBodySink)?
  private var buffer: [UInt8] = []

  init(framing: BodyFraming, limit: Int64, sink: (any RequestBodySink)?) {
    self.limit = limit
    self.sink = sink
    switch framing {
    case .none:
      remaining = 0
    case .length(let length):
      remaining = length
      if sink == nil { buffer.reserveCapacity(Int(min(length, 1 << 20))) }
    case .chunked:
      remaining = 0
      decoder = ChunkedDecoder()
    }
  }

  /// Whether the whole body has been read.
  var isComplete: Bool { decoder?.isDone ?? (remaining == 0) }

  /// Takes body bytes from `bytes`; returns how many it took (bytes after the body are left alone).
  mutating func consume(_ bytes: UnsafeRawBufferPointer) throws -> Int {
    if var decoder {
      self.decoder = nil
      defer { self.decoder = decoder }
      return try decoder.decode(bytes) { chunk in try take(chunk) }
    }
    let n = Int(min(remaining, Int64(bytes.count)))
    try take(UnsafeRawBufferPointer(rebasing: bytes[0..<n]))
    remaining -= Int64(n)
    return n
  }

  private mutating func take(_ chunk: UnsafeRawBufferPointer) throws {
    received += Int64(chunk.count)
    guard received <= limit else { throw HTTPError.payloadTooLarge(limit: limit) }
    if let sink {
      try sink.write(chunk)
    } else {
      buffer.append(contentsOf: chunk)
    }
  }

  /// The body for the handler; finishes the sink.
  func finish() throws -> RequestBody {
    guard let sink else { return .bytes(buffer) }
    try sink.finish()
    return .streamed(sink)
  }

  /// Gives up on the body (the sink removes what it made).
  func abort() {
    sink?.abort()
  }
}
