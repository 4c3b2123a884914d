import COpenSSL

/// Cryptographically secure random bytes from OpenSSL.
public enum SecureRandom {
  /// `count` random bytes.
  public static func bytes(_ count: Int) -> [UInt8] {
    var out = [UInt8](repeating: 0, count: count)
    precondition(count == 0 || RAND_bytes(&out, Int32(count)) == 1, "OpenSSL RAND_bytes failed")
    return out
  }
}
