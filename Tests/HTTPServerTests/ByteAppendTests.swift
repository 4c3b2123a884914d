import Log
import Testing

@Suite struct ByteAppendTests {
  @Test(arguments: [0, 1, 9, 10, 99, 100, 33, 1_048_576, 2_147_483_648, Int.max, -1, -250])
  func decimalDigitsMatchStringConversion(_ value: Int) {
    var out: [UInt8] = [UInt8(ascii: "x")]
    out.appendDecimal(value)
    #expect(String(decoding: out, as: UTF8.self) == "x" + String(value))
  }

  @Test func utf8AppendCopiesNativeAndBridgedStrings() {
    var out: [UInt8] = []
    out.appendUTF8("café")
    out.appendUTF8(String(repeating: "é", count: 40))
    #expect(String(decoding: out, as: UTF8.self) == "café" + String(repeating: "é", count: 40))
  }
}
