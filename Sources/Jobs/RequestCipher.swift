import Crypto
import Foundation

/// Seals job requests for the store (they carry credentials) with AES-256-GCM under a key derived from the
/// master key. The job id is the associated data, so a sealed request opens only as its own job's.
public struct RequestCipher: Sendable {
  private let key: [UInt8]
  private let digestKey: [UInt8]

  /// A cipher keyed from the 32-byte master key (`secrets.key`).
  public init(masterKey: [UInt8]) {
    key = HKDF.sha256(key: masterKey, info: Array("ferry job requests v1".utf8))
    digestKey = HKDF.sha256(key: masterKey, info: Array("ferry request digests v1".utf8))
  }

  /// A keyed digest of a request (hex HMAC-SHA256) to recognise a re-posted body. Keyed, because a plain hash
  /// of a body holding a weak password could be searched offline by whoever reads the store.
  public func digest(_ request: [UInt8]) -> String {
    Hex.encode(HMAC.sha256(key: digestKey, data: request))
  }

  /// The sealed form of `request` for job `id`.
  public func seal(_ request: [UInt8], job id: UUID) -> [UInt8] {
    AESGCM.seal(request, key: key, associatedData: Array(id.text.utf8))
  }

  /// The request of job `id`; throws when the key is wrong or the bytes were altered.
  public func open(_ sealed: [UInt8], job id: UUID) throws(AESGCM.OpenError) -> [UInt8] {
    try AESGCM.open(sealed, key: key, associatedData: Array(id.text.utf8))
  }
}
