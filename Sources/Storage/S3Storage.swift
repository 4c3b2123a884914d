import Crypto
import Foundation
import Locations
import SigV4
import Transfer

/// Ferry's temporary storage (`dlb://` keys) in an S3 bucket, for several nodes sharing it
/// (`storage.kind = "s3"`): `<prefix><hex SHA-256 of the app key>/<key>`, read and written with Ferry's own
/// keys. Clients get S3 pre-signed URLs instead of URLs on Ferry, so uploads and downloads go straight to
/// the bucket.
public struct S3Storage: Sendable {
  public let bucket: String
  /// `storage.s3.prefix`, with a trailing `/` when not empty.
  public let prefix: String
  public let credentials: AWSCredentials
  /// `storage.s3.region`, or nil for the addressing's default.
  public let region: String?
  /// Requests on the storage's endpoint (trusted by the network policy: the operator configured it).
  public let requests: LocationRequests
  public let client: TransferClient

  public init(
    bucket: String, prefix: String, credentials: AWSCredentials, region: String?, addressing: S3Addressing,
    client: TransferClient
  ) {
    self.bucket = bucket
    self.prefix = prefix.isEmpty || prefix.hasSuffix("/") ? prefix : prefix + "/"
    self.credentials = credentials
    self.region = region
    self.requests = LocationRequests(s3: S3Requests(addressing: addressing))
    self.client = client
  }

  /// The object key that holds `key` for `owner`.
  public func objectKey(owner: String, key: String) -> String {
    prefix + LocalStorage.namespace(owner: owner) + "/" + key
  }

  /// `key` of `owner` as an `s3://` location with Ferry's keys, to read or write like any other.
  public func location(owner: String, key: String) -> Location {
    Location(
      target: .s3(bucket: bucket, key: objectKey(owner: owner, key: key)), auth: .aws(credentials, region: region))
  }

  /// A pre-signed URL for `method` (GET or PUT) on `key` of `owner`, valid `lifetime` seconds from `now`. It
  /// signs only `Host`, so any client can use it as it is (no Content-Type or checksum to match).
  public func presignedURL(method: String, owner: String, key: String, lifetime: Int, now: Date) -> String {
    let address = requests.s3.addressing.address(bucket: bucket, key: objectKey(owner: owner, key: key), region: region)
    let signer = SigV4Signer(credentials: credentials, region: address.region)
    let signed = signer.presign(
      SignableRequest(method: method, path: address.path, headers: [.init("Host", address.host)]), expires: lifetime,
      date: now)
    let query = signed.request.query.map { "\(AWSURIEncoding.encode($0.name))=\(AWSURIEncoding.encode($0.value))" }
    return address.url + "?" + query.joined(separator: "&")
  }

  /// Whether `key` of `owner` exists (a HEAD on the object).
  public func exists(owner: String, key: String) throws(TransferError) -> Bool {
    let request = requests.s3.request(
      "HEAD", bucket: bucket, key: objectKey(owner: owner, key: key), credentials: credentials, region: region,
      payload: .empty)
    do {
      _ = try client.exchange(request, method: "HEAD")
      return true
    } catch .status(404, _) {
      return false
    }
  }

  /// Deletes objects under the prefix last written before `cutoff` (`storage.retention_h` ago); returns how
  /// many went. Every node may sweep: deleting what another node just deleted is harmless.
  @discardableResult
  public func sweep(before cutoff: Date) throws(TransferError) -> Int {
    var removed = 0
    var continuation: String?
    // Bounded: 10,000 pages of 1,000 keys per sweep; the next sweep goes on.
    for _ in 0..<10_000 {
      var query: [SignableRequest.QueryItem] = [.init("list-type", "2"), .init("prefix", prefix)]
      if let continuation { query.append(.init("continuation-token", continuation)) }
      let page = S3Listing(try call("GET", key: "", query))
      for object in page.objects where object.lastModified < cutoff {
        _ = try call("DELETE", key: object.key)
        removed += 1
      }
      guard page.truncated, let next = page.continuation else { break }
      continuation = next
    }
    return removed
  }

