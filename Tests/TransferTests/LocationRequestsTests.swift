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

  private let presignedPut =
    "https://b.s3.amazonaws.com/k.mp3?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Date=20261129T080000Z&X-Amz-Expires=7200"

  @Test func presignedURLsKeepTheirBytesAndExpiry() throws {
    let url = presignedPut + "&X-Amz-SignedHeaders=host&X-Amz-Signature=ab"
    let request = try requests.write(
      try location(.string(url)), field: "output", payloadSHA256: "00", contentType: "audio/mpeg")
    #expect(request.url == url)
    #expect(request.expiry != nil)
    #expect(request.headers.isEmpty, "a header the URL did not sign is not sent (S3 would refuse unsigned x-amz-*)")
  }

  @Test func aSignedContentTypeIsSentWithTheOutputsType() throws {
    let url = presignedPut + "&X-Amz-SignedHeaders=content-type%3Bhost&X-Amz-Signature=ab"
    let request = try requests.write(
      try location(.string(url)), field: "output", payloadSHA256: "00", contentType: "audio/mpeg")
    #expect(request.headers.map(\.name) == ["Content-Type"])
    #expect(request.headers.first?.value == "audio/mpeg")
  }

  @Test func signedHeadersFerryCannotKnowAreRefusedUpFront() throws {
    let url = presignedPut + "&X-Amz-SignedHeaders=host%3Bx-amz-acl&X-Amz-Signature=ab"
    #expect(
      throws: LocationError(
        "output",
        "the URL's signature covers the header x-amz-acl, whose value Ferry cannot know; pre-sign it without that header"
      )
    ) {
      try requests.write(try location(.string(url)), field: "output", payloadSHA256: "00", contentType: nil)
    }
  }

  @Test func s3LocationsAreSignedAndBasicAuthIsPassedOn() throws {
    let s3 = try location(.object(["url": "s3://media/out.mp3", "auth": .object(["key": "AK", "secret": "SK"])]))
    let put = try requests.write(s3, field: "output", payloadSHA256: "abc", contentType: "audio/mpeg")
    #expect(put.url == "http://127.0.0.1:9000/media/out.mp3")
    let signed = put.signer?(Date(timeIntervalSince1970: 0)) ?? []
    #expect(signed.contains { $0.name == "Authorization" && $0.value.hasPrefix("AWS4-HMAC-SHA256 Credential=AK/") })
    #expect(signed.contains { $0.name == "X-Amz-Content-SHA256" && $0.value == "abc" })

    let basic = try location(
      .object(["url": "https://h/in.wav", "auth": .object(["username": "u", "password": "p"])]), field: "input")
    #expect(try requests.read(basic, field: "input").basicAuth?.password == "p")
  }

  @Test func dlbLocationsAreLeftToStorage() throws {
    #expect(throws: LocationError.self) { try requests.read(try location(.string("dlb://in/a.wav")), field: "input") }
  }
}
