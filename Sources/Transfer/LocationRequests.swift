import Crypto
import Locations
import SigV4

/// The request that reads or writes a `Location`. Pre-signed URLs are used byte for byte, and the headers
/// their signature covers become requirements: Ferry sends the ones it can know (`Content-Type` as
/// `application/octet-stream`, `Content-Length` from the file) and refuses the location up front when the URL
/// signed a header whose value it cannot know, rather than failing at upload time with a signature error.
/// `dlb://` locations are Ferry's own storage and are resolved before this point.
public struct LocationRequests: Sendable {
  public let s3: S3Requests

  public init(s3: S3Requests) {
    self.s3 = s3
  }

  /// The GET for an input at `field`.
  public func read(_ location: Location, field: String) throws(LocationError) -> OutboundRequest {
    switch location.target {
    case .http(let url, let presigned):
      // A GET carries no body headers: any signed header besides Host cannot be matched.
      if let header = presigned?.signedHeaders.first {
        throw LocationError(
          field, "the URL's signature covers the header \(header), which a download does not send; pre-sign it without")
      }
      return OutboundRequest(url: url, basicAuth: basic(location), expiry: presigned?.expiry.date)
    case .s3(let bucket, let key):
      let (credentials, region) = aws(location)
      return s3.get(bucket: bucket, key: key, credentials: credentials, region: region)
    case .dlb:
      throw LocationError(field, "dlb:// locations are read from Ferry's temporary storage, not over HTTP")
    }
  }

  /// The PUT for an output at `field` of the file at `path`, with its media type. Integrity is checked by
  /// the store: signed `s3://` PUTs carry the body's SHA-256 in the signature, V4 pre-signed S3 and GCS PUTs
  /// a `Content-MD5`. Azure's Put Blob also needs `x-ms-blob-type`.
  public func write(_ location: Location, field: String, file path: String, contentType: String?)
    throws(LocationError) -> OutboundRequest
  {
    func digest(_ compute: () throws -> String) throws(LocationError) -> String {
      do { return try compute() } catch { throw LocationError(field, "the file to upload cannot be read") }
    }
    switch location.target {
    case .http(let url, let presigned):
      try Self.requireKnowable(presigned, field: field)
      var headers: [(name: String, value: String)] = []
      if presigned?.signedHeaders.contains("content-type") == true {
        // The URL does not say which value was signed. Dolby sends this one (its own GCS sample signs
        // content_type="application/octet-stream"), so a URL made for Dolby works here unchanged.
        headers.append((name: "Content-Type", value: Self.signedContentType))
      } else if let contentType, presigned == nil {
        headers.append((name: "Content-Type", value: contentType))
      }
      switch presigned?.scheme {
      case .awsV4?, .gcsV4?:
        headers.append((name: "Content-MD5", value: try digest { try MD5.base64OfFile(path) }))
      case .azureSAS?:
        headers.append((name: "x-ms-blob-type", value: "BlockBlob"))
      case .awsV2?, nil:
        // V2 signatures cover Content-MD5 and Content-Type themselves: adding either breaks them.
        break
      }
      return OutboundRequest(url: url, headers: headers, basicAuth: basic(location), expiry: presigned?.expiry.date)
    case .s3(let bucket, let key):
      let (credentials, region) = aws(location)
      let hash = try digest { Hex.encode(try SHA256.hashFile(path)) }
      var request = s3.put(bucket: bucket, key: key, payloadSHA256: hash, credentials: credentials, region: region)
      if let contentType { request.headers.append((name: "Content-Type", value: contentType)) }
      return request
    case .dlb:
      throw LocationError(field, "dlb:// locations are written to Ferry's temporary storage, not over HTTP")
    }
  }

  /// The `Content-Type` of a PUT to a pre-signed URL whose signature covers that header.
  public static let signedContentType = "application/octet-stream"

  /// Headers a signature may cover that Ferry can send with the right value.
  static let knowable: Set<String> = ["content-length", "content-type", "content-md5"]

  static func requireKnowable(_ presigned: PresignedURL?, field: String) throws(LocationError) {
    guard let presigned else { return }
    for header in presigned.signedHeaders where !knowable.contains(header) {
      throw LocationError(
        field,
        "the URL's signature covers the header \(header), whose value Ferry cannot know; pre-sign it without that header"
      )
    }
  }

  private func basic(_ location: Location) -> (username: String, password: String)? {
    if case .basic(let username, let password)? = location.auth { return (username, password) }
    return nil
  }

  private func aws(_ location: Location) -> (AWSCredentials?, String?) {
    if case .aws(let credentials, let region)? = location.auth { return (credentials, region) }
    return (nil, nil)
  }
}
