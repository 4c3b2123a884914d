import COpenSSL

/// AES-256-GCM on OpenSSL: authenticated encryption for data at rest (job requests with their credentials).
///
/// A sealed box is `nonce (12 bytes) ‖ ciphertext ‖ tag (16 bytes)`. The associated data is authenticated but
/// not stored: opening with other associated data fails, so a box cannot be moved to another record.
public enum AESGCM {
  /// The key length in bytes.
  public static let keyLength = 32
  static let nonceLength = 12
  static let tagLength = 16

  /// Opening failed: wrong key, wrong associated data, or altered bytes.
  public struct OpenError: Error, Sendable, Equatable {}

  /// Encrypts `plaintext` under `key` (32 bytes) with a fresh random nonce.
  public static func seal(_ plaintext: [UInt8], key: [UInt8], associatedData: [UInt8] = []) -> [UInt8] {
    seal(plaintext, key: key, nonce: SecureRandom.bytes(nonceLength), associatedData: associatedData)
  }

  /// `seal` with a given nonce: for known-answer tests only (a nonce must never repeat under one key).
  static func seal(_ plaintext: [UInt8], key: [UInt8], nonce: [UInt8], associatedData: [UInt8]) -> [UInt8] {
    precondition(key.count == keyLength, "AES-256-GCM needs a 32-byte key")
    precondition(nonce.count == nonceLength, "AES-GCM nonces here are 12 bytes")
    var tag = [UInt8](repeating: 0, count: tagLength)
    guard
      let ciphertext = cipher(
        plaintext, key: key, nonce: nonce, associatedData: associatedData, tag: &tag, encrypt: true)
    else { preconditionFailure("OpenSSL AES-256-GCM encryption failed") }
    return nonce + ciphertext + tag
  }

  /// Decrypts and authenticates a box made by `seal` with the same key and associated data.
  public static func open(_ box: [UInt8], key: [UInt8], associatedData: [UInt8] = []) throws(OpenError) -> [UInt8] {
    precondition(key.count == keyLength, "AES-256-GCM needs a 32-byte key")
    guard box.count >= nonceLength + tagLength else { throw OpenError() }
    let nonce = Array(box[0..<nonceLength])
    let ciphertext = Array(box[nonceLength..<(box.count - tagLength)])
    var tag = Array(box[(box.count - tagLength)...])
    guard
      let plaintext = cipher(
        ciphertext, key: key, nonce: nonce, associatedData: associatedData, tag: &tag, encrypt: false)
    else { throw OpenError() }
    return plaintext
  }

  /// AES-256-GCM over `input` one way or the other. Encrypting writes the tag to `tag`; decrypting checks
  /// `tag` in the final step. Nil when a step failed (for decryption: the box is not authentic).
  private static func cipher(
    _ input: [UInt8], key: [UInt8], nonce: [UInt8], associatedData: [UInt8], tag: inout [UInt8], encrypt: Bool
  ) -> [UInt8]? {
    guard let context = EVP_CIPHER_CTX_new() else { fatalError("OpenSSL could not allocate a cipher context") }
    defer { EVP_CIPHER_CTX_free(context) }
    var ok = EVP_CipherInit_ex(context, EVP_aes_256_gcm(), nil, key, nonce, encrypt ? 1 : 0) == 1
    var length: Int32 = 0
    if !associatedData.isEmpty {
      ok = ok && EVP_CipherUpdate(context, nil, &length, associatedData, Int32(associatedData.count)) == 1
    }
    var output = [UInt8](repeating: 0, count: input.count + 16)
    var written: Int32 = 0
    if !input.isEmpty {
      ok = ok && EVP_CipherUpdate(context, &output, &written, input, Int32(input.count)) == 1
    }
    if !encrypt {
      ok = ok && EVP_CIPHER_CTX_ctrl(context, EVP_CTRL_GCM_SET_TAG, Int32(tagLength), &tag) == 1
    }
    var final: Int32 = 0
    ok =
      ok
      && output.withUnsafeMutableBufferPointer {
        EVP_CipherFinal_ex(context, $0.baseAddress! + Int(written), &final) == 1
      }
    if encrypt {
      ok = ok && EVP_CIPHER_CTX_ctrl(context, EVP_CTRL_GCM_GET_TAG, Int32(tagLength), &tag) == 1
    }
    return ok ? Array(output[0..<Int(written + final)]) : nil
  }
}
