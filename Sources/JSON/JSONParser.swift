/// A strict JSON (RFC 8259) reader over UTF-8 bytes. Stricter than Foundation's in the ways a server taking
/// hostile bodies needs: an object that names a key twice is refused (parsers disagree on which one wins, so a
/// proxy that checked the body could have seen another value than Ferry uses), nesting is bounded, and the
/// error says where the text went wrong.
struct JSONParser {
  /// Objects and arrays nested deeper than this are refused (the reader recurses).
  static let maxDepth = 128

  private let bytes: [UInt8]
  private let duplicateKeys: JSONValue.DuplicateKeys
  private var index = 0

  init(_ bytes: [UInt8], duplicateKeys: JSONValue.DuplicateKeys) {
    self.bytes = bytes
    self.duplicateKeys = duplicateKeys
  }

  mutating func parseDocument() throws(JSONValue.ParseError) -> JSONValue {
    // A UTF-8 byte order mark is tolerated, as Foundation's reader does.
    if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { index = 3 }
    skipWhitespace()
    let value = try parseValue(depth: 0, path: "")
    skipWhitespace()
    guard index == bytes.count else { throw error("unexpected text after the value") }
    return value
  }

  private mutating func parseValue(depth: Int, path: String) throws(JSONValue.ParseError) -> JSONValue {
    guard index < bytes.count else { throw error("unexpected end of the text") }
    switch bytes[index] {
    case UInt8(ascii: "{"): return try parseObject(depth: depth + 1, path: path)
    case UInt8(ascii: "["): return try parseArray(depth: depth + 1, path: path)
    case UInt8(ascii: "\""): return .string(try parseString())
    case UInt8(ascii: "t"): return try literal("true", .bool(true))
    case UInt8(ascii: "f"): return try literal("false", .bool(false))
    case UInt8(ascii: "n"): return try literal("null", .null)
    case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try parseNumber()
    default: throw error("unexpected character")
    }
  }

  private mutating func parseObject(depth: Int, path: String) throws(JSONValue.ParseError) -> JSONValue {
    if try opensEmpty(closer: UInt8(ascii: "}"), depth: depth) { return .object([:]) }
    var members: [String: JSONValue] = [:]
    while true {
      skipWhitespace()
      guard peek(UInt8(ascii: "\"")) else { throw error("expected a member name in quotes") }
      let keyStart = index
      let key = try parseString()
      skipWhitespace()
      guard peek(UInt8(ascii: ":")) else { throw error("expected ':' after a member name") }
      index += 1
      skipWhitespace()
      let memberPath = path.isEmpty ? key : path + "." + key
      let value = try parseValue(depth: depth, path: memberPath)
      if members.updateValue(value, forKey: key) != nil, duplicateKeys == .refused {
        index = keyStart
        throw JSONValue.ParseError(offset: keyStart, reason: "\(memberPath) is given twice", duplicateKey: memberPath)
      }
      if try closes(UInt8(ascii: "}"), "an object") { return .object(members) }
    }
  }

  private mutating func parseArray(depth: Int, path: String) throws(JSONValue.ParseError) -> JSONValue {
    if try opensEmpty(closer: UInt8(ascii: "]"), depth: depth) { return .array([]) }
    var items: [JSONValue] = []
    while true {
      skipWhitespace()
      items.append(try parseValue(depth: depth, path: "\(path)[\(items.count)]"))
      if try closes(UInt8(ascii: "]"), "a list") { return .array(items) }
    }
  }

  /// Steps over the opening bracket of an object or a list at `depth`; true when `closer` follows at once (the
  /// container is empty, and the closer is stepped over too).
  private mutating func opensEmpty(closer: UInt8, depth: Int) throws(JSONValue.ParseError) -> Bool {
    guard depth <= Self.maxDepth else { throw error("nested deeper than \(Self.maxDepth) levels") }
    index += 1
    skipWhitespace()
    guard peek(closer) else { return false }
    index += 1
    return true
  }

  /// After a member of an object or an item of a list (`container`): skips the `,` before the next one
  /// (false) or the `closer` that ends the container (true).
  private mutating func closes(_ closer: UInt8, _ container: String) throws(JSONValue.ParseError) -> Bool {
    skipWhitespace()
    guard index < bytes.count else { throw error("unexpected end of the text in \(container)") }
    let byte = bytes[index]
    guard byte == UInt8(ascii: ",") || byte == closer else {
      throw error("expected ',' or '\(Character(Unicode.Scalar(closer)))' in \(container)")
    }
    index += 1
    return byte == closer
  }

  private mutating func parseString() throws(JSONValue.ParseError) -> String {
    index += 1  // the opening quote
    var out: [UInt8] = []
    var start = index
    while true {
      guard index < bytes.count else { throw error("unterminated string") }
      let byte = bytes[index]
      switch byte {
      case UInt8(ascii: "\""):
        out.append(contentsOf: bytes[start..<index])
        index += 1
        // Valid UTF-8 only: `String(validating:)` refuses overlong forms, surrogates and stray bytes.
        guard let text = String(validating: out, as: UTF8.self) else { throw error("a string is not valid UTF-8") }
        return text
      case UInt8(ascii: "\\"):
        out.append(contentsOf: bytes[start..<index])
        index += 1
        try parseEscape(into: &out)
        start = index
      case 0..<0x20:
        throw error("a control character in a string must be escaped")
      default:
        index += 1
      }
    }
  }

