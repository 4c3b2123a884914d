/// Encodes an `Encodable` value into a `JSONValue`, the shapes Foundation's `JSONEncoder` writes with its
/// default strategies (dates as seconds since 2001, keys as declared, nil optionals left out), so
/// `JSONDecoder` reads the result back. Made for the job submission path: Foundation's encoder cost a
/// tenth of a submission's CPU under load (`Bench/SubmitBench`, BENCHMARKS.md); this one does no dynamic
/// casts and no bridging.
public struct JSONValueEncoder {
  public init() {}

  public func encode<T: Encodable>(_ value: T) throws -> JSONValue {
    let encoder = TreeEncoder(codingPath: [])
    try value.encode(to: encoder)
    return encoder.storage.value ?? .object([:])
  }
}

/// Where one value being encoded lands: filled once, by a container of the matching kind.
final class TreeSlot {
  enum Content {
    case empty
    case value(JSONValue)
    case object(TreeObject)
    case array(TreeArray)
  }

  var content = Content.empty

  /// The object this slot holds, made on first use (a type's `encode(to:)` may ask for its container twice).
  func object() -> TreeObject {
    if case .object(let object) = content { return object }
    let object = TreeObject()
    content = .object(object)
    return object
  }

  /// The array this slot holds, made on first use.
  func array() -> TreeArray {
    if case .array(let array) = content { return array }
    let array = TreeArray()
    content = .array(array)
    return array
  }

  var value: JSONValue? {
    switch content {
    case .empty: nil
    case .value(let value): value
    case .object(let object): object.value
    case .array(let array): array.value
    }
  }
}

final class TreeObject {
  var members: [(String, TreeSlot)] = []
  var value: JSONValue {
    var object: [String: JSONValue] = [:]
    object.reserveCapacity(members.count)
    for (key, slot) in members { object[key] = slot.value ?? .object([:]) }
    return .object(object)
  }
}

final class TreeArray {
  var items: [TreeSlot] = []
  var value: JSONValue { .array(items.map { $0.value ?? .object([:]) }) }
}

final class TreeEncoder: Encoder {
  let codingPath: [any CodingKey]
  let storage: TreeSlot
  var userInfo: [CodingUserInfoKey: Any] { [:] }

  init(codingPath: [any CodingKey], storage: TreeSlot = TreeSlot()) {
    self.codingPath = codingPath
    self.storage = storage
  }

  func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
    KeyedEncodingContainer(TreeKeyedContainer<Key>(codingPath: codingPath, object: storage.object()))
  }

  func unkeyedContainer() -> any UnkeyedEncodingContainer {
    TreeUnkeyedContainer(codingPath: codingPath, array: storage.array())
  }

  func singleValueContainer() -> any SingleValueEncodingContainer {
    TreeSingleValueContainer(codingPath: codingPath, slot: storage)
  }

  /// `value` as JSON, by its own `encode(to:)` (scalars end in a single-value container: no casts).
  static func encode<T: Encodable>(_ value: T, codingPath: [any CodingKey]) throws -> TreeSlot {
    let slot = TreeSlot()
    try value.encode(to: TreeEncoder(codingPath: codingPath, storage: slot))
    return slot
  }

  static func number(_ value: Double, _ codingPath: [any CodingKey]) throws -> JSONValue {
    guard value.isFinite else {
      throw EncodingError.invalidValue(
        value, .init(codingPath: codingPath, debugDescription: "JSON cannot hold \(value)"))
    }
    return .double(value)
  }
}

struct TreeKeyedContainer<Key: CodingKey>: KeyedEncodingContainerProtocol {
  let codingPath: [any CodingKey]
  let object: TreeObject