  /// Aborts the multipart uploads under the prefix started before `cutoff` (one that old is no live
  /// transfer's: `transfer.max_duration_s` cuts every attempt sooner), so the parts of a node that died
  /// mid-upload do not stay in the bucket; returns how many were aborted. Every node may sweep: aborting what
  /// another node just aborted is harmless.
  @discardableResult
  public func abortUploads(startedBefore cutoff: Date) throws(TransferError) -> Int {
    var aborted = 0
    var markers: (key: String, uploadID: String)?
    // Bounded: 1,000 pages of 1,000 uploads per sweep; the next sweep goes on.
    for _ in 0..<1_000 {
      var query: [SignableRequest.QueryItem] = [.init("uploads", ""), .init("prefix", prefix)]
      if let markers { query += [.init("key-marker", markers.key), .init("upload-id-marker", markers.uploadID)] }
      let page = S3UploadListing(try call("GET", key: "", query))
      for upload in page.uploads where upload.initiated < cutoff {
        do throws(TransferError) {
          _ = try call("DELETE", key: upload.key, [.init("uploadId", upload.uploadID)])
          aborted += 1
        } catch .status(404, _) {
          continue  // completed or aborted meanwhile
        }
      }
      guard page.truncated, let next = page.next else { break }
      markers = next
    }
    return aborted
  }

  /// One bodiless request to the bucket with the storage's credentials; the answer's body.
  private func call(_ method: String, key: String, _ query: [SignableRequest.QueryItem] = []) throws(TransferError)
    -> [UInt8]
  {
    try client.exchange(
      requests.s3.request(
        method, bucket: bucket, key: key, query: query, credentials: credentials, region: region, payload: .empty),
      method: method
    ).body
  }
}

/// One page of a ListMultipartUploads answer: each upload's key, id and start, and where to go on.
struct S3UploadListing {
  struct Upload {
    var key: String
    var uploadID: String
    var initiated: Date
  }
  var uploads: [Upload] = []
  var truncated = false
  var next: (key: String, uploadID: String)?

  init(_ xml: [UInt8]) {
    let text = String(decoding: xml, as: UTF8.self)
    for entry in S3XML.elements("Upload", in: text) {
      if let key = S3XML.element("Key", in: entry), let id = S3XML.element("UploadId", in: entry),
        let initiated = S3XML.element("Initiated", in: entry).flatMap(S3Listing.date)
      {
        uploads.append(Upload(key: key, uploadID: id, initiated: initiated))
      }
    }
    truncated = S3XML.element("IsTruncated", in: text[...]) == "true"
    if let key = S3XML.element("NextKeyMarker", in: text[...]),
      let id = S3XML.element("NextUploadIdMarker", in: text[...])
    {
      next = (key, id)
    }
  }
}

/// One page of a ListObjectsV2 answer: the keys and their last-modified times, and where to go on.
struct S3Listing {
  struct Object {
    var key: String
    var lastModified: Date
  }
  var objects: [Object] = []
  var truncated = false
  var continuation: String?

  init(_ xml: [UInt8]) {
    let text = String(decoding: xml, as: UTF8.self)
    for entry in S3XML.elements("Contents", in: text) {
      if let key = S3XML.element("Key", in: entry), let modified = S3XML.element("LastModified", in: entry),
        let date = Self.date(modified)
      {
        objects.append(Object(key: key, lastModified: date))
      }
    }
    truncated = S3XML.element("IsTruncated", in: text[...]) == "true"
    continuation = S3XML.element("NextContinuationToken", in: text[...])
  }

  /// `2026-11-29T12:00:00.000Z` (S3) or without fractional seconds.
  static func date(_ text: String) -> Date? {
    withFraction.date(from: text) ?? withoutFraction.date(from: text)
  }

  // Made once: a listing page holds up to 1,000 dates. (Formatters are thread-safe for reading.)
  nonisolated(unsafe) private static let withFraction: ISO8601DateFormatter = {
    let formatter = ISO8601DateFormatter()
    formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
    return formatter
  }()
  nonisolated(unsafe) private static let withoutFraction = ISO8601DateFormatter()
}