  private mutating func parseEscape(into out: inout [UInt8]) throws(JSONValue.ParseError) {
    guard index < bytes.count else { throw error("unterminated escape") }
    let byte = bytes[index]
    index += 1
    switch byte {
    case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(byte)
    case UInt8(ascii: "b"): out.append(0x08)
    case UInt8(ascii: "f"): out.append(0x0C)
    case UInt8(ascii: "n"): out.append(0x0A)
    case UInt8(ascii: "r"): out.append(0x0D)
    case UInt8(ascii: "t"): out.append(0x09)
    case UInt8(ascii: "u"):
      var scalar = try hexQuad()
      if (0xD800...0xDBFF).contains(scalar) {
        guard bytes.count >= index + 6, bytes[index] == UInt8(ascii: "\\"), bytes[index + 1] == UInt8(ascii: "u")
        else { throw error("a high surrogate without its low half") }
        index += 2
        let low = try hexQuad()
        guard (0xDC00...0xDFFF).contains(low) else { throw error("a high surrogate without its low half") }
        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
      } else if (0xDC00...0xDFFF).contains(scalar) {
        throw error("a low surrogate without its high half")
      }
      out.append(contentsOf: Array(String(Character(Unicode.Scalar(scalar)!)).utf8))
    default:
      throw error("unknown escape")
    }
  }

  private mutating func hexQuad() throws(JSONValue.ParseError) -> UInt32 {
    guard bytes.count >= index + 4 else { throw error("a \\u escape needs four hex digits") }
    var value: UInt32 = 0
    for _ in 0..<4 {
      let byte = bytes[index]
      let digit: UInt32
      switch byte {
      case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = UInt32(byte - UInt8(ascii: "0"))
      case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = UInt32(byte - UInt8(ascii: "a") + 10)
      case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = UInt32(byte - UInt8(ascii: "A") + 10)
      default: throw error("a \\u escape needs four hex digits")
      }
      value = value << 4 | digit
      index += 1
    }
    return value
  }

  /// A number as RFC 8259 spells it. Integers that fit an `Int` are `.int`; so are other spellings of an
  /// integral value in range (`1.0`, `1e2`), as Foundation's reader gave them; the rest are `.double`.
  private mutating func parseNumber() throws(JSONValue.ParseError) -> JSONValue {
    let start = index
    if peek(UInt8(ascii: "-")) { index += 1 }
    guard index < bytes.count, isDigit(bytes[index]) else { throw error("a number needs digits") }
    if bytes[index] == UInt8(ascii: "0") {
      index += 1
      if index < bytes.count, isDigit(bytes[index]) { throw error("a number must not start with 0") }
    } else {
      while index < bytes.count, isDigit(bytes[index]) { index += 1 }
    }
    var integral = true
    if peek(UInt8(ascii: ".")) {
      integral = false
      index += 1
      guard index < bytes.count, isDigit(bytes[index]) else { throw error("a fraction needs digits") }
      while index < bytes.count, isDigit(bytes[index]) { index += 1 }
    }
    if peek(UInt8(ascii: "e")) || peek(UInt8(ascii: "E")) {
      integral = false
      index += 1
      if peek(UInt8(ascii: "+")) || peek(UInt8(ascii: "-")) { index += 1 }
      guard index < bytes.count, isDigit(bytes[index]) else { throw error("an exponent needs digits") }
      while index < bytes.count, isDigit(bytes[index]) { index += 1 }
    }
    let text = String(decoding: bytes[start..<index], as: UTF8.self)
    if integral, let int = Int(text) { return .int(int) }
    guard let double = Double(text), double.isFinite else {
      throw JSONValue.ParseError(offset: start, reason: "a number out of range")
    }
    if double == double.rounded(), abs(double) < 9.2e18 { return .int(Int(double)) }
    return .double(double)
  }

  private mutating func literal(_ word: StaticString, _ value: JSONValue) throws(JSONValue.ParseError) -> JSONValue {
    let count = word.utf8CodeUnitCount
    guard bytes.count >= index + count,
      bytes[index..<index + count].elementsEqual(UnsafeBufferPointer(start: word.utf8Start, count: count))
    else { throw error("unexpected word") }
    index += count
    return value
  }

  private mutating func skipWhitespace() {
    while index < bytes.count {
      switch bytes[index] {
      case 0x20, 0x09, 0x0A, 0x0D: index += 1
      default: return
      }
    }
  }

  private func peek(_ byte: UInt8) -> Bool { index < bytes.count && bytes[index] == byte }

  private func isDigit(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") }

  private func error(_ reason: String) -> JSONValue.ParseError { JSONValue.ParseError(offset: index, reason: reason) }
}
