import Foundation
import JSON
import Locations
import Problems

/// What the store seals for a job: the operation's spec with its version, and the job's `on_complete`.
///
/// Encoded as a NUL byte, the format's number, then JSON. Releases before typed specs sealed the client's raw
/// JSON body, which starts with `{` or JSON whitespace and never with a NUL: such a job, queued before an
/// upgrade, is validated from its body when it runs, as it would have been then.
public struct StoredRequest<Spec: JobSpec>: Sendable, Equatable {
  /// The job's spec, as its operation validated it.
  public var spec: Spec
  /// The job's own callback, called once when it ends.
  public var onComplete: Callback?

  public init(spec: Spec, onComplete: Callback? = nil) {
    self.spec = spec
    self.onComplete = onComplete
  }

  /// The sealed payload's bytes. Throws only on a value JSON cannot hold (a non-finite number), which
  /// validation never lets through: a bug, answered as a logged 500 before anything is stored.
  @inlinable
  public func encoded() throws -> [UInt8] {
    let envelope = Envelope(specVersion: Spec.version, spec: spec, onComplete: onComplete)
    return StoredRequestFormat.header + (try JSONValueEncoder().encode(envelope).bytes)
  }

  /// The stored request in `payload`; `legacy` validates a raw body stored by a release before typed specs.
  public static func decode(
    _ payload: [UInt8], legacy: (JSONValue) throws(InvalidRequest) -> Spec
  ) throws(JobFailure) -> StoredRequest {
    guard let json = try StoredRequestFormat.typedJSON(payload) else {
      let body = try StoredRequestFormat.legacyBody(payload)
      let spec: Spec
      do {
        spec = try legacy(body)
      } catch {
        throw StoredRequestFormat.unreadable("a request stored by an earlier release no longer passes: \(error)")
      }
      // 0.1.0 read on_complete only to deliver it: one that no longer passes fails that delivery (the
      // dispatcher reads it again), not the job.
      let onComplete = try? StoredRequestFormat.legacyOnComplete(body)
      return StoredRequest(spec: spec, onComplete: onComplete)
    }
    // The version first: a newer release may have changed the spec's shape, and then decoding the spec fails.
    let version: Int
    do {
      version = try StoredRequestFormat.decoder.decode(SpecVersion.self, from: json).specVersion
    } catch {
      throw StoredRequestFormat.unreadable("the stored request cannot be decoded")
    }
    guard version <= Spec.version else {
      throw StoredRequestFormat.newerRelease("spec version \(version); this release reads up to \(Spec.version)")
    }
    do {
      let envelope = try StoredRequestFormat.decoder.decode(Envelope.self, from: json)
      return StoredRequest(spec: envelope.spec, onComplete: envelope.onComplete)
    } catch {
      throw StoredRequestFormat.unreadable("the stored request cannot be decoded")
    }
  }

  @usableFromInline
  struct Envelope: Codable {
    @usableFromInline var specVersion: Int
    @usableFromInline var spec: Spec
    @usableFromInline var onComplete: Callback?

    @usableFromInline
    init(specVersion: Int, spec: Spec, onComplete: Callback?) {
      self.specVersion = specVersion
      self.spec = spec
      self.onComplete = onComplete
    }

    enum CodingKeys: String, CodingKey {
      case specVersion = "spec_version"
      case spec
      case onComplete = "on_complete"
    }
  }

  private struct SpecVersion: Decodable {
    var specVersion: Int
    enum CodingKeys: String, CodingKey { case specVersion = "spec_version" }
  }
}

/// The stored request's format, apart from its spec's type: what the webhook dispatcher needs to find a job's
/// `on_complete` without knowing its operation.
public enum StoredRequestFormat {
  /// The format this release writes: 2 (1 was the raw body).
  static let format: UInt8 = 2
  @usableFromInline static let header: [UInt8] = [0, format]
  static let decoder = JSONDecoder()

  /// The JSON of a typed payload; nil for a raw body (no NUL first). Throws for a format this release does
  /// not know (written by a newer one).
  static func typedJSON(_ payload: [UInt8]) throws(JobFailure) -> Data? {
    guard payload.first == 0 else { return nil }
    guard payload.count >= header.count, payload[1] == format else {
      throw newerRelease("stored format \(payload.count > 1 ? String(payload[1]) : "?"); this release reads 2")
    }
    return Data(payload[header.count...])
  }

  /// The `on_complete` callback of a stored request, whatever its operation.
  public static func onComplete(_ payload: [UInt8]) throws(JobFailure) -> Callback? {
    guard let json = try typedJSON(payload) else {
      do {
        return try legacyOnComplete(try legacyBody(payload))
      } catch let failure as JobFailure {
        throw failure
      } catch {
        throw unreadable("the stored on_complete no longer passes: \(error)")
      }
    }
    struct OnCompleteOnly: Decodable {
      var onComplete: Callback?
      enum CodingKeys: String, CodingKey { case onComplete = "on_complete" }
    }
    do {
      return try decoder.decode(OnCompleteOnly.self, from: json).onComplete
    } catch {
      throw unreadable("the stored request cannot be decoded")
    }
  }

  static func legacyOnComplete(_ body: JSONValue) throws(InvalidRequest) -> Callback? {
    guard let value = body.object?["on_complete"], value != .null else { return nil }
    return try Callback.parse(value, field: "on_complete", allowBody: true)
  }

  static func legacyBody(_ payload: [UInt8]) throws(JobFailure) -> JSONValue {
    guard let body = try? JSONValue.parse(Data(payload)) else {
      throw unreadable("the stored request is neither a typed spec nor JSON")
    }
    return body
  }

  static func unreadable(_ detail: String) -> JobFailure { JobFailure(.internalError, detail) }

  static func newerRelease(_ what: String) -> JobFailure {
    JobFailure(.internalError, "the job was stored by a newer release of Ferry (\(what)); run it on that release")
  }
}
