import Foundation
import JSON
import SigV4

/// Reads `input`, `output`, `inputs[].source` and `outputs[].destination`: a URL string, or
/// `{"url", "auth"}` with auth `{"key", "secret", "token"?, "region"?}` (s3://) or `{"username", "password"}`
/// (http and https). Every refusal names the field. Secrets are never repeated in a message, and neither is a
/// URL that could carry one.
public struct LocationParser: Sendable {
  /// Longest URL accepted, in bytes.
  public static let maxURLBytes = 8192
  /// Longest S3 key (S3's own limit) and dlb key, in bytes.
  public static let maxKeyBytes = 1024

  /// Object members besides `url` and `auth` that the caller reads itself (enhance inputs carry `region`,
  /// a time range).
  public var extraFields: Set<String>

  public init(extraFields: Set<String> = []) {
    self.extraFields = extraFields
  }

  /// Parses the location at `field` (`input`, `outputs[0].destination`).
  public func parse(_ value: JSONValue?, field: String) throws(LocationError) -> Location {
    switch value {
    case nil, .null?:
      throw LocationError(field, "is required")
    case .string(let text)?:
      return Location(target: try Self.target(text, field: field, hasAuth: false))
    case .object(let members)?:
      for name in members.keys.sorted() where name != "url" && name != "auth" && !extraFields.contains(name) {
        throw LocationError("\(field).\(name)", "unknown field")
      }
      guard let urlValue = members["url"] else { throw LocationError("\(field).url", "is required") }
      guard case .string(let text) = urlValue else {
        throw LocationError("\(field).url", "must be a string, got \(urlValue.typeName)")
      }
      let auth = try members["auth"].map { v throws(LocationError) in try Self.auth(v, field: "\(field).auth") }
      let target = try Self.target(text, field: "\(field).url", hasAuth: auth != nil)
      try Self.check(auth, fits: target, field: "\(field).auth")
      return Location(target: target, auth: auth)
    case let other?:
      throw LocationError(field, "must be a URL string or an object with \"url\", got \(other.typeName)")
    }
  }

  /// The target `text` names. With `folder`, an `s3://` or `dlb://` URL names a folder: its key is a prefix,
  /// empty (`s3://bucket/`, `dlb://`) or ending in `/`; http(s) URLs are returned as they are, for the caller
  /// to refuse with its reason.
  static func target(_ text: String, field: String, hasAuth: Bool, folder: Bool = false) throws(LocationError)
    -> Location.Target
  {
    guard !text.isEmpty else { throw LocationError(field, "is required") }
    guard let colon = text.firstIndex(of: ":") else {
      throw LocationError(field, "is not a URL (expected https://, s3:// or dlb://)")
    }
    let scheme = text[..<colon].lowercased()
    let rest = text[text.index(after: colon)...]
    switch scheme {
    case "http", "https":
      return try http(text, scheme: scheme, rest: rest, field: field)
    case "s3":
      let expected = folder ? "expected s3://bucket/prefix/" : "expected s3://bucket/key"
      guard rest.hasPrefix("//") else { throw LocationError(field, expected) }
      let body = rest.dropFirst(2)
      let slash = body.firstIndex(of: "/")
      guard slash != nil || folder else { throw LocationError(field, expected) }
      let bucket = String(body[..<(slash ?? body.endIndex)])
      let key = slash.map { String(body[body.index(after: $0)...]) } ?? ""
      try checkBucket(bucket, field: field)
      if folder {
        try checkPrefix(key, field: field, scheme: "s3") { (k) throws(LocationError) in
          try checkKey(k, field: field, label: "the prefix")
        }
      } else {
        try checkKey(key, field: field, label: "the object key")
      }
      return .s3(bucket: bucket, key: key)
    case "dlb":
      guard rest.hasPrefix("//") else {
        throw LocationError(field, folder ? "expected dlb://prefix/" : "expected dlb://key")
      }
      let key = String(rest.dropFirst(2))
      if folder {
        try checkPrefix(key, field: field, scheme: "dlb") { (k) throws(LocationError) in
          try checkDLBKey(k, field: field)
        }
      } else {
        try checkDLBKey(key, field: field)
      }
      return .dlb(key: key)
    default:
      // The scheme is safe to repeat; the rest of the URL is not.
      let shown =
        scheme.count <= 16 && scheme.allSatisfy({ $0.isLetter || $0.isNumber || "+-.".contains($0) })
        ? "\"\(scheme)\"" : "in this URL"
      throw LocationError(field, "unsupported scheme \(shown); use http, https, s3 or dlb")
    }
  }

  private static func http(_ text: String, scheme: String, rest: Substring, field: String) throws(LocationError)
    -> Location.Target
  {
    guard text.utf8.count <= maxURLBytes else {
      throw LocationError(field, "the URL is longer than \(maxURLBytes) bytes")
    }
    guard text.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else {
      throw LocationError(field, "URLs must be ASCII without spaces; percent-encode other characters")
    }
    guard rest.hasPrefix("//") else { throw LocationError(field, "expected \(scheme)://host/path") }
    let afterSlashes = rest.dropFirst(2)
    let authority = afterSlashes[..<(afterSlashes.firstIndex(where: { "/?#".contains($0) }) ?? afterSlashes.endIndex)]
    guard !authority.contains("@") else {
      throw LocationError(
        field, "user-info in the URL is not accepted; pass {\"url\", \"auth\": {\"username\", \"password\"}}")
    }
    // Unparsable input is never echoed: it could hold credentials in a shape no redaction foresees.
    guard let components = URLComponents(string: text), let host = components.host, !host.isEmpty else {
      throw LocationError(field, "is not a valid URL")
    }
    guard components.fragment == nil else {
      throw LocationError(field, "a URL fragment (#...) is never sent to the server; remove it")
    }
    let query = text.firstIndex(of: "?").map { text[text.index(after: $0)...] } ?? ""
    return .http(url: text, presigned: try PresignedURL.detect(query: query, field: field))
  }

