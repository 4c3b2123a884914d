import Crypto
import Foundation

/// AWS Signature Version 4: header signing and presigning. Pure: the date is a parameter, nothing is read
/// from the environment, and the result carries the canonical request and string to sign for inspection.
public struct SigV4Signer: Sendable {
  public let credentials: AWSCredentials
  public let region: String
  public let service: String
  /// Other services normalize the path (dot segments, repeated slashes) before signing; S3 signs object
  /// keys exactly as they are, so `//a/./b` is a different key from `/a/b`.
  public let normalizesPath: Bool
  /// S3 signs `X-Amz-Security-Token`; a few old services want it attached after signing instead.
  public let signsSessionToken: Bool

  public init(
    credentials: AWSCredentials, region: String, service: String = "s3", normalizesPath: Bool = false,
    signsSessionToken: Bool = true
  ) {
    self.credentials = credentials
    self.region = region
    self.service = service
    self.normalizesPath = normalizesPath
    self.signsSessionToken = signsSessionToken
  }

  /// A signed request and the intermediate strings (for tests and for debugging signature mismatches; they
  /// hold no secret, but the request does).
  public struct Result: Sendable {
    /// The request with the signing headers or query parameters added.
    public var request: SignableRequest
    public var canonicalRequest: String
    public var stringToSign: String
    /// The hex signature.
    public var signature: String
  }

  static let algorithm = "AWS4-HMAC-SHA256"

  /// Signs with an `Authorization` header, adding `X-Amz-Date`, the session token and, when
  /// `contentHashHeader` is set (S3 requires it), `X-Amz-Content-SHA256`.
  public func sign(_ request: SignableRequest, payload: PayloadHash, date: Date, contentHashHeader: Bool = true)
    -> Result
  {
    let stamp = Stamp(date)
    var signed = request
    signed.headers.append(.init("X-Amz-Date", stamp.dateTime))
    if contentHashHeader { signed.headers.append(.init("X-Amz-Content-SHA256", payload.value)) }
    if let token = credentials.sessionToken, signsSessionToken {
      signed.headers.append(.init("X-Amz-Security-Token", token))
    }
    let (canonical, signedHeaders) = canonicalRequest(signed, payload: payload)
    let toSign = stringToSign(canonical, stamp)
    let signature = self.signature(toSign, stamp)
    signed.headers.append(
      .init(
        "Authorization",
        "\(Self.algorithm) Credential=\(credentials.accessKeyID)/\(scope(stamp)), SignedHeaders=\(signedHeaders), Signature=\(signature)"
      ))
    if let token = credentials.sessionToken, !signsSessionToken {
      signed.headers.append(.init("X-Amz-Security-Token", token))
    }
    return Result(request: signed, canonicalRequest: canonical, stringToSign: toSign, signature: signature)
  }

  /// Presigns: adds the `X-Amz-*` query parameters, `X-Amz-Signature` last. Every header in `request` is
  /// signed and must be sent with the URL (usually just `Host`).
  public func presign(_ request: SignableRequest, expires seconds: Int, payload: PayloadHash = .unsigned, date: Date)
    -> Result
  {
    let stamp = Stamp(date)
    var signed = request
    signed.query.append(.init("X-Amz-Algorithm", Self.algorithm))
    signed.query.append(.init("X-Amz-Credential", "\(credentials.accessKeyID)/\(scope(stamp))"))
    signed.query.append(.init("X-Amz-Date", stamp.dateTime))
    signed.query.append(.init("X-Amz-Expires", String(seconds)))
    if let token = credentials.sessionToken, signsSessionToken {
      signed.query.append(.init("X-Amz-Security-Token", token))
    }
    signed.query.append(.init("X-Amz-SignedHeaders", Self.canonicalHeaders(request.headers).names))
    let (canonical, _) = canonicalRequest(signed, payload: payload)
    let toSign = stringToSign(canonical, stamp)
    let signature = self.signature(toSign, stamp)
    signed.query.append(.init("X-Amz-Signature", signature))
    if let token = credentials.sessionToken, !signsSessionToken {
      signed.query.append(.init("X-Amz-Security-Token", token))
    }
    return Result(request: signed, canonicalRequest: canonical, stringToSign: toSign, signature: signature)
  }

