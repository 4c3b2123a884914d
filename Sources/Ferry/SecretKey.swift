import Crypto
import Foundation

/// The 32-byte master key (`secrets.key`) the keys for job encryption and access tokens are derived from:
/// the configured value, else `<data_dir>/secret.key`, generated (mode 0600) on first start.
enum SecretKey {
  struct Problem: Error, CustomStringConvertible {
    var description: String
  }

  static func load(configured: String?, dataDirectory: String) throws -> [UInt8] {
    if let configured {
      guard let key = Data(base64Encoded: configured), key.count == 32 else {
        throw Problem(description: "secrets.key (FERRY_SECRETS_KEY): must be 32 bytes in base64")
      }
      return Array(key)
    }
    let path = dataDirectory + "/secret.key"
    if let text = try? String(contentsOfFile: path, encoding: .utf8) {
      guard let key = Data(base64Encoded: text.trimmingCharacters(in: .whitespacesAndNewlines)), key.count == 32 else {
        throw Problem(description: "\(path) does not hold a base64 32-byte key; restore it or remove it to start anew")
      }
      return Array(key)
    }
    let key = SecureRandom.bytes(32)
    try writeNew(path, Data(key).base64EncodedString() + "\n")
    return key
  }

  /// Writes a new file readable by its owner only; refuses to replace or follow anything.
  static func writeNew(_ path: String, _ text: String) throws {
    let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
    guard fd >= 0 else { throw Problem(description: "cannot create \(path): \(String(cString: strerror(errno)))") }
    defer { close(fd) }
    let bytes = Array(text.utf8)
    guard write(fd, bytes, bytes.count) == bytes.count, fsync(fd) == 0 else {
      throw Problem(description: "cannot write \(path)")
    }
  }
}

/// The app Ferry creates when `auth.apps` is empty: stored in `<data_dir>/app.json` (0600) and valid until
/// `auth.apps` is set.
enum GeneratedApp {
  /// The stored app, or a new one (`created` is true the first time: its secret is printed once).
  static func loadOrCreate(dataDirectory: String) throws -> (key: String, secret: String, created: Bool) {
    let path = dataDirectory + "/app.json"
    if let data = FileManager.default.contents(atPath: path) {
      guard let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
        let key = object["key"] as? String, let secret = object["secret"] as? String
      else { throw SecretKey.Problem(description: "\(path) is not a valid app file; fix it or remove it") }
      return (key, secret, false)
    }
    let key = "ferry-" + Hex.encode(SecureRandom.bytes(8))
    let secret = Data(SecureRandom.bytes(24)).base64EncodedString()
      .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
    try SecretKey.writeNew(path, #"{"key": "\#(key)", "secret": "\#(secret)"}"# + "\n")
    return (key, secret, true)
  }
}