  static func auth(_ value: JSONValue, field: String) throws(LocationError) -> Location.Auth {
    guard case .object(let members) = value else {
      throw LocationError(field, "must be an object, got \(value.typeName)")
    }
    func string(_ name: String, required: Bool) throws(LocationError) -> String? {
      guard let member = members[name], member != .null else {
        if required { throw LocationError("\(field).\(name)", "is required") }
        return nil
      }
      guard case .string(let s) = member, !s.isEmpty else {
        throw LocationError("\(field).\(name)", "must be a non-empty string")
      }
      return s
    }
    let awsFields: Set<String> = ["key", "secret", "token", "region"]
    let basicFields: Set<String> = ["username", "password"]
    for name in members.keys.sorted() where !awsFields.contains(name) && !basicFields.contains(name) {
      throw LocationError("\(field).\(name)", "unknown field")
    }
    let usesAWS = !awsFields.isDisjoint(with: members.keys)
    let usesBasic = !basicFields.isDisjoint(with: members.keys)
    if usesAWS && usesBasic {
      throw LocationError(field, "use either key and secret (s3://) or username and password (http, https), not both")
    }
    if usesBasic {
      return .basic(
        username: try string("username", required: true)!, password: try string("password", required: true)!)
    }
    guard usesAWS else { throw LocationError(field, "needs key and secret, or username and password") }
    let region = try string("region", required: false)
    if let region, !region.allSatisfy({ $0.isASCII && ($0.isLowercase || $0.isNumber || $0 == "-") }) {
      throw LocationError("\(field).region", "is not an AWS region name")
    }
    return .aws(
      AWSCredentials(
        accessKeyID: try string("key", required: true)!, secretAccessKey: try string("secret", required: true)!,
        sessionToken: try string("token", required: false)),
      region: region)
  }

  private static func check(_ auth: Location.Auth?, fits target: Location.Target, field: String) throws(LocationError) {
    switch (auth, target) {
    case (nil, _), (.aws?, .s3), (.basic?, .http):
      return
    case (.aws?, .http):
      throw LocationError(
        field, "key and secret go with s3:// URLs; for http(s) use username and password, or a pre-signed URL")
    case (.basic?, .s3):
      throw LocationError(field, "username and password go with http(s) URLs; s3:// URLs take key and secret")
    case (_?, .dlb):
      throw LocationError(field, "dlb:// locations take no credentials")
    }
  }

  /// S3's bucket naming rules (3-63 of `a-z 0-9 . -`, starting and ending with a letter or digit).
  static func checkBucket(_ bucket: String, field: String) throws(LocationError) {
    let bytes = Array(bucket.utf8)
    let allowed = bytes.allSatisfy {
      ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x2E || $0 == 0x2D
    }
    let alnum: (UInt8) -> Bool = { ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x30 && $0 <= 0x39) }
    guard (3...63).contains(bytes.count), allowed, alnum(bytes.first!), alnum(bytes.last!), !bucket.contains("..")
    else {
      throw LocationError(field, "the bucket is not a valid S3 bucket name (3-63 of a-z, 0-9, \".\" and \"-\")")
    }
  }

  static func checkKey(_ key: String, field: String, label: String) throws(LocationError) {
    guard !key.isEmpty else { throw LocationError(field, "\(label) is empty") }
    guard key.utf8.count <= maxKeyBytes else {
      throw LocationError(field, "\(label) is longer than \(maxKeyBytes) bytes")
    }
    guard !key.utf8.contains(where: { $0 < 0x20 || $0 == 0x7F }) else {
      throw LocationError(field, "\(label) contains control characters")
    }
  }

  /// A folder's prefix: empty, or a key (checked by `check` without its last `/`) that ends in `/`, so that
  /// the names written under it cannot run into the last segment (`talk` + `index.m3u8`).
  static func checkPrefix(
    _ prefix: String, field: String, scheme: String, _ check: (String) throws(LocationError) -> Void
  ) throws(LocationError) {
    guard !prefix.isEmpty else { return }
    guard prefix.hasSuffix("/") else {
      throw LocationError(field, "names a folder, so it must end with / (\(scheme)://.../folder/)")
    }
    try check(String(prefix.dropLast()))
  }

  /// DESIGN's rules: literal, at most 1024 bytes, non-empty segments that are not `.` or `..`, no leading `/`,
  /// no NUL or control characters.
  static func checkDLBKey(_ key: String, field: String) throws(LocationError) {
    try checkKey(key, field: field, label: "the dlb:// key")
    guard !key.hasPrefix("/") else { throw LocationError(field, "the dlb:// key must not start with /") }
    for segment in key.split(separator: "/", omittingEmptySubsequences: false) {
      guard !segment.isEmpty, segment != ".", segment != ".." else {
        throw LocationError(field, "the dlb:// key has an empty, \".\" or \"..\" path segment")
      }
    }
  }
}
