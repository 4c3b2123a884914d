/// AWS's URI encoding for SigV4 and S3 keys: RFC 3986 unreserved characters (`A-Z a-z 0-9 - _ . ~`) stay as
/// they are, every other UTF-8 byte becomes `%XX` with uppercase hex (a space is `%20`, never `+`).
public enum AWSURIEncoding {
  private static let hex = Array("0123456789ABCDEF".utf8)

  /// Encodes `text`; with `keepingSlashes`, `/` stays as it is (paths and object keys).
  public static func encode(_ text: String, keepingSlashes: Bool = false) -> String {
    var out: [UInt8] = []
    out.reserveCapacity(text.utf8.count)
    for b in text.utf8 {
      if isUnreserved(b) || (keepingSlashes && b == UInt8(ascii: "/")) {
        out.append(b)
      } else {
        out.append(UInt8(ascii: "%"))
        out.append(hex[Int(b >> 4)])
        out.append(hex[Int(b & 0x0F)])
      }
    }
    return String(decoding: out, as: UTF8.self)
  }

  static func isUnreserved(_ b: UInt8) -> Bool {
    switch b {
    case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
      UInt8(ascii: "0")...UInt8(ascii: "9"),
      UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: "~"):
      true
    default: false
    }
  }
}
