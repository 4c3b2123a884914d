import Crypto
import Foundation
import JSON
import Locations
import SigV4
import Testing

@testable import Transfer

@Suite struct LocationRequestsTests {
  let requests = LocationRequests(s3: S3Requests(addressing: S3Addressing(endpoint: "http://127.0.0.1:9000")))

  private func location(_ json: JSONValue, field: String = "output") throws -> Location {
    try LocationParser().parse(json, field: field)
  }

  private func file() throws -> String {
    let path = NSTemporaryDirectory() + "ferry-lr-\(UUID().uuidString)"
    _ = FileManager.default.createFile(atPath: path, contents: Data("Welcome to Amazon S3.".utf8))
    return path
  }

  private let presignedPut =
    "https://b.s3.amazonaws.com/k.mp3?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Date=20261129T080000Z&X-Amz-Expires=7200"

  @Test func presignedURLsKeepTheirBytesAndExpiry() throws {
    let url = presignedPut + "&X-Amz-SignedHeaders=host&X-Amz-Signature=ab"
    let request = try requests.write(
      try location(.string(url)), field: "output", file: try file(), contentType: "audio/mpeg")
    #expect(request.url == url)
    #expect(request.expiry != nil)
    // Content-Type was not signed, so it is not sent; Content-MD5 lets S3 check the body.
    #expect(request.headers.map(\.name) == ["Content-MD5"])
    #expect(request.headers.first?.value == welcomeMD5Base64)
  }

  @Test func aSignedContentType_isSentAsOctetStream_theValueDolbysGCSSampleSigns() throws {
    let gcs =
      "https://storage.googleapis.com/b/k.wav?X-Goog-Algorithm=GOOG4-RSA-SHA256&X-Goog-Credential=sa%2F20261129%2Fauto%2Fstorage%2Fgoog4_request&X-Goog-Date=20261129T080000Z&X-Goog-Expires=900&X-Goog-SignedHeaders=content-type%3Bhost&X-Goog-Signature=ab"
    for url in [presignedPut + "&X-Amz-SignedHeaders=content-type%3Bhost&X-Amz-Signature=ab", gcs] {
      // Whatever the output's media type, and when it has none.
      for contentType in ["audio/mpeg", nil] {
        let request = try requests.write(
          try location(.string(url)), field: "output", file: try file(), contentType: contentType)
        #expect(request.headers.map(\.name) == ["Content-Type", "Content-MD5"])
        #expect(request.headers.first?.value == "application/octet-stream")
      }
    }
    // A PUT to a plain URL keeps the output's media type.
    let plain = try requests.write(
      try location(.string("https://h/out.mp3")), field: "output", file: try file(), contentType: "audio/mpeg")
    #expect(plain.headers.map(\.name) == ["Content-Type"] && plain.headers.first?.value == "audio/mpeg")
  }

  @Test func signedHeadersFerryCannotKnowAreRefusedUpFront() throws {
    let url = presignedPut + "&X-Amz-SignedHeaders=host%3Bx-amz-acl&X-Amz-Signature=ab"
    #expect(
      throws: LocationError(
        "output",
        "the URL's signature covers the header x-amz-acl, whose value Ferry cannot know; pre-sign it without that header"
      )
    ) {
      try requests.write(try location(.string(url)), field: "output", file: try file(), contentType: nil)
    }
  }

  @Test func s3LocationsAreSignedAndBasicAuthIsPassedOn() throws {
    let s3 = try location(.object(["url": "s3://media/out.mp3", "auth": .object(["key": "AK", "secret": "SK"])]))
    let put = try requests.write(s3, field: "output", file: try file(), contentType: "audio/mpeg")
    #expect(put.url == "http://127.0.0.1:9000/media/out.mp3")
    let signed = put.signer?(Date(timeIntervalSince1970: 0)) ?? []
    #expect(signed.contains { $0.name == "Authorization" && $0.value.hasPrefix("AWS4-HMAC-SHA256 Credential=AK/") })
    #expect(
      signed.contains {
        $0.name == "X-Amz-Content-SHA256"
          && $0.value == "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072"
      })

    let basic = try location(
      .object(["url": "https://h/in.wav", "auth": .object(["username": "u", "password": "p"])]), field: "input")
    #expect(try requests.read(basic, field: "input").basicAuth?.password == "p")
  }

  @Test func azurePutsSayWhatKindOfBlobTheyWrite() throws {
    let url = "https://acct.blob.core.windows.net/c/out.wav?sv=2022-11-02&se=2099-01-01&sr=b&sp=w&sig=abc"
    let request = try requests.write(try location(.string(url)), field: "output", file: try file(), contentType: nil)
    #expect(request.headers.map(\.name) == ["x-ms-blob-type"])
  }

  @Test func sigV2URLsGetNoHeadersTheirSignatureCovers() throws {
    let url = "https://b.s3.amazonaws.com/k.mp3?AWSAccessKeyId=AK&Expires=4102444800&Signature=abc%2B"
    let request = try requests.write(
      try location(.string(url)), field: "output", file: try file(), contentType: "audio/mpeg")
    #expect(request.headers.isEmpty, "V2 signs Content-MD5 and Content-Type: adding either breaks the signature")
  }

  @Test func downloadsRefuseURLsThatSignedBodyHeaders() throws {
    let url = presignedPut + "&X-Amz-SignedHeaders=content-type%3Bhost&X-Amz-Signature=ab"
    #expect(throws: LocationError.self) {
      try requests.read(try location(.string(url), field: "input"), field: "input")
    }
  }

  @Test func dlbLocationsAreLeftToStorage() throws {
    #expect(throws: LocationError.self) { try requests.read(try location(.string("dlb://in/a.wav")), field: "input") }
  }
}

/// The MD5 of "Welcome to Amazon S3." (md5sum: d447d0e8f289f16a12ff6027ce77c258), base64.
private let welcomeMD5Base64 = "1EfQ6PKJ8WoS/2AnznfCWA=="
