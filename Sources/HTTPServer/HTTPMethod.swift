/// A request method token, kept as sent (methods are case-sensitive).
public struct HTTPMethod: Hashable, Sendable, CustomStringConvertible, ExpressibleByStringLiteral {
  /// The method as sent (`GET`).
  public let rawValue: String

  public init(_ rawValue: String) { self.rawValue = rawValue }
  public init(stringLiteral value: String) { rawValue = value }

  public var description: String { rawValue }

  public static let get: HTTPMethod = "GET"
  public static let head: HTTPMethod = "HEAD"
  public static let post: HTTPMethod = "POST"
  public static let put: HTTPMethod = "PUT"
  public static let delete: HTTPMethod = "DELETE"
  public static let patch: HTTPMethod = "PATCH"
  public static let options: HTTPMethod = "OPTIONS"
}

/// The protocol version of a request.
public enum HTTPVersion: Sendable, Equatable {
  case http1_0
  case http1_1
}
