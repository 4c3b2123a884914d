import Foundation

/// Renders URLs for logs, errors and job listings without what would let a reader use them: user-info
/// is removed and the values of signature, credential and token parameters are replaced.
public enum Redaction {
  /// Query parameters whose values are secrets or lead to them (compared lowercased).
  static let sensitiveParameters: Set<String> = [
    "x-amz-signature", "x-amz-credential", "x-amz-security-token", "signature", "awsaccesskeyid",
    "x-goog-signature", "x-goog-credential", "googleaccessid", "sig", "token", "access_token", "id_token",
    "refresh_token", "api_key", "apikey", "x-api-key", "secret", "client_secret", "password", "passwd", "key",
  ]

  /// The replacement for a removed value.
  public static let mask = "REDACTED"

  /// `url` with user-info removed, secret query values masked and any fragment dropped. Works on any text
  /// shaped like a URL, including malformed ones: it never fails, and never returns the secret parts.
  public static func url(_ url: String) -> String {
    var text = Substring(url)
    if let hash = text.firstIndex(of: "#") { text = text[..<hash] }
    var result = ""
    var rest = text
    if let scheme = rest.range(of: "://") {
      result += rest[..<scheme.upperBound]
      rest = rest[scheme.upperBound...]
      // Anything up to an "@" before the query may be user-info, even in malformed URLs (`https:///u:p@h`):
      // drop it all rather than guess where the authority really ends.
      let queryStart = rest.firstIndex(of: "?") ?? rest.endIndex
      if let at = rest[..<queryStart].lastIndex(of: "@") { rest = rest[rest.index(after: at)...] }
    }
    guard let question = rest.firstIndex(of: "?") else { return result + rest }
    result += rest[...question]
    let pairs = rest[rest.index(after: question)...].split(separator: "&", omittingEmptySubsequences: false)
    result += pairs.map { pair -> String in
      let kv = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
      let name = (kv[0].removingPercentEncoding ?? String(kv[0])).lowercased()
      guard kv.count > 1, sensitiveParameters.contains(name) else { return String(pair) }
      return "\(kv[0])=\(mask)"
    }.joined(separator: "&")
    return result
  }
}
