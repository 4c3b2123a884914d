import SigV4

/// Where a job reads its input or writes an output, as the client gave it, validated. Codable: a job's stored
/// spec carries its locations (sealed: they hold credentials).
public struct Location: Sendable, Equatable, Codable {
  /// What the location points at.
  public enum Target: Sendable, Equatable, Codable {
    /// An http(s) URL, public or pre-signed, kept byte for byte as the client sent it.
    case http(url: String, presigned: PresignedURL?)
    /// An object in S3 (or the configured S3-compatible store), key taken literally.
    case s3(bucket: String, key: String)
    /// A key in Ferry's temporary storage, taken literally; resolved per app key by the storage layer.
    case dlb(key: String)
  }

  /// Credentials that came with the location.
  public enum Auth: Sendable, Equatable, Codable {
    /// AWS keys for `s3://` locations; `region` overrides `s3.region`.
    case aws(AWSCredentials, region: String?)
    /// HTTP basic authentication for http(s) locations.
    case basic(username: String, password: String)
  }

  public var target: Target
  public var auth: Auth?

  public init(target: Target, auth: Auth? = nil) {
    self.target = target
    self.auth = auth
  }

  /// The location for logs, errors and job listings: no signature, token, secret or user-info.
  public var redacted: String {
    switch target {
    case .http(let url, _): Redaction.url(url) + (auth == nil ? "" : " (with credentials)")
    case .s3(let bucket, let key): "s3://\(bucket)/\(key)" + (auth == nil ? "" : " (with keys)")
    case .dlb(let key): "dlb://\(key)"
    }
  }

  /// When a pre-signed URL stops working; nil for locations that do not expire.
  public var expiry: PresignedURL.Expiry? {
    if case .http(_, let presigned?) = target { return presigned.expiry }
    return nil
  }
}

extension Location {
  /// The file `name` under this location taken as a folder (its key a prefix, empty or ending in `/`), with
  /// the same credentials. An http(s) URL names one file and has nothing under it: nil.
  public func appending(_ name: String) -> Location? {
    switch target {
    case .s3(let bucket, let key): Location(target: .s3(bucket: bucket, key: key + name), auth: auth)
    case .dlb(let key): Location(target: .dlb(key: key + name), auth: auth)
    case .http: nil
    }
  }
}
