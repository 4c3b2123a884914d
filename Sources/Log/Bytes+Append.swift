/// Building byte buffers (log lines, HTTP answers) without intermediate Strings.
extension Array where Element == UInt8 {
  /// Appends the UTF-8 bytes of `text` with one copy (the generic `append(contentsOf:)` walks the view).
  @inline(__always)
  public mutating func appendUTF8(_ text: String) {
    if text.utf8.withContiguousStorageIfAvailable({ append(contentsOf: $0) }) == nil {
      append(contentsOf: text.utf8)
    }
  }

  /// Appends `value` in decimal without building a String.
  @inlinable public mutating func appendDecimal(_ value: Int) {
    guard value > 0 else {
      append(value == 0 ? UInt8(ascii: "0") : UInt8(ascii: "-"))
      if value < 0 { appendUTF8(String(-value)) }
      return
    }
    var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)  // room for 24 digits
    var count = 0
    var v = value
    Swift.withUnsafeMutableBytes(of: &digits) { raw in
      while v > 0 {
        raw[23 - count] = UInt8(ascii: "0") + UInt8(v % 10)
        v /= 10
        count += 1
      }
      append(contentsOf: raw[(24 - count)...])
    }
  }
}
