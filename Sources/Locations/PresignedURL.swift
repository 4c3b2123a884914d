import Foundation

/// What a pre-signed URL's query says about it: which scheme signed it, when it expires, and which headers
/// besides `Host` the signature covers (they must be sent with exactly the signed values).
public struct PresignedURL: Sendable, Equatable, Codable {
  /// The signing scheme.
  public enum Scheme: String, Sendable, Equatable, Codable {
    /// AWS Signature V4 (`X-Amz-Date` + `X-Amz-Expires`), also used by S3-compatible stores.
    case awsV4 = "AWS SigV4"
    /// AWS Signature V2 and GCS V2 (`Expires`, seconds since the epoch).
    case awsV2 = "AWS SigV2"
    /// Google Cloud Storage V4 (`X-Goog-Date` + `X-Goog-Expires`).
    case gcsV4 = "GCS V4"
    /// Azure shared access signature (`se=`).
    case azureSAS = "Azure SAS"
  }

  /// When the URL stops working.
  public struct Expiry: Sendable, Equatable, Codable {
    public var date: Date
    public var scheme: Scheme
  }

  public var expiry: Expiry
  /// Lowercased names of signed headers other than `host`.
  public var signedHeaders: [String]

  public var scheme: Scheme { expiry.scheme }

  /// Reads the query of an http(s) URL (the part after `?`, still encoded); nil when no known signature is
  /// there, so the URL is treated as public. A signature with a missing or malformed expiry is an error.
  public static func detect(query: Substring, field: String) throws(LocationError) -> PresignedURL? {
    var items: [String: String] = [:]
    for pair in query.split(separator: "&") {
      let kv = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
      let name = decode(kv[0]).lowercased()
      if items[name] == nil { items[name] = kv.count > 1 ? decode(kv[1]) : "" }
    }
    func required(_ name: String, _ what: String) throws(LocationError) -> String {
      guard let value = items[name.lowercased()], !value.isEmpty else {
        throw LocationError(field, "a pre-signed URL signed with \(what) needs \(name)")
      }
      return value
    }
    func signedHeaders(_ name: String) -> [String] {
      (items[name] ?? "").split(separator: ";").map { $0.lowercased() }.filter { $0 != "host" && !$0.isEmpty }
    }

    // AWS SigV4 and GCS V4 differ only in their parameters' prefix.
    for (prefix, scheme) in [("X-Amz", Scheme.awsV4), ("X-Goog", Scheme.gcsV4)]
    where items["\(prefix.lowercased())-algorithm"] != nil || items["\(prefix.lowercased())-signature"] != nil {
      let start = try stamp(required("\(prefix)-Date", scheme.rawValue), "\(prefix)-Date", field)
      let seconds = try duration(required("\(prefix)-Expires", scheme.rawValue), "\(prefix)-Expires", field)
      return PresignedURL(
        expiry: Expiry(date: start.addingTimeInterval(seconds), scheme: scheme),
        signedHeaders: signedHeaders("\(prefix.lowercased())-signedheaders"))
    }
    if items["signature"] != nil,
      items["awsaccesskeyid"] != nil || items["googleaccessid"] != nil || items["expires"] != nil
    {
      let epoch = try duration(required("Expires", "AWS SigV2"), "Expires", field)
      return PresignedURL(expiry: Expiry(date: Date(timeIntervalSince1970: epoch), scheme: .awsV2), signedHeaders: [])
    }
    if items["sig"] != nil {
      let text = try required("se", "an Azure SAS")
      guard let end = azureTime(text) else {
        throw LocationError(field, "se=\"\(text)\" is not an ISO 8601 UTC time")
      }
      return PresignedURL(expiry: Expiry(date: end, scheme: .azureSAS), signedHeaders: [])
    }
    return nil
  }

  /// `20150830T123600Z`
  static func stamp(_ text: String, _ name: String, _ field: String) throws(LocationError) -> Date {
    let digits = Array(text.utf8)
    guard digits.count == 16, digits[8] == UInt8(ascii: "T"), digits[15] == UInt8(ascii: "Z"),
      let date = utc(
        year: number(digits[0..<4]), month: number(digits[4..<6]), day: number(digits[6..<8]),
        hour: number(digits[9..<11]), minute: number(digits[11..<13]), second: number(digits[13..<15]))
    else { throw LocationError(field, "\(name)=\"\(text)\" is not a time like 20150830T123600Z") }
    return date
  }

  static func duration(_ text: String, _ name: String, _ field: String) throws(LocationError) -> TimeInterval {
    guard !text.isEmpty, text.utf8.count <= 12, text.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }), let n = Int(text)
    else { throw LocationError(field, "\(name)=\"\(text)\" is not a whole number of seconds") }
    return TimeInterval(n)
  }

  /// Azure's forms: `2026-11-29`, `2026-11-29T08:00Z`, `2026-11-29T08:00:00Z`, `2026-11-29T08:00:00.1234567Z`.
  static func azureTime(_ text: String) -> Date? {
    let b = Array(text.utf8)
    guard b.count >= 10, b[4] == UInt8(ascii: "-"), b[7] == UInt8(ascii: "-") else { return nil }
    let (year, month, day) = (number(b[0..<4]), number(b[5..<7]), number(b[8..<10]))
    if b.count == 10 { return utc(year: year, month: month, day: day, hour: 0, minute: 0, second: 0) }
    guard b.count >= 17, b[10] == UInt8(ascii: "T"), b[13] == UInt8(ascii: ":"), b.last == UInt8(ascii: "Z") else {
      return nil
    }
    let (hour, minute) = (number(b[11..<13]), number(b[14..<16]))
    if b.count == 17 { return utc(year: year, month: month, day: day, hour: hour, minute: minute, second: 0) }
    guard b.count >= 20, b[16] == UInt8(ascii: ":") else { return nil }
    let second = number(b[17..<19])
    if b.count > 20 {
      guard b[19] == UInt8(ascii: "."), b[20..<(b.count - 1)].allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else {
        return nil
      }
    }
    return utc(year: year, month: month, day: day, hour: hour, minute: minute, second: second)
  }

  private static func number(_ digits: ArraySlice<UInt8>) -> Int? {
    guard !digits.isEmpty, digits.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { return nil }
    return digits.reduce(0) { $0 * 10 + Int($1 - 0x30) }
  }

  private static func utc(year: Int?, month: Int?, day: Int?, hour: Int?, minute: Int?, second: Int?) -> Date? {
    guard let year, let month, let day, let hour, let minute, let second, (1...12).contains(month),
      (1...31).contains(day), (0...23).contains(hour), (0...59).contains(minute), (0...60).contains(second)
    else { return nil }
    var parts = tm()
    parts.tm_year = Int32(year - 1900)
    parts.tm_mon = Int32(month - 1)
    parts.tm_mday = Int32(day)
    parts.tm_hour = Int32(hour)
    parts.tm_min = Int32(minute)
    parts.tm_sec = Int32(second)
    return Date(timeIntervalSince1970: TimeInterval(timegm(&parts)))
  }

  private static func decode(_ s: Substring) -> String { s.removingPercentEncoding ?? String(s) }
}