  // MARK: The steps

  /// The canonical request and the signed-header list.
  func canonicalRequest(_ request: SignableRequest, payload: PayloadHash) -> (String, String) {
    let path = normalizesPath ? Self.normalize(request.path) : request.path
    let uri = AWSURIEncoding.encode(path.isEmpty ? "/" : path, keepingSlashes: true)
    let encoded: [(name: String, value: String)] = request.query.map {
      (AWSURIEncoding.encode($0.name), AWSURIEncoding.encode($0.value))
    }
    let sorted = encoded.sorted { a, b in a.name == b.name ? a.value < b.value : a.name < b.name }
    let query = sorted.map { "\($0.name)=\($0.value)" }.joined(separator: "&")
    let headers = Self.canonicalHeaders(request.headers)
    let canonical = [request.method, uri, query, headers.block, headers.names, payload.value].joined(separator: "\n")
    return (canonical, headers.names)
  }

  func stringToSign(_ canonicalRequest: String, _ stamp: Stamp) -> String {
    [Self.algorithm, stamp.dateTime, scope(stamp), SHA256.hex(canonicalRequest)].joined(separator: "\n")
  }

  func signature(_ stringToSign: String, _ stamp: Stamp) -> String {
    var key = HMAC.sha256(key: Array("AWS4\(credentials.secretAccessKey)".utf8), data: stamp.date.utf8)
    for part in [region, service, "aws4_request"] { key = HMAC.sha256(key: key, data: part.utf8) }
    return Hex.encode(HMAC.sha256(key: key, data: stringToSign.utf8))
  }

  private func scope(_ stamp: Stamp) -> String { "\(stamp.date)/\(region)/\(service)/aws4_request" }

  /// Header lines sorted by lowercase name, repeated names joined with commas in arrival order, values
  /// trimmed with inner runs of whitespace collapsed to one space.
  static func canonicalHeaders(_ headers: [SignableRequest.HeaderField]) -> (block: String, names: String) {
    var order: [String] = []
    var values: [String: [String]] = [:]
    for header in headers {
      let name = header.name.lowercased()
      if values[name] == nil { order.append(name) }
      let value = header.value.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" })
        .joined(separator: " ")
      values[name, default: []].append(value)
    }
    let names = order.sorted()
    let block = names.map { "\($0):\(values[$0]!.joined(separator: ","))\n" }.joined()
    return (block, names.joined(separator: ";"))
  }

  /// RFC 3986 dot-segment removal plus collapsing of empty segments, keeping a trailing slash.
  static func normalize(_ path: String) -> String {
    var segments: [Substring] = []
    let parts = path.split(separator: "/", omittingEmptySubsequences: false)
    for part in parts {
      switch part {
      case "", ".": continue
      case "..": _ = segments.popLast()
      default: segments.append(part)
      }
    }
    let endsInDirectory = path.hasSuffix("/") || parts.last == "." || parts.last == ".."
    let joined = "/" + segments.joined(separator: "/")
    return endsInDirectory && !segments.isEmpty ? joined + "/" : joined
  }

  /// The request time as SigV4 writes it.
  struct Stamp {
    /// `20150830T123600Z`
    let dateTime: String
    /// `20150830`
    let date: String

    init(_ date: Date) {
      var t = time_t(date.timeIntervalSince1970.rounded(.down))
      var parts = tm()
      gmtime_r(&t, &parts)
      let text = String(
        format: "%04d%02d%02dT%02d%02d%02dZ", Int(parts.tm_year) + 1900, Int(parts.tm_mon) + 1, Int(parts.tm_mday),
        Int(parts.tm_hour), Int(parts.tm_min), Int(parts.tm_sec))
      dateTime = text
      self.date = String(text.prefix(8))
    }
  }
}
