import Foundation
import Locations

/// A job's request as its operation validated it: the typed value a worker runs, made once at submission.
/// The store keeps it sealed (`StoredRequest`), so a worker never reads the client's JSON again.
public protocol JobSpec: Codable, Sendable, Equatable {
  /// The version of this spec's stored shape. Raise it when a change would make older stored specs decode
  /// wrongly; a spec stored with a higher version than the running release knows is refused, not guessed at.
  static var version: Int { get }
  /// The locations the job reads.
  var reads: [Location] { get }
  /// The locations the job writes (their earliest expiry is the job's deadline).
  var writes: [Location] { get }
}

extension JobSpec {
  public static var version: Int { 1 }
}
