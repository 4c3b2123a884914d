import Crypto
import Foundation

/// Standard Webhooks signatures (`webhook-signature: v1,<base64>`), keyed with the owning app's secret.
public enum WebhookSignature {
  /// `v1,` and the base64 HMAC-SHA256 of `"<id>.<timestamp>.<body>"`.
  public static func sign(id: String, timestamp: Int64, body: [UInt8], secret: String) -> String {
    let message = Array("\(id).\(timestamp).".utf8) + body
    return "v1," + Data(HMAC.sha256(key: Array(secret.utf8), data: message)).base64EncodedString()
  }
}
