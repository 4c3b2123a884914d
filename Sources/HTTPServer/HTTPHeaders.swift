/// An ordered list of header fields with ASCII case-insensitive lookup.
///
/// Names keep the spelling they arrived with; lookups never allocate.
public struct HTTPHeaders: Sendable, Sequence, ExpressibleByDictionaryLiteral {
  /// The fields in arrival order.
  public private(set) var fields: [(name: String, value: String)]

  /// An empty list, with room for `capacity` fields.
  public init(capacity: Int = 0) {
    fields = []
    fields.reserveCapacity(capacity)
  }

  public init(dictionaryLiteral elements: (String, String)...) {
    fields = elements.map { (name: $0.0, value: $0.1) }
  }

  /// Appends a field, keeping any existing one of the same name.
  public mutating func add(_ name: String, _ value: String) {
    fields.append((name: name, value: value))
  }

  /// Sets the field to one value, removing other fields of the same name.
  public mutating func replace(_ name: String, _ value: String) {
    remove(name)
    fields.append((name: name, value: value))
  }

  /// Removes every field named `name`.
  public mutating func remove(_ name: String) {
    fields.removeAll { HTTPHeaders.equalsIgnoringCase($0.name, name) }
  }

  /// The first value of `name`.
  public subscript(_ name: String) -> String? {
    for field in fields where HTTPHeaders.equalsIgnoringCase(field.name, name) { return field.value }
    return nil
  }

  /// Every value of `name`, in order.
  public func values(_ name: String) -> [String] {
    fields.filter { HTTPHeaders.equalsIgnoringCase($0.name, name) }.map(\.value)
  }

  /// Whether a field named `name` is present.
  public func contains(_ name: String) -> Bool { self[name] != nil }

  /// How many fields there are.
  public var count: Int { fields.count }

  public func makeIterator() -> IndexingIterator<[(name: String, value: String)]> { fields.makeIterator() }

  /// ASCII case-insensitive comparison of two header names or tokens.
  public static func equalsIgnoringCase(_ a: String, _ b: String) -> Bool {
    guard a.utf8.count == b.utf8.count else { return false }
    // Native strings (every header parsed or written here) compare as two byte buffers.
    let contiguous = a.utf8.withContiguousStorageIfAvailable { x in
      b.utf8.withContiguousStorageIfAvailable { y in
        for i in 0..<x.count where x[i] != y[i] && lowercase(x[i]) != lowercase(y[i]) { return false }
        return true
      }
    }
    if let contiguous, let contiguous { return contiguous }
    var ai = a.utf8.makeIterator()
    var bi = b.utf8.makeIterator()
    while true {
      switch (ai.next(), bi.next()) {
      case (nil, nil): return true
      case (let x?, let y?):
        if x != y && lowercase(x) != lowercase(y) { return false }
      default: return false
      }
    }
  }

  @inline(__always) static func lowercase(_ byte: UInt8) -> UInt8 {
    byte >= 0x41 && byte <= 0x5A ? byte | 0x20 : byte
  }
}

extension HTTPHeaders {
  /// The comma-separated tokens of every `name` field, trimmed and lowercased (`Connection`, `Transfer-Encoding`).
  public func tokens(_ name: String) -> [String] {
    var result: [String] = []
    for value in values(name) {
      for part in value.split(separator: ",") {
        let token = part.trimmingOWS()
        if !token.isEmpty { result.append(String(token).lowercasedASCII()) }
      }
    }
    return result
  }
}

extension StringProtocol {
  /// Without leading and trailing spaces and tabs (HTTP's optional whitespace).
  func trimmingOWS() -> Substring {
    let s = Substring(self)
    let isOWS: (Character) -> Bool = { $0 == " " || $0 == "\t" }
    guard let first = s.firstIndex(where: { !isOWS($0) }) else { return s[s.endIndex...] }
    let last = s.lastIndex(where: { !isOWS($0) })!
    return s[first...last]
  }
}

extension String {
  /// Whether every UTF-8 byte satisfies `predicate`; reads native strings as one buffer.
  @inline(__always) func allBytes(_ predicate: (UInt8) -> Bool) -> Bool {
    utf8.withContiguousStorageIfAvailable { $0.allSatisfy(predicate) } ?? utf8.allSatisfy(predicate)
  }

  /// ASCII-only lowercasing: header tokens are ASCII, and Unicode case rules must not apply to them.
  func lowercasedASCII() -> String {
    String(decoding: utf8.map(HTTPHeaders.lowercase), as: UTF8.self)
  }
}
