import Crypto
import Foundation
import Testing

@testable import SigV4

/// AWS's published S3 examples ("Signature Calculations for the Authorization Header" and "Query String
/// Authentication"): examplebucket, 2013-05-24, AKIAIOSFODNN7EXAMPLE.
@Suite struct S3ExampleTests {
  let signer = SigV4Signer(
    credentials: AWSCredentials(
      accessKeyID: "AKIAIOSFODNN7EXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
    region: "us-east-1")
  let date = Date(timeIntervalSince1970: 1_369_353_600)
  let host = SignableRequest.HeaderField("Host", "examplebucket.s3.amazonaws.com")

  @Test func getObjectWithRange() {
    let request = SignableRequest(method: "GET", path: "/test.txt", headers: [host, .init("Range", "bytes=0-9")])
    let result = signer.sign(request, payload: .empty, date: date)
    #expect(result.signature == "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41")
    #expect(
      result.request.headers.last?.value
        == "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
    )
  }

  @Test func putObjectWithABodyAndAKeyThatNeedsEncoding() {
    let body = Array("Welcome to Amazon S3.".utf8)
    let hash = Hex.encode(SHA256.hash(body))
    #expect(hash == "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072")
    let request = SignableRequest(
      method: "PUT", path: "/test$file.text",
      headers: [
        host, .init("Date", "Fri, 24 May 2013 00:00:00 GMT"), .init("x-amz-storage-class", "REDUCED_REDUNDANCY"),
      ])
    let result = signer.sign(request, payload: .sha256(hash), date: date)
    #expect(result.canonicalRequest.hasPrefix("PUT\n/test%24file.text\n\n"))
    #expect(result.signature == "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd")
  }

  @Test func getBucketLifecycleWithAnEmptyQueryValue() {
    let request = SignableRequest(method: "GET", path: "/", query: [.init("lifecycle", "")], headers: [host])
    let result = signer.sign(request, payload: .empty, date: date)
    #expect(result.signature == "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543")
  }

  @Test func listObjectsSortsTheQuery() {
    let request = SignableRequest(
      method: "GET", path: "/", query: [.init("max-keys", "2"), .init("prefix", "J")], headers: [host])
    let result = signer.sign(request, payload: .empty, date: date)
    #expect(result.signature == "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7")
  }

  @Test func presignedGet() {
    let request = SignableRequest(method: "GET", path: "/test.txt", headers: [host])
    let result = signer.presign(request, expires: 86400, date: date)
    #expect(result.signature == "aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404")
    #expect(
      result.request.query.map(\.name) == [
        "X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date", "X-Amz-Expires", "X-Amz-SignedHeaders", "X-Amz-Signature",
      ])
    #expect(result.request.headers == [host], "presigning adds no headers")
  }

  @Test func sessionTokensAreSignedInHeadersAndQueries() {
    let withToken = SigV4Signer(
      credentials: AWSCredentials(accessKeyID: "AK", secretAccessKey: "SK", sessionToken: "TOKEN/with+chars="),
      region: "eu-west-1")
    let request = SignableRequest(method: "GET", path: "/k", headers: [host])
    let header = withToken.sign(request, payload: .unsigned, date: date)
    #expect(header.canonicalRequest.contains("x-amz-security-token:TOKEN/with+chars=\n"))
    #expect(header.request.headers.contains(.init("X-Amz-Security-Token", "TOKEN/with+chars=")))
    let query = withToken.presign(request, expires: 60, date: date)
    #expect(query.canonicalRequest.contains("X-Amz-Security-Token=TOKEN%2Fwith%2Bchars%3D"))
    #expect(query.canonicalRequest.hasSuffix("\nUNSIGNED-PAYLOAD"))
    #expect(query.request.query.last?.name == "X-Amz-Signature")
  }

  @Test func s3KeysAreEncodedOnceAndNeverNormalized() {
    let key = "/bucket/a b+c%d&e=f?g#h~i//j/./k/../ключ.wav"
    let result = signer.sign(SignableRequest(method: "GET", path: key, headers: [host]), payload: .unsigned, date: date)
    let uri = result.canonicalRequest.split(separator: "\n", omittingEmptySubsequences: false)[1]
    #expect(uri == "/bucket/a%20b%2Bc%25d%26e%3Df%3Fg%23h~i//j/./k/../%D0%BA%D0%BB%D1%8E%D1%87.wav")
  }

  @Test(arguments: [
    ("a b", false, "a%20b"), ("a+b", false, "a%2Bb"), ("100%", false, "100%25"), ("a/b", false, "a%2Fb"),
    ("a/b", true, "a/b"), ("A-z_0.9~", false, "A-z_0.9~"), ("=&?#", true, "%3D%26%3F%23"),
    ("ключ", false, "%D0%BA%D0%BB%D1%8E%D1%87"), ("", false, ""),
  ])
  func uriEncoding(_ input: String, _ keepingSlashes: Bool, _ expected: String) {
    #expect(AWSURIEncoding.encode(input, keepingSlashes: keepingSlashes) == expected)
  }

  @Test(arguments: [
    ("", "/"), ("/", "/"), ("//example//", "/example/"), ("/example/..", "/"), ("/a/b/../..", "/"), ("/./", "/"),
    ("/./example", "/example"), ("/a/./b/", "/a/b/"), ("/a/b/.", "/a/b/"),
  ])
  func pathNormalizationForOtherServices(_ input: String, _ expected: String) {
    #expect(SigV4Signer.normalize(input) == expected)
  }

  @Test func dateStampIsUTC() {
    let stamp = SigV4Signer.Stamp(Date(timeIntervalSince1970: 1_440_938_160.999))
    #expect(stamp.dateTime == "20150830T123600Z")
    #expect(stamp.date == "20150830")
  }
}
