import Foundation
import Testing

@testable import JSON

/// The encoder behind sealed job specs writes what Foundation's decoder reads back as the same value.
@Suite struct JSONValueEncoderTests {
  enum Target: Codable, Equatable {
    case http(url: String, expires: Date?)
    case s3(bucket: String, key: String)
    case none
  }

  struct Sample: Codable, Equatable {
    var name: String
    var count: Int
    var level: Double
    var on: Bool
    var missing: Double?
    var when: Date
    var targets: [Target]
    var tags: [String: Int]
    var nested: [[Int]]
    var body: JSONValue?
  }

  @Test func whatItWrites_decodesToTheSameValue() throws {
    let sample = Sample(
      name: "a \"b\"\n\u{01} é", count: -3, level: -1.5e-7, on: true, missing: nil,
      when: Date(timeIntervalSinceReferenceDate: 12345.678),
      targets: [
        .http(url: "https://h/x?y=1", expires: Date(timeIntervalSince1970: 1_900_000_000)), .s3(bucket: "b", key: "k"),
        .none,
      ],
      tags: ["x": 1, "y": 2], nested: [[1], [], [2, 3]],
      body: .object(["n": .double(1.5), "l": .array([true, .null])]))
    let bytes = try JSONValueEncoder().encode(sample).bytes
    #expect(try JSONDecoder().decode(Sample.self, from: Data(bytes)) == sample)
    #expect(!String(decoding: bytes, as: UTF8.self).contains("missing"), "nil optionals are left out")
  }

  @Test func aNonFiniteNumber_isRefused() {
    #expect(throws: EncodingError.self) { try JSONValueEncoder().encode([Double.infinity]) }
  }

  @Test(arguments: [
    #"{"b":[1,2.5,"x\u0001\"\\\n",null,true,false],"a":{"z":-0.25,"y":{}},"c":[]}"#, #""é😀""#, "12345678901234567890",
  ])
  func bytes_areTheDescriptionsText(_ text: String) throws {
    let value = try JSONValue.parse(Data(text.utf8))
    #expect(value.bytes == Array(value.description.utf8))
  }
}
