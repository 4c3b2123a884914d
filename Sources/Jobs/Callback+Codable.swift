import Foundation
import JSON

extension Callback: Codable {
  // Stored shape: `{"url", "headers": [{"name", "value"?}], "body"?}`; a header without a value is one Ferry
  // fills in (`x-job-id`). Written and read only inside a job's sealed request.
  private enum CodingKeys: String, CodingKey { case url, headers, body }
  private struct Header: Codable {
    var name: String
    var value: String?
  }

  public init(from decoder: any Decoder) throws {
    let container = try decoder.container(keyedBy: CodingKeys.self)
    url = try container.decode(String.self, forKey: .url)
    headers = try container.decode([Header].self, forKey: .headers).map { header in
      (header.name, header.value.map(Value.text) ?? .jobID)
    }
    body = try container.decodeIfPresent(JSONValue.self, forKey: .body)
  }

  public func encode(to encoder: any Encoder) throws {
    var container = encoder.container(keyedBy: CodingKeys.self)
    try container.encode(url, forKey: .url)
    try container.encode(
      headers.map { header -> Header in
        if case .text(let value) = header.value { return Header(name: header.name, value: value) }
        return Header(name: header.name, value: nil)
      }, forKey: .headers)
    try container.encodeIfPresent(body, forKey: .body)
  }
}

extension Callback {
  /// A registered webhook's callback as its registration seals it: the stored-request header, then this
  /// value's JSON, so a delivery reads back exactly what was checked.
  public func storedBytes() throws -> [UInt8] {
    StoredRequestFormat.header + (try JSONValueEncoder().encode(self).bytes)
  }

  /// A registered webhook's callback from its sealed bytes. Registrations made by 0.1.0 hold the client's JSON
  /// (checked when registered); they are read with the same rules.
  public init(storedBytes bytes: [UInt8]) throws {
    if let json = try StoredRequestFormat.typedJSON(bytes) {
      self = try StoredRequestFormat.decoder.decode(Callback.self, from: json)
    } else {
      self = try Callback.parse(try JSONValue.parse(Data(bytes)), field: "callback", allowBody: false)
    }
  }
}
