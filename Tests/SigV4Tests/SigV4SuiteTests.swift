import Crypto
import Foundation
import Testing

@testable import SigV4

/// One case of AWS's SigV4 test suite (`aws-signing-test-suite/v4`, from aws-c-auth, Apache-2.0; see its
/// NOTICE and SOURCE.txt), checked in and copied into this target's resource bundle.
struct SuiteCase: CustomStringConvertible, Sendable {
  let name: String
  let directory: String
  var description: String { name }

  static let root =
    (Bundle.module.url(forResource: "aws-signing-test-suite", withExtension: nil)?.appendingPathComponent("v4").path)
    ?? "aws-signing-test-suite is not in \(Bundle.module.bundlePath)"

  // A missing directory yields no cases; `theWholeSuiteIsCheckedIn` fails then rather than passing on nothing.
  static let all: [SuiteCase] = {
    let names = (try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []
    return names.sorted().map { SuiteCase(name: $0, directory: root + "/" + $0) }
  }()

  func file(_ name: String) throws -> String {
    let text = try String(contentsOfFile: directory + "/" + name, encoding: .utf8)
    return text.hasSuffix("\n") ? String(text.dropLast()) : text
  }

  /// The request in `request.txt`, its path and query decoded, and its body.
  func request() throws -> (SignableRequest, [UInt8]) {
    let text = try String(contentsOfFile: directory + "/request.txt", encoding: .utf8)
    let (head, body) =
      text.range(of: "\n\n").map { (String(text[..<$0.lowerBound]), String(text[$0.upperBound...])) } ?? (text, "")
    var lines = head.components(separatedBy: "\n")
    let requestLine = lines.removeFirst()
    let firstSpace = requestLine.firstIndex(of: " ")!
    let lastSpace = requestLine.range(of: " HTTP/", options: .backwards)!.lowerBound
    let method = String(requestLine[..<firstSpace])
    let target = String(requestLine[requestLine.index(after: firstSpace)..<lastSpace])
    let parts = target.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
    let query =
      parts.count > 1 && !parts[1].isEmpty
      ? parts[1].split(separator: "&").map { item -> SignableRequest.QueryItem in
        let kv = item.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
        return .init(decode(kv[0]), kv.count > 1 ? decode(kv[1]) : "")
      } : []
    var headers: [SignableRequest.HeaderField] = []
    for line in lines where !line.isEmpty {
      if line.first == " " || line.first == "\t" {
        headers[headers.count - 1].value += "\n" + line
      } else if let colon = line.firstIndex(of: ":") {
        headers.append(.init(String(line[..<colon]), String(line[line.index(after: colon)...])))
      }
    }
    return (SignableRequest(method: method, path: decode(parts[0]), query: query, headers: headers), Array(body.utf8))
  }

  func context() throws -> [String: Any] {
    try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: directory + "/context.json")))
      as! [String: Any]
  }

  private func decode(_ s: Substring) -> String { s.removingPercentEncoding ?? String(s) }
}

@Suite struct SigV4SuiteTests {
  @Test(arguments: SuiteCase.all)
  func matchesAWSSuite(_ testCase: SuiteCase) throws {
    let context = try testCase.context()
    let credentials = context["credentials"] as! [String: Any]
    let signer = SigV4Signer(
      credentials: AWSCredentials(
        accessKeyID: credentials["access_key_id"] as! String,
        secretAccessKey: credentials["secret_access_key"] as! String,
        sessionToken: credentials["token"] as? String),
      region: context["region"] as! String, service: context["service"] as! String,
      normalizesPath: context["normalize"] as! Bool,
      signsSessionToken: !(context["omit_session_token"] as? Bool ?? false))
    let date = ISO8601DateFormatter().date(from: context["timestamp"] as! String)!
    let (request, body) = try testCase.request()
    let payload = PayloadHash.sha256(Hex.encode(SHA256.hash(body)))

    let header = signer.sign(request, payload: payload, date: date, contentHashHeader: context["sign_body"] as! Bool)
    #expect(header.canonicalRequest == (try testCase.file("header-canonical-request.txt")))
    #expect(header.stringToSign == (try testCase.file("header-string-to-sign.txt")))
    #expect(header.signature == (try testCase.file("header-signature.txt")))

    let query = signer.presign(request, expires: context["expiration_in_seconds"] as! Int, payload: payload, date: date)
    #expect(query.canonicalRequest == (try testCase.file("query-canonical-request.txt")))
    #expect(query.stringToSign == (try testCase.file("query-string-to-sign.txt")))
    #expect(query.signature == (try testCase.file("query-signature.txt")))
  }

  @Test func theWholeSuiteIsCheckedIn() {
    #expect(SuiteCase.all.count >= 30, "\(SuiteCase.root) holds \(SuiteCase.all.count) cases")
  }
}
