/// An access key, its secret and an optional session token (STS). Never log these.
public struct AWSCredentials: Sendable, Equatable, Codable {
  public var accessKeyID: String
  public var secretAccessKey: String
  public var sessionToken: String?

  public init(accessKeyID: String, secretAccessKey: String, sessionToken: String? = nil) {
    self.accessKeyID = accessKeyID
    self.secretAccessKey = secretAccessKey
    self.sessionToken = sessionToken
  }
}

/// The request a signer sees: method, the decoded path and query, and the headers to sign (with `Host`).
public struct SignableRequest: Sendable, Equatable {
  public var method: String
  /// The path as raw characters, not percent-encoded (`/bucket/my key.wav`); the signer encodes it.
  public var path: String
  /// Query parameters, decoded; the signer encodes them.
  public var query: [QueryItem]
  /// Headers to sign; every one of them must be sent with exactly these values.
  public var headers: [HeaderField]

  public init(method: String, path: String, query: [QueryItem] = [], headers: [HeaderField]) {
    self.method = method
    self.path = path
    self.query = query
    self.headers = headers
  }

  /// A query parameter, decoded.
  public struct QueryItem: Sendable, Equatable {
    public var name: String
    public var value: String
    public init(_ name: String, _ value: String) {
      self.name = name
      self.value = value
    }
  }

  /// A header field.
  public struct HeaderField: Sendable, Equatable {
    public var name: String
    public var value: String
    public init(_ name: String, _ value: String) {
      self.name = name
      self.value = value
    }
  }
}

/// What the signature says about the body.
public enum PayloadHash: Sendable, Equatable {
  /// `UNSIGNED-PAYLOAD`: the body is not covered (S3 accepts it; presigned URLs use it).
  case unsigned
  /// The hex SHA-256 of the body.
  case sha256(String)

  /// The hash of an empty body.
  public static let empty = PayloadHash.sha256("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")

  var value: String {
    switch self {
    case .unsigned: "UNSIGNED-PAYLOAD"
    case .sha256(let hex): hex
    }
  }
}
