import Foundation
import Testing

@testable import Locations

private func detect(_ url: String) throws -> PresignedURL? {
  let query = url.firstIndex(of: "?").map { url[url.index(after: $0)...] } ?? ""
  return try PresignedURL.detect(query: query, field: "output")
}

private func utc(_ text: String) -> Date { ISO8601DateFormatter().date(from: text)! }

@Suite struct PresignedURLTests {
  @Test func awsSigV4() throws {
    let url =
      "https://examplebucket.s3.amazonaws.com/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"
    let presigned = try #require(try detect(url))
    #expect(presigned.scheme == .awsV4)
    #expect(presigned.expiry.date == utc("2013-05-25T00:00:00Z"))
    #expect(presigned.signedHeaders == [])
  }

  @Test func awsSigV4SignedHeadersBecomeRequirements() throws {
    let url =
      "https://b.s3.amazonaws.com/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Date=20261129T080000Z&X-Amz-Expires=7200&X-Amz-SignedHeaders=content-type%3Bhost%3Bx-amz-acl&X-Amz-Signature=ab"
    let presigned = try #require(try detect(url))
    #expect(presigned.signedHeaders == ["content-type", "x-amz-acl"])
    #expect(presigned.expiry.date == utc("2026-11-29T10:00:00Z"))
  }

  @Test func awsSigV2() throws {
    let presigned = try #require(
      try detect("https://b.s3.amazonaws.com/k?AWSAccessKeyId=AK&Expires=1700000000&Signature=abc%2Bdef%3D"))
    #expect(presigned.scheme == .awsV2)
    #expect(presigned.expiry.date == Date(timeIntervalSince1970: 1_700_000_000))
  }

  @Test func gcsV4() throws {
    let url =
      "https://storage.googleapis.com/b/o?X-Goog-Algorithm=GOOG4-RSA-SHA256&X-Goog-Credential=sa%40p.iam.gserviceaccount.com%2F20190201%2Fauto%2Fstorage%2Fgoog4_request&X-Goog-Date=20190201T190000Z&X-Goog-Expires=600&X-Goog-SignedHeaders=host&X-Goog-Signature=abcd"
    let presigned = try #require(try detect(url))
    #expect(presigned.scheme == .gcsV4)
    #expect(presigned.expiry.date == utc("2019-02-01T19:10:00Z"))
  }

  @Test(arguments: [
    ("se=2026-12-01T10%3A30%3A00Z", "2026-12-01T10:30:00Z"), ("se=2026-12-01T10:30:00Z", "2026-12-01T10:30:00Z"),
    ("se=2026-12-01", "2026-12-01T00:00:00Z"), ("se=2026-12-01T10%3A30Z", "2026-12-01T10:30:00Z"),
    ("se=2026-12-01T10:30:00.1234567Z", "2026-12-01T10:30:00Z"),
  ])
  func azureSAS(_ se: String, _ expected: String) throws {
    let presigned = try #require(
      try detect("https://acct.blob.core.windows.net/c/b.wav?sv=2022-11-02&\(se)&sr=b&sp=r&sig=abc%2Bdef%3D"))
    #expect(presigned.scheme == .azureSAS)
    #expect(presigned.expiry.date == utc(expected))
  }

  @Test func publicURLsHaveNoExpiry() throws {
    #expect(try detect("https://example.com/a.wav") == nil)
    #expect(try detect("https://example.com/a.wav?version=2&token_hint=x") == nil)
  }

  @Test(arguments: [
    "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Date=2013-05-24&X-Amz-Expires=60",
    "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Date=20130524T000000Z&X-Amz-Expires=-1",
    "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Date=20131324T000000Z&X-Amz-Expires=60",
    "X-Amz-Signature=ab&X-Amz-Expires=60",
    "X-Goog-Algorithm=GOOG4-HMAC-SHA256&X-Goog-Date=20190201T190000Z",
    "AWSAccessKeyId=AK&Signature=x&Expires=soon",
    "sig=abc&se=tomorrow",
    "sig=abc",
  ])
  func malformedExpiriesAreRefused(_ query: String) {
    #expect(throws: LocationError.self) { try detect("https://h/k?" + query) }
  }
}
