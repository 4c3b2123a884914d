import Foundation
import Locations
import SigV4

/// Requests for `s3://bucket/key` objects: addressed by `S3Addressing` (keys encoded once) and, with
/// credentials, signed with SigV4 at the start of each attempt (so a retry after a long backoff still carries
/// a fresh signature). Without credentials the request is anonymous (public objects).
public struct S3Requests: Sendable {
  public let addressing: S3Addressing

  public init(addressing: S3Addressing) {
    self.addressing = addressing
  }

  /// A GET of the object.
  public func get(bucket: String, key: String, credentials: AWSCredentials?, region: String?) -> OutboundRequest {
    request("GET", bucket: bucket, key: key, credentials: credentials, region: region, payload: .empty)
  }

  /// A PUT of a body whose SHA-256 is `payloadSHA256` (hex): S3 checks the body against it.
  public func put(bucket: String, key: String, payloadSHA256: String, credentials: AWSCredentials?, region: String?)
    -> OutboundRequest
  {
    request("PUT", bucket: bucket, key: key, credentials: credentials, region: region, payload: .sha256(payloadSHA256))
  }

  /// Any request on the object, with query parameters (`uploads`, `partNumber`, `uploadId`).
  public func request(
    _ method: String, bucket: String, key: String, query: [SignableRequest.QueryItem] = [],
    credentials: AWSCredentials?, region: String?, payload: PayloadHash
  ) -> OutboundRequest {
    let address = addressing.address(bucket: bucket, key: key, region: region)
    let queryText = query.map { "\(AWSURIEncoding.encode($0.name))=\(AWSURIEncoding.encode($0.value))" }
      .joined(separator: "&")
    let url = queryText.isEmpty ? address.url : address.url + "?" + queryText
    // The operator configured s3.endpoint: the network policy trusts it (AWS itself needs no trust).
    let trusted = addressing.endpoint != nil
    var outbound = OutboundRequest(url: url, trusted: trusted)
    if let credentials {
      let signer = SigV4Signer(credentials: credentials, region: address.region)
      outbound.signer = { date in
        // curl sends Host from the URL; S3Addressing made both from the same authority.
        let unsigned = SignableRequest(
          method: method, path: address.path, query: query, headers: [.init("Host", address.host)])
        let signed = signer.sign(unsigned, payload: payload, date: date)
        return signed.request.headers.dropFirst().map { (name: $0.name, value: $0.value) }
      }
    }
    // If S3 answers that the bucket lives elsewhere, the same request there (readdressed and re-signed).
    outbound.inRegion = { [self] other in
      request(method, bucket: bucket, key: key, query: query, credentials: credentials, region: other, payload: payload)
    }
    return outbound
  }
}
