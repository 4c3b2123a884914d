import Foundation
import Locations

/// A job's request as its operation validated it: the typed value a worker runs, made once at submission.
/// The store keeps it sealed (`StoredRequest`), so a worker never reads the client's JSON again.
public protocol JobSpec: Codable, Sendable, Equatable {
  /// The version of this spec's stored shape. A spec stored with a higher version than the running release
  /// knows ends its job with an error that says so, rather than being guessed at. Changes that older stored
  /// specs still decode under (a new optional field) keep the version; a change that would read an older
  /// spec wrongly raises it, and must then decode the older versions still queued itself.
  static var version: Int { get }
  /// The locations the job reads.
  var reads: [Location] { get }
  /// The locations the job writes (their earliest expiry is the job's deadline).
  var writes: [Location] { get }
}

extension JobSpec {
  public static var version: Int { 1 }
}
