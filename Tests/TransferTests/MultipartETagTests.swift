import Testing

@testable import Transfer

struct MultipartETagTests {
  // Two 5 MiB parts of bytes 0x01 and 0x02; the part ETags and the object's ETag as moto 5.2.1 gave them (and
  // Python's hashlib agreed).
  let partETags = ["\"08b46181d7094b5ece88bb389c7499af\"", "\"d76f89e449720d99d4b92c79040f4882\""]

  @Test func isTheMD5OfThePartsMD5sWithThePartCount() {
    #expect(S3MultipartUpload.multipartETag(of: partETags) == "fdd3f8f29045d7454477dd634c8cd8cb-2")
    #expect(
      S3MultipartUpload.multipartETag(of: partETags.map { $0.uppercased() }) == "fdd3f8f29045d7454477dd634c8cd8cb-2")
  }

  @Test func dependsOnThePartsAndTheirOrder() {
    let reversed = S3MultipartUpload.multipartETag(of: partETags.reversed())
    #expect(reversed != nil && reversed != "fdd3f8f29045d7454477dd634c8cd8cb-2")
    #expect(S3MultipartUpload.multipartETag(of: [partETags[0]])?.hasSuffix("-1") == true)
  }

  @Test func isUnknownWhenAPartETagIsNoHexMD5() {
    // SSE-KMS and SSE-C objects' ETags are not MD5s; a bad digit or length must not be read as one either.
    for odd in ["\"+8b46181d7094b5ece88bb389c7499af\"", "\"08b46181d7094b5ece88bb389c7499a\"", "\"\"", "opaque-etag"] {
      #expect(S3MultipartUpload.multipartETag(of: [partETags[0], odd]) == nil, "\(odd)")
    }
  }

  @Test func comparesWithoutQuotesOrCase() {
    #expect(
      S3MultipartUpload.unquoted("\"FDD3f8f29045d7454477dd634c8cd8cb-2\"") == "fdd3f8f29045d7454477dd634c8cd8cb-2")
  }
}
