/// HKDF-SHA256 (RFC 5869): derives independent keys from one master key.
public enum HKDF {
  /// `length` bytes derived from `key` for the purpose named by `info`.
  public static func sha256(key: [UInt8], salt: [UInt8] = [], info: [UInt8], length: Int = 32) -> [UInt8] {
    // Extract then expand, both HMAC-SHA256, so no OpenSSL KDF parameter plumbing is needed.
    let prk = HMAC.sha256(key: salt.isEmpty ? [UInt8](repeating: 0, count: 32) : salt, data: key)
    var output: [UInt8] = []
    var block: [UInt8] = []
    var counter: UInt8 = 1
    while output.count < length {
      block = HMAC.sha256(key: prk, data: block + info + [counter])
      output += block
      counter += 1
    }
    return Array(output[0..<length])
  }
}
