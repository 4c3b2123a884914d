import Foundation
import Testing

@testable import JSON

/// The strict reader: what Foundation's reader accepted it reads the same way, and it refuses what a hostile
/// body could use against a server (a key given twice, deep nesting, stray bytes).
@Suite struct JSONParserTests {
  func parse(_ text: String) throws -> JSONValue { try JSONValue.parse(Data(text.utf8)) }

  func refusal(_ text: String) -> JSONValue.ParseError? {
    do {
      _ = try JSONValue.parse(Data(text.utf8))
      return nil
    } catch {
      return error
    }
  }

  @Test(arguments: [
    #"{}"#, #"[]"#, #"null"#, #"true"#, #"false"#, #"0"#, #"-0"#, #"1.0"#, #"1e2"#, #"1E+2"#, #"-3e-2"#, #"0.1"#,
    #"123456789012"#, #"9223372036854775807"#, #"-9223372036854775808"#, #"12345678901234567890"#, #"1e20"#,
    #"2.5e300"#, #"-0.0"#, #""\u00e9\ud83d\ude00 \"\\\/\b\f\n\r\t""#, #"" é 😀 ""#,
    " \r\n\t{ \"a\" : [ 1 , { \"b\" : null } ] , \"c\" : \"d\" } ",
    #"{"input": {"url": "s3://b/k", "auth": {"key": "AK", "secret": "s"}}, "n": [1, 2.5, -7, true]}"#,
  ])
  func readsValidJSON_asFoundationsReaderDid(_ text: String) throws {
    let foundation = try JSONDecoder().decode(JSONValue.self, from: Data(text.utf8))
    #expect(try parse(text) == foundation)
  }

  @Test func numbers_keepTheirKinds() throws {
    #expect(try parse("7") == .int(7) && parse("7.0") == .int(7) && parse("7.5") == .double(7.5))
    #expect(try parse("12345678901234567890") == .double(12345678901234567890))
    #expect(refusal("[1e400]")?.reason == "a number out of range")
  }

  @Test func aKeyGivenTwice_isRefused_namingItsPath() throws {
    let error = refusal(#"{"output": {"url": "https://a/x", "url": "https://b/y"}}"#)
    #expect(error?.duplicateKey == "output.url")
    #expect(error?.detail.hasPrefix("output.url is given twice") == true)
    #expect(refusal(#"{"outputs": [{"id": "a", "id": "b"}]}"#)?.duplicateKey == "outputs[0].id")
    #expect(refusal(#"{"a": 1, "a": 1}"#)?.duplicateKey == "a")
    #expect(
      try JSONValue.parse(Data(#"{"tags": {"k": 1, "k": 2}}"#.utf8), duplicateKeys: .lastWins)
        == .object(["tags": .object(["k": .int(2)])]))
  }

  @Test(arguments: [
    "", " ", "{", "[1,]", "{\"a\":1,}", "{a: 1}", "'a'", "01", "1.", ".5", "1e", "+1", "tru", "nul", "[1] 2",
    "\"\u{01}\"", #""\x""#, #""\u12""#, #""\ud800""#, #""\udc00""#, #""\ud800\u0041""#, "NaN", "Infinity", "1e400",
    "{\"a\" 1}", "[1 2]", "\"abc",
  ])
  func refusesWhatIsNotJSON(_ text: String) {
    #expect(refusal(text) != nil, "\(text.debugDescription) was read")
  }

  @Test func invalidUTF8_andDeepNesting_areRefused() {
    #expect(throws: JSONValue.ParseError.self) { try JSONValue.parse(Data([0x22, 0xC0, 0xAF, 0x22])) }
    #expect(throws: JSONValue.ParseError.self) { try JSONValue.parse(Data([0x22, 0xED, 0xA0, 0x80, 0x22])) }
    let deep = String(repeating: "[", count: 200) + String(repeating: "]", count: 200)
    #expect(refusal(deep)?.reason.contains("nested deeper") == true)
    let fine = String(repeating: "[", count: 100) + String(repeating: "]", count: 100)
    #expect(refusal(fine) == nil)
  }

  @Test func aByteOrderMark_isTolerated() throws {
    #expect(try JSONValue.parse(Data([0xEF, 0xBB, 0xBF] + Array("{}".utf8))) == .object([:]))
  }
}
