import Foundation
import Problems

/// A JSON value, kept with its type (JSONSerialization would blur `true` and `1`).
public enum JSONValue: Sendable, Equatable, Codable, CustomStringConvertible {
  case null
  case bool(Bool)
  case int(Int)
  case double(Double)
  case string(String)
  case array([JSONValue])
  case object([String: JSONValue])

  public init(from decoder: any Decoder) throws {
    let container = try decoder.singleValueContainer()
    if container.decodeNil() {
      self = .null
    } else if let b = try? container.decode(Bool.self) {
      self = .bool(b)
    } else if let i = try? container.decode(Int.self) {
      self = .int(i)
    } else if let d = try? container.decode(Double.self) {
      self = .double(d)
    } else if let s = try? container.decode(String.self) {
      self = .string(s)
    } else if let a = try? container.decode([JSONValue].self) {
      self = .array(a)
    } else {
      self = .object(try container.decode([String: JSONValue].self))
    }
  }

  public func encode(to encoder: any Encoder) throws {
    var container = encoder.singleValueContainer()
    switch self {
    case .null: try container.encodeNil()
    case .bool(let b): try container.encode(b)
    case .int(let i): try container.encode(i)
    case .double(let d): try container.encode(d)
    case .string(let s): try container.encode(s)
    case .array(let a): try container.encode(a)
    case .object(let o): try container.encode(o)
    }
  }

  /// What to do with an object that names a key twice.
  public enum DuplicateKeys: Sendable {
    /// Refuse the text: the default, for anything a client or a config file sent.
    case refused
    /// Keep the last, for output of tools Ferry runs (ffprobe may repeat a tag).
    case lastWins
  }

  /// Why a text is not JSON, and where.
  /// Answered as 400 `/problems/invalid-request`.
  public struct ParseError: ProblemError, Sendable, Equatable, CustomStringConvertible {
    /// The byte offset where reading stopped.
    public var offset: Int
    public var reason: String
    /// The path of a key an object gave twice (`output.url`), when that was the fault.
    public var duplicateKey: String?

    public init(offset: Int, reason: String, duplicateKey: String? = nil) {
      self.offset = offset
      self.reason = reason
      self.duplicateKey = duplicateKey
    }

    public var description: String { "\(reason) (at byte \(offset))" }

    public var problem: Problem { .invalidRequest }

    public var detail: String {
      if let duplicateKey {
        return "\(duplicateKey) is given twice; give each field once (JSON readers disagree on which one counts)"
      }
      return "the body is not valid JSON: \(description)"
    }
  }

  /// Parses JSON text (RFC 8259, strictly: see `JSONParser`).
  public static func parse(_ data: Data, duplicateKeys: DuplicateKeys = .refused) throws(ParseError) -> JSONValue {
    var parser = JSONParser(Array(data), duplicateKeys: duplicateKeys)
    return try parser.parseDocument()
  }

  /// Compact JSON text with sorted keys.
  public var description: String {
    switch self {
    case .null: return "null"
    case .bool(let b): return b ? "true" : "false"
    case .int(let i): return String(i)
    case .double(let d): return d == d.rounded() && abs(d) < 1e15 ? String(Int(d)) : String(d)
    case .string(let s): return JSONValue.quoted(s)
    case .array(let a): return "[" + a.map(\.description).joined(separator: ",") + "]"
    case .object(let o):
      return "{"
        + o.keys.sorted().map { JSONValue.string($0).description + ":" + o[$0]!.description }.joined(separator: ",")
        + "}"
    }
  }

  /// `text` as a JSON string literal: quotes, backslashes and control characters escaped, the rest as is.
  static func quoted(_ text: String) -> String {
    var out: [UInt8] = []
    out.reserveCapacity(text.utf8.count + 2)
    appendQuoted(text, to: &out)
    return String(decoding: out, as: UTF8.self)
  }

  /// A short name of the value's JSON type, for messages (`a string`, `a number`).
  public var typeName: String {
    switch self {
    case .null: "null"
    case .bool: "a boolean"
    case .int, .double: "a number"
    case .string: "a string"
    case .array: "a list"
    case .object: "an object"
    }
  }
}

extension JSONValue {
  /// The value as a Double, if it is a number.
  public var number: Double? {
    switch self {
    case .int(let i): Double(i)
    case .double(let d): d
    default: nil
    }
  }

  /// The string, if the value is one.
  public var string: String? {
    if case .string(let s) = self { return s }
    return nil
  }

  /// The members, if the value is an object.
  public var object: [String: JSONValue]? {
    if case .object(let o) = self { return o }
    return nil
  }
}

extension JSONValue: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByBooleanLiteral,
  ExpressibleByFloatLiteral
{
  public init(stringLiteral value: String) { self = .string(value) }
  public init(integerLiteral value: Int) { self = .int(value) }
  public init(booleanLiteral value: Bool) { self = .bool(value) }
  public init(floatLiteral value: Double) { self = .double(value) }
}

extension JSONValue {
  /// Compact JSON bytes with sorted keys, the same text as `description`, written without building strings.
  public var bytes: [UInt8] {
    var out: [UInt8] = []
    out.reserveCapacity(256)
    write(to: &out)
    return out
  }

  private func write(to out: inout [UInt8]) {
    switch self {
    case .null: out += "null".utf8
    case .bool(let b): out += (b ? "true" : "false").utf8
    case .int(let i): out += String(i).utf8
    case .double: out += description.utf8
    case .string(let s): Self.appendQuoted(s, to: &out)
    case .array(let items):
      out.append(UInt8(ascii: "["))
      for (index, item) in items.enumerated() {
        if index > 0 { out.append(UInt8(ascii: ",")) }
        item.write(to: &out)
      }
      out.append(UInt8(ascii: "]"))
    case .object(let members):
      out.append(UInt8(ascii: "{"))
      for (index, key) in members.keys.sorted().enumerated() {
        if index > 0 { out.append(UInt8(ascii: ",")) }
        Self.appendQuoted(key, to: &out)
        out.append(UInt8(ascii: ":"))
        members[key]!.write(to: &out)
      }
      out.append(UInt8(ascii: "}"))
    }
  }

  /// `text` as a JSON string literal: quotes, backslashes and control characters escaped, the rest as is.
  static func appendQuoted(_ text: String, to out: inout [UInt8]) {
    let hex: StaticString = "0123456789abcdef"
    out.append(0x22)
    for byte in text.utf8 {
      switch byte {
      case 0x22: out += [0x5C, 0x22]
      case 0x5C: out += [0x5C, 0x5C]
      case 0x0A: out += [0x5C, 0x6E]
      case 0x0D: out += [0x5C, 0x72]
      case 0x09: out += [0x5C, 0x74]
      case 0x00..<0x20:
        out += [0x5C, 0x75, 0x30, 0x30]
        out.append(hex.utf8Start[Int(byte >> 4)])
        out.append(hex.utf8Start[Int(byte & 0x0F)])
      default: out.append(byte)
      }
    }
    out.append(0x22)
  }
}
