import Foundation

extension UUID {
  /// The canonical lowercase form (`f47ac10b-58cc-4372-a567-0e02b2c3d479`), as Ferry writes job ids
  /// everywhere. Written by hand: Foundation's `uuidString` goes through `sprintf` and UTF-16, which showed in
  /// status-lookup profiles.
  public var text: String {
    let digits: [UInt8] = Array("0123456789abcdef".utf8)
    return withUnsafeBytes(of: uuid) { raw in
      String(unsafeUninitializedCapacity: 36) { out in
        var position = 0
        for (index, byte) in raw.enumerated() {
          if index == 4 || index == 6 || index == 8 || index == 10 {
            out[position] = UInt8(ascii: "-")
            position += 1
          }
          out[position] = digits[Int(byte >> 4)]
          out[position + 1] = digits[Int(byte & 0x0F)]
          position += 2
        }
        return position
      }
    }
  }

  /// Parses the canonical form (either case); nil for anything else. (Foundation's parser uses `sscanf`.)
  public init?(text: some StringProtocol) {
    let utf8 = Array(text.utf8)
    guard utf8.count == 36, utf8[8] == 0x2D, utf8[13] == 0x2D, utf8[18] == 0x2D, utf8[23] == 0x2D else { return nil }
    var bytes = [UInt8](repeating: 0, count: 16)
    var index = 0
    var i = 0
    while i < 36 {
      if i == 8 || i == 13 || i == 18 || i == 23 {
        i += 1
        continue
      }
      guard let high = Self.hexValue(utf8[i]), let low = Self.hexValue(utf8[i + 1]) else { return nil }
      bytes[index] = high << 4 | low
      index += 1
      i += 2
    }
    self.init(
      uuid: (
        bytes[0], bytes[1], bytes[2], bytes[3], bytes[4], bytes[5], bytes[6], bytes[7], bytes[8], bytes[9], bytes[10],
        bytes[11], bytes[12], bytes[13], bytes[14], bytes[15]
      ))
  }

  private static func hexValue(_ c: UInt8) -> UInt8? {
    switch c {
    case 0x30...0x39: c - 0x30
    case 0x61...0x66: c - 0x57
    case 0x41...0x46: c - 0x37
    default: nil
    }
  }
}
