import Foundation
import HTTPServer
import JSON

extension Request {
  /// The body as a JSON object, read whatever `Content-Type` declares: Dolby's docs send JSON with
  /// `curl --data`, which declares `application/x-www-form-urlencoded`, and their clients must work unchanged.
  /// A body that is not JSON is a 400 that says where it stops being JSON when it was declared as JSON (or
  /// not declared), and a 415 when it was declared as something else (a real form, a file): then the type,
  /// not a typo, is what the client should change. JSON that is not an object is a 400.
  func jsonObjectBody() throws -> [String: JSONValue] {
    let json: JSONValue
    do {
      json = try JSONValue.parse(Data(body.bytes))
    } catch {
      // A key given twice is JSON all the same: the 400 names the key.
      guard error.duplicateKey == nil, let type = declaredNonJSONType else { throw error }
      throw HTTPError(
        .unsupportedMediaType,
        detail: "the body is not JSON (it was sent as \(type)); send the request as a JSON object")
    }
    guard case .object(let fields) = json else { throw HTTPError.badRequest("the body must be a JSON object") }
    return fields
  }

  /// The declared media type when there is one and it is not JSON (`application/json` or `+json`).
  private var declaredNonJSONType: String? {
    guard
      let type = headers["Content-Type"]?.split(separator: ";").first?.trimmingCharacters(in: .whitespaces)
        .lowercased(),
      !type.isEmpty, type != "application/json", !type.hasSuffix("+json")
    else { return nil }
    return type
  }
}
