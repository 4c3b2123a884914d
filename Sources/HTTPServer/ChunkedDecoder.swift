/// Decodes the chunked transfer coding (RFC 9112 §7.1) incrementally, from bytes as they arrive.
///
/// Chunk extensions are skipped; trailer fields are read and dropped. Size lines, extensions and trailers are
/// bounded, so a hostile client cannot make the decoder buffer without limit.
public struct ChunkedDecoder: Sendable {
  private enum State: Sendable, Equatable {
    case size(value: UInt64, digits: Int)
    case extensions(length: Int)
    case sizeLF(UInt64)
    case data(remaining: UInt64)
    case dataCR
    case dataLF
    case trailerLineStart
    case trailerLine
    case trailerLF(empty: Bool)
    case done
  }

  private var state = State.size(value: 0, digits: 0)
  private var trailerBytes = 0
  private var lineIsEmpty = true
  /// Longest chunk-size line extension and trailer section accepted.
  static let maxExtensionBytes = 4096
  static let maxTrailerBytes = 32768

  public init() {}

  /// Whether the last chunk and trailer section have been read.
  public var isDone: Bool { state == .done }

  /// Consumes bytes from `input`, passing each run of body data to `emit`; returns how many bytes it took.
  /// Stops right after the end of the message, so bytes of a pipelined next request are left alone.
  public mutating func decode(
    _ input: UnsafeRawBufferPointer, emit: (UnsafeRawBufferPointer) throws -> Void
  ) throws -> Int {
    var i = 0
    while i < input.count, state != .done {
      let b = input[i]
      switch state {
      case .size(let value, let digits):
        if let d = Self.hexValue(b) {
          guard digits < 15 else { throw HTTPError.badRequest("Chunk size is too large.") }
          state = .size(value: value << 4 | UInt64(d), digits: digits + 1)
        } else if digits > 0 && (b == UInt8(ascii: ";") || b == 0x20 || b == 0x09) {
          state = .extensions(length: 0)
          pendingSize = value
        } else if digits > 0 && b == 0x0D {
          state = .sizeLF(value)
        } else {
          throw HTTPError.badRequest("Malformed chunk size.")
        }
        i += 1
      case .extensions(let length):
        if b == 0x0D {
          state = .sizeLF(pendingSize)
        } else {
          guard length < Self.maxExtensionBytes, b != 0x0A else {
            throw HTTPError.badRequest("Malformed or oversized chunk extension.")
          }
          state = .extensions(length: length + 1)
        }
        i += 1
      case .sizeLF(let size):
        guard b == 0x0A else { throw HTTPError.badRequest("Chunk size line must end with CRLF.") }
        state = size == 0 ? .trailerLineStart : .data(remaining: size)
        i += 1
      case .data(let remaining):
        let n = Int(min(remaining, UInt64(input.count - i)))
        try emit(UnsafeRawBufferPointer(rebasing: input[i..<(i + n)]))
        i += n
        state = remaining == UInt64(n) ? .dataCR : .data(remaining: remaining - UInt64(n))
      case .dataCR:
        guard b == 0x0D else { throw HTTPError.badRequest("Chunk data must be followed by CRLF.") }
        state = .dataLF
        i += 1
      case .dataLF:
        guard b == 0x0A else { throw HTTPError.badRequest("Chunk data must be followed by CRLF.") }
        state = .size(value: 0, digits: 0)
        i += 1
      case .trailerLineStart:
        lineIsEmpty = true
        state = .trailerLine
      case .trailerLine:
        trailerBytes += 1
        guard trailerBytes <= Self.maxTrailerBytes else { throw HTTPError.badRequest("Trailer section is too large.") }
        if b == 0x0D {
          state = .trailerLF(empty: lineIsEmpty)
        } else {
          guard b != 0x0A else { throw HTTPError.badRequest("Trailer lines must end with CRLF.") }
          lineIsEmpty = false
        }
        i += 1
      case .trailerLF(let empty):
        guard b == 0x0A else { throw HTTPError.badRequest("Trailer lines must end with CRLF.") }
        state = empty ? .done : .trailerLineStart
        i += 1
      case .done:
        break
      }
    }
    return i
  }

  private var pendingSize: UInt64 = 0

  private static func hexValue(_ b: UInt8) -> UInt8? {
    switch b {
    case UInt8(ascii: "0")...UInt8(ascii: "9"): b - UInt8(ascii: "0")
    case UInt8(ascii: "a")...UInt8(ascii: "f"): b - UInt8(ascii: "a") + 10
    case UInt8(ascii: "A")...UInt8(ascii: "F"): b - UInt8(ascii: "A") + 10
    default: nil
    }
  }
}
