import Crypto
import Foundation

extension UUID {
  /// The canonical lowercase form (`f47ac10b-58cc-4372-a567-0e02b2c3d479`), as Ferry writes job ids
  /// everywhere. Written by hand: Foundation's `uuidString` goes through `sprintf` and UTF-16, which showed in
  /// status-lookup profiles.
  public var text: String {
    withUnsafeBytes(of: uuid) { raw in
      String(unsafeUninitializedCapacity: 36) { out in
        var position = 0
        for (index, byte) in raw.enumerated() {
          if index == 4 || index == 6 || index == 8 || index == 10 {
            out[position] = UInt8(ascii: "-")
            position += 1
          }
          out[position] = Self.hexDigit(byte >> 4)
          out[position + 1] = Self.hexDigit(byte & 0x0F)
          position += 2
        }
        return position
      }
    }
  }

  /// Parses the canonical form (either case); nil for anything else. (Foundation's parser uses `sscanf`.)
  public init?(text: some StringProtocol) {
    var string = String(text)
    guard let uuid = string.withUTF8({ Self.parse($0) }) else { return nil }
    self.init(uuid: uuid)
  }

  /// The 16 bytes of a canonical UUID text, or nil. Concrete and index-based: a generic walk over a string's
  /// view (with `enumerated()`) instantiated type metadata on every call, a quarter of a status lookup.
  private static func parse(_ text: UnsafeBufferPointer<UInt8>) -> uuid_t? {
    guard text.count == 36 else { return nil }
    var uuid: uuid_t = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
    let parsed = withUnsafeMutableBytes(of: &uuid) { bytes -> Bool in
      var index = 0
      var i = 0
      while i < 36 {
        if i == 8 || i == 13 || i == 18 || i == 23 {
          guard text[i] == 0x2D else { return false }
          i += 1
          continue
        }
        guard let high = Hex.value(ofDigit: text[i]), let low = Hex.value(ofDigit: text[i + 1]) else { return false }
        bytes[index] = high << 4 | low
        index += 1
        i += 2
      }
      return true
    }
    return parsed ? uuid : nil
  }

  @inline(__always)
  private static func hexDigit(_ value: UInt8) -> UInt8 {
    value < 10 ? 0x30 + value : 0x57 + value
  }
}
