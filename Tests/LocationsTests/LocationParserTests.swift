import Foundation
import JSON
import Testing

@testable import Locations
@testable import SigV4

private func parse(_ json: String, field: String = "input", extra: Set<String> = []) throws -> Location {
  let value = try JSONValue.parse(Data(json.utf8))
  return try LocationParser(extraFields: extra).parse(value, field: field)
}

/// The message a location is refused with, or nil when it parses.
private func refusal(_ json: String, field: String = "input") -> String? {
  do {
    _ = try parse(json, field: field)
    return nil
  } catch let error as LocationError {
    return error.description
  } catch {
    return "not JSON: \(error)"
  }
}

@Suite struct LocationParserTests {
  @Test func urlStringsOfEachScheme() throws {
    #expect(
      try parse(#""https://example.com/a.wav""#).target == .http(url: "https://example.com/a.wav", presigned: nil))
    #expect(try parse(#""HTTP://example.com/a""#).target == .http(url: "HTTP://example.com/a", presigned: nil))
    #expect(try parse(#""s3://media/in/talk.wav""#).target == .s3(bucket: "media", key: "in/talk.wav"))
    #expect(try parse(#""dlb://in/talk.wav""#).target == .dlb(key: "in/talk.wav"))
  }

  @Test func httpURLsAreKeptByteForByte() throws {
    let url =
      "https://b.s3.amazonaws.com/a%2Fb%20c+d?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Date=20130524T000000Z&X-Amz-Expires=60&X-Amz-Credential=AK%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-SignedHeaders=host&X-Amz-Signature=ab"
    guard case .http(let kept, let presigned?) = try parse("\"\(url)\"").target else {
      Issue.record("expected a pre-signed http location")
      return
    }
    #expect(kept == url)
    #expect(presigned.scheme == .awsV4)
  }

  @Test func s3KeysAreTakenLiterally() throws {
    let key = "a b+c%d&e=f?g#h~i//j/ключ.wav"
    #expect(try parse("\"s3://media/\(key)\"").target == .s3(bucket: "media", key: key))
  }

  @Test func objectsCarryAWSKeysOrBasicAuth() throws {
    let aws = try parse(
      #"{"url": "s3://media/out.mp3", "auth": {"key": "AK", "secret": "SK", "token": "T", "region": "eu-west-1"}}"#,
      field: "output")
    #expect(
      aws.auth == .aws(AWSCredentials(accessKeyID: "AK", secretAccessKey: "SK", sessionToken: "T"), region: "eu-west-1")
    )
    let basic = try parse(#"{"url": "https://h/x", "auth": {"username": "u", "password": "p"}}"#)
    #expect(basic.auth == .basic(username: "u", password: "p"))
    let plain = try parse(#"{"url": "https://h/x"}"#)
    #expect(plain.auth == nil)
    let withRegion = try parse(#"{"url": "https://h/x", "region": {"start": 1, "end": 2}}"#, extra: ["region"])
    #expect(withRegion.target == .http(url: "https://h/x", presigned: nil))
  }

  @Test(arguments: [
    ("null", "input is required"),
    (#""""#, "input is required"),
    ("5", "input: must be a URL string or an object with \"url\", got a number"),
    (#""ftp://host/file""#, #"input: unsupported scheme "ftp"; use http, https, s3 or dlb"#),
    (#"{"url": "ftp://host/file"}"#, #"input.url: unsupported scheme "ftp"; use http, https, s3 or dlb"#),
    (#""example.com/a.wav""#, "input is not a URL (expected https://, s3:// or dlb://)"),
    (#"{"auth": {"key": "AK", "secret": "SK"}}"#, "input.url is required"),
    (#"{"url": 5}"#, "input.url: must be a string, got a number"),
    (#"{"url": "s3://b/k", "auth": {"key": "AK"}}"#, "input.auth.secret is required"),
    (#"{"url": "s3://b/k", "auth": {"secret": "SK"}}"#, "input.auth.key is required"),
    (#"{"url": "s3://b/k", "auth": {"key": "AK", "secret": ""}}"#, "input.auth.secret: must be a non-empty string"),
    (#"{"url": "s3://b/k", "auth": {"key": "AK", "secret": "SK", "role": "x"}}"#, "input.auth.role: unknown field"),
    (
      #"{"url": "s3://b/k", "auth": {"key": "AK", "secret": "SK", "username": "u"}}"#,
      "input.auth: use either key and secret (s3://) or username and password (http, https), not both"
    ),
    (#"{"url": "s3://b/k", "auth": {}}"#, "input.auth: needs key and secret, or username and password"),
    (#"{"url": "s3://b/k", "auth": "AK:SK"}"#, "input.auth: must be an object, got a string"),
    (
      #"{"url": "s3://bkt/k", "auth": {"username": "u", "password": "p"}}"#,
      "input.auth: username and password go with http(s) URLs; s3:// URLs take key and secret"
    ),
    (
      #"{"url": "https://h/x", "auth": {"key": "AK", "secret": "SK"}}"#,
      "input.auth: key and secret go with s3:// URLs; for http(s) use username and password, or a pre-signed URL"
    ),
    (
      #"{"url": "dlb://k", "auth": {"username": "u", "password": "p"}}"#,
      "input.auth: dlb:// locations take no credentials"
    ),
    (
      #"{"url": "s3://b/k", "auth": {"key": "AK", "secret": "SK", "region": "EU West"}}"#,
      "input.auth.region is not an AWS region name"
    ),
    (#"{"url": "https://h/x", "extra": 1}"#, "input.extra: unknown field"),
    (#""s3://media""#, "input: expected s3://bucket/key"),
    (#""s3://media/""#, "input: the object key is empty"),
    (#""s3://Media_Bucket/k""#, #"input: the bucket is not a valid S3 bucket name (3-63 of a-z, 0-9, "." and "-")"#),
    (#""s3://a..b/k""#, #"input: the bucket is not a valid S3 bucket name (3-63 of a-z, 0-9, "." and "-")"#),
    (#""dlb:///abs""#, "input: the dlb:// key must not start with /"),
    (#""dlb://in/../x""#, "input: the dlb:// key has an empty, \".\" or \"..\" path segment"),
    (#""dlb://in//x""#, "input: the dlb:// key has an empty, \".\" or \"..\" path segment"),
    (#""dlb://in/\u0001""#, "input: the dlb:// key contains control characters"),
    (#""https://host/a b""#, "input: URLs must be ASCII without spaces; percent-encode other characters"),
    (#""https://host/ключ""#, "input: URLs must be ASCII without spaces; percent-encode other characters"),
    (#""https:///path""#, "input is not a valid URL"),
    (#""https://host/x#frag""#, "input: a URL fragment (#...) is never sent to the server; remove it"),
    (
      #""https://host/x?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Date=20130524T000000Z""#,
      "input: a pre-signed URL signed with AWS SigV4 needs X-Amz-Expires"
    ),
  ])
  func refusalsNameTheField(_ json: String, _ expected: String) {
    #expect(refusal(json) == expected)
  }

  @Test func overlongURLsAndKeysAreRefused() {
    let long = "https://host/" + String(repeating: "a", count: 8200)
    #expect(refusal("\"\(long)\"") == "input: the URL is longer than 8192 bytes")
    let key = String(repeating: "k", count: 1025)
    #expect(refusal("\"s3://media/\(key)\"") == "input: the object key is longer than 1024 bytes")
  }

  @Test func refusalsNeverRepeatSecrets() {
    let secret = "SECRET-9f8e7d"
    let cases = [
      #"{"url": "https://user:\#(secret)@host/x"}"#,
      #""https://user:\#(secret)@host/x""#,
      #""https://host/x?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Signature=\#(secret)&X-Amz-Date=bad&X-Amz-Expires=1""#,
      #"{"url": "https://h/x", "auth": {"key": "AK", "secret": "\#(secret)"}}"#,
      #"{"url": "s3://b/k", "auth": {"key": "AK", "secret": "\#(secret)", "username": "u"}}"#,
      #""\#(secret)://host/x""#,
      #""https://host/x y?sig=\#(secret)""#,
      #""https:///u:\#(secret)@h/x""#,
      #""s3://AKIA:\#(secret)@bucket/key""#,
      #"{"url": "https://host?sig=\#(secret)&se=never"}"#,
    ]
    for json in cases {
      let message = refusal(json)
      #expect(message != nil, "\(json) should be refused")
      #expect(message?.contains(secret) == false, "\(message ?? "")")
    }
  }

  @Test func redactedLocationsHideCredentials() throws {
    let location = try parse(#"{"url": "s3://media/k.wav", "auth": {"key": "AKID", "secret": "SK-secret"}}"#)
    #expect(location.redacted == "s3://media/k.wav (with keys)")
    let presigned = try parse(
      #""https://h/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKID%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=60&X-Amz-SignedHeaders=host&X-Amz-Signature=deadbeef""#
    )
    #expect(!presigned.redacted.contains("deadbeef"))
    #expect(!presigned.redacted.contains("AKID"))
    #expect(presigned.expiry?.date == Date(timeIntervalSince1970: 1_369_353_660))
  }
}
