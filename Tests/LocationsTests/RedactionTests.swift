import Testing

@testable import Locations

@Suite struct RedactionTests {
  @Test(arguments: [
    (
      "https://b.s3.amazonaws.com/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKID%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=60&X-Amz-SignedHeaders=host&X-Amz-Security-Token=TOK&X-Amz-Signature=abc",
      "https://b.s3.amazonaws.com/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=REDACTED&X-Amz-Date=20130524T000000Z&X-Amz-Expires=60&X-Amz-SignedHeaders=host&X-Amz-Security-Token=REDACTED&X-Amz-Signature=REDACTED"
    ),
    ("https://user:pass@host:8080/x?y=1", "https://host:8080/x?y=1"),
    (
      "https://host/k?AWSAccessKeyId=AK&Expires=1&Signature=s",
      "https://host/k?AWSAccessKeyId=REDACTED&Expires=1&Signature=REDACTED"
    ),
    (
      "https://a.blob.core.windows.net/c/b?sv=1&se=2026-12-01&sig=abc%2B",
      "https://a.blob.core.windows.net/c/b?sv=1&se=2026-12-01&sig=REDACTED"
    ),
    (
      "https://h/x?x-goog-signature=1&X-Goog-Credential=2",
      "https://h/x?x-goog-signature=REDACTED&X-Goog-Credential=REDACTED"
    ),
    (
      "https://h/hook?token=abc&access_token=d&api_key=e&password=f",
      "https://h/hook?token=REDACTED&access_token=REDACTED&api_key=REDACTED&password=REDACTED"
    ),
    ("https://h/x#secret-fragment", "https://h/x"),
    ("not a url?sig=abc", "not a url?sig=REDACTED"),
    ("https://h/path?plain", "https://h/path?plain"),
    ("s3://bucket/key?with=query", "s3://bucket/key?with=query"),
    ("https:///u:pw@h/x", "https://h/x"),
    ("https://u:pa/ss@h/x?a=1", "https://h/x?a=1"),
    ("https://maps.example/api?key=AIzaSecret&x=1", "https://maps.example/api?key=REDACTED&x=1"),
  ])
  func urls(_ input: String, _ expected: String) {
    #expect(Redaction.url(input) == expected)
  }
}