  mutating func encodeNil(forKey key: Key) throws { put(key, .null) }
  mutating func encode(_ value: Bool, forKey key: Key) throws { put(key, .bool(value)) }
  mutating func encode(_ value: String, forKey key: Key) throws { put(key, .string(value)) }
  mutating func encode(_ value: Int, forKey key: Key) throws { put(key, .int(value)) }
  mutating func encode(_ value: Double, forKey key: Key) throws {
    put(key, try TreeEncoder.number(value, codingPath + [key]))
  }

  mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
    object.members.append((key.stringValue, try TreeEncoder.encode(value, codingPath: codingPath + [key])))
  }

  mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type, forKey key: Key)
    -> KeyedEncodingContainer<NestedKey>
  {
    let nested = TreeObject()
    let slot = TreeSlot()
    slot.content = .object(nested)
    object.members.append((key.stringValue, slot))
    return KeyedEncodingContainer(TreeKeyedContainer<NestedKey>(codingPath: codingPath + [key], object: nested))
  }

  mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
    let nested = TreeArray()
    let slot = TreeSlot()
    slot.content = .array(nested)
    object.members.append((key.stringValue, slot))
    return TreeUnkeyedContainer(codingPath: codingPath + [key], array: nested)
  }

  mutating func superEncoder() -> any Encoder { superEncoder(named: "super") }
  mutating func superEncoder(forKey key: Key) -> any Encoder { superEncoder(named: key.stringValue) }

  private func superEncoder(named name: String) -> any Encoder {
    let slot = TreeSlot()
    object.members.append((name, slot))
    return TreeEncoder(codingPath: codingPath, storage: slot)
  }

  private func put(_ key: Key, _ value: JSONValue) {
    let slot = TreeSlot()
    slot.content = .value(value)
    object.members.append((key.stringValue, slot))
  }
}

struct TreeUnkeyedContainer: UnkeyedEncodingContainer {
  let codingPath: [any CodingKey]
  let array: TreeArray
  var count: Int { array.items.count }

  mutating func encodeNil() throws { put(.null) }
  mutating func encode(_ value: Bool) throws { put(.bool(value)) }
  mutating func encode(_ value: String) throws { put(.string(value)) }
  mutating func encode(_ value: Int) throws { put(.int(value)) }
  mutating func encode(_ value: Double) throws { put(try TreeEncoder.number(value, codingPath)) }

  mutating func encode<T: Encodable>(_ value: T) throws {
    array.items.append(try TreeEncoder.encode(value, codingPath: codingPath))
  }

  mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type)
    -> KeyedEncodingContainer<NestedKey>
  {
    let nested = TreeObject()
    let slot = TreeSlot()
    slot.content = .object(nested)
    array.items.append(slot)
    return KeyedEncodingContainer(TreeKeyedContainer<NestedKey>(codingPath: codingPath, object: nested))
  }

  mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer {
    let nested = TreeArray()
    let slot = TreeSlot()
    slot.content = .array(nested)
    array.items.append(slot)
    return TreeUnkeyedContainer(codingPath: codingPath, array: nested)
  }

  mutating func superEncoder() -> any Encoder {
    let slot = TreeSlot()
    array.items.append(slot)
    return TreeEncoder(codingPath: codingPath, storage: slot)
  }

  private func put(_ value: JSONValue) {
    let slot = TreeSlot()
    slot.content = .value(value)
    array.items.append(slot)
  }
}

struct TreeSingleValueContainer: SingleValueEncodingContainer {
  let codingPath: [any CodingKey]
  let slot: TreeSlot

  mutating func encodeNil() throws { slot.content = .value(.null) }
  mutating func encode(_ value: Bool) throws { slot.content = .value(.bool(value)) }
  mutating func encode(_ value: String) throws { slot.content = .value(.string(value)) }
  mutating func encode(_ value: Int) throws { slot.content = .value(.int(value)) }
  mutating func encode(_ value: Double) throws { slot.content = .value(try TreeEncoder.number(value, codingPath)) }

  mutating func encode<T: Encodable>(_ value: T) throws {
    slot.content = try TreeEncoder.encode(value, codingPath: codingPath).content
  }
}
