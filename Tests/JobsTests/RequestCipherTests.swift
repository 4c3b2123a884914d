import Foundation
import Jobs
import Testing

@testable import Crypto

@Suite struct RequestCipherTests {
  let master = [UInt8](repeating: 7, count: 32)

  @Test func sealedRequests_openOnlyAsTheirOwnJobUnderTheSameKey() throws {
    let cipher = RequestCipher(masterKey: master)
    let request = Array(#"{"input":{"url":"s3://b/k","auth":{"key":"AK","secret":"TOPSECRET"}}}"#.utf8)
    let id = UUID()
    let sealed = cipher.seal(request, job: id)
    #expect(try cipher.open(sealed, job: id) == request)
    #expect(!String(decoding: sealed, as: UTF8.self).contains("TOPSECRET"))
    #expect(cipher.seal(request, job: id) != sealed, "a fresh nonce each time")
    #expect(throws: AESGCM.OpenError.self) { try cipher.open(sealed, job: UUID()) }
    #expect(throws: AESGCM.OpenError.self) {
      try RequestCipher(masterKey: [UInt8](repeating: 8, count: 32)).open(sealed, job: id)
    }
    var tampered = sealed
    tampered[20] ^= 1
    #expect(throws: AESGCM.OpenError.self) { try cipher.open(tampered, job: id) }
    #expect(throws: AESGCM.OpenError.self) { try cipher.open([1, 2, 3], job: id) }
  }

  /// RFC 5869 appendix A.1.
  @Test func hkdf_matchesRFC5869TestCase1() {
    let okm = HKDF.sha256(
      key: [UInt8](repeating: 0x0b, count: 22), salt: Array(0x00...0x0c), info: Array(0xf0...0xf9), length: 42)
    #expect(
      Hex.encode(okm)
        == "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865")
  }

  /// The GCM specification's test cases 13 and 14 (AES-256, zero key, zero 96-bit IV).
  @Test func aesGCM_matchesTheSpecificationsTestCases() throws {
    let key = [UInt8](repeating: 0, count: 32)
    let nonce = [UInt8](repeating: 0, count: 12)
    let empty = AESGCM.seal([], key: key, nonce: nonce, associatedData: [])
    #expect(Hex.encode(empty.dropFirst(12)) == "530f8afbc74536b9a963b4f1c4cb738b")
    let zeros = AESGCM.seal([UInt8](repeating: 0, count: 16), key: key, nonce: nonce, associatedData: [])
    #expect(Hex.encode(zeros.dropFirst(12)) == "cea7403d4d606b6e074ec5d3baf39d18" + "d0d1c8a799996bf0265b98b5d48ab919")
    #expect(try AESGCM.open(zeros, key: key) == [UInt8](repeating: 0, count: 16))
  }
}
