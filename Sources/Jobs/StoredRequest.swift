import Foundation
import JSON
import Problems

/// What the store seals for a job: the operation's spec with its version, and the job's `on_complete`.
///
/// Encoded as a marker byte, the format, then JSON. Releases before typed specs sealed the client's raw JSON
/// body, which starts with `{` or JSON whitespace and never with the marker: such a job, queued before an
/// upgrade, is validated from its body when it runs, as it would have been then.
public struct StoredRequest<Spec: JobSpec>: Sendable, Equatable {
  public var spec: Spec
  public var onComplete: Callback?

  public init(spec: Spec, onComplete: Callback? = nil) {
    self.spec = spec
    self.onComplete = onComplete
  }

  /// The sealed payload's bytes.
  public func encoded() -> [UInt8] {
    let envelope = Envelope(specVersion: Spec.version, spec: spec, onComplete: onComplete)
    // Encoding plain Codable values cannot fail (no custom encoder here throws).
    let json = try! StoredRequestFormat.encoder.encode(envelope)
    return StoredRequestFormat.header + Array(json)
  }

  /// The stored request in `payload`; `legacy` validates a raw body stored by a release before typed specs.
  public static func decode(
    _ payload: [UInt8], legacy: (JSONValue) throws(InvalidRequest) -> Spec
  ) throws(JobFailure) -> StoredRequest {
    guard StoredRequestFormat.isTyped(payload) else {
      let body = try StoredRequestFormat.legacyBody(payload)
      do {
        let spec = try legacy(body)
        var onComplete: Callback?
        if let value = body.object?["on_complete"], value != .null {
          onComplete = try Callback.parse(value, field: "on_complete", allowBody: true)
        }
        return StoredRequest(spec: spec, onComplete: onComplete)
      } catch {
        throw StoredRequestFormat.unreadable("a request stored by an earlier release no longer passes: \(error)")
      }
    }
    let envelope: Envelope
    do {
      envelope = try StoredRequestFormat.decoder.decode(
        Envelope.self, from: Data(payload[StoredRequestFormat.header.count...]))
    } catch {
      throw StoredRequestFormat.unreadable("the stored request cannot be decoded")
    }
    guard envelope.specVersion <= Spec.version else {
      throw StoredRequestFormat.unreadable(
        "the job was stored by a newer release of Ferry (spec version \(envelope.specVersion), this one reads "
          + "\(Spec.version))")
    }
    return StoredRequest(spec: envelope.spec, onComplete: envelope.onComplete)
  }

  private struct Envelope: Codable {
    var specVersion: Int
    var spec: Spec
    var onComplete: Callback?

    enum CodingKeys: String, CodingKey {
      case specVersion = "spec_version"
      case spec
      case onComplete = "on_complete"
    }
  }
}

/// The stored request's format, apart from its spec's type: what the webhook dispatcher needs to find a job's
/// `on_complete` without knowing its operation.
public enum StoredRequestFormat {
  /// A NUL (never the first byte of a JSON body) and the format's number.
  static let header: [UInt8] = [0, 2]
  static let encoder = JSONEncoder()
  static let decoder = JSONDecoder()

  static func isTyped(_ payload: [UInt8]) -> Bool { payload.starts(with: header) }

  /// The `on_complete` callback of a stored request, whatever its operation.
  public static func onComplete(_ payload: [UInt8]) throws(JobFailure) -> Callback? {
    guard isTyped(payload) else {
      guard let value = try legacyBody(payload).object?["on_complete"], value != .null else { return nil }
      do {
        return try Callback.parse(value, field: "on_complete", allowBody: true)
      } catch {
        throw unreadable("the stored on_complete no longer passes: \(error)")
      }
    }
    struct OnCompleteOnly: Decodable {
      var onComplete: Callback?
      enum CodingKeys: String, CodingKey { case onComplete = "on_complete" }
    }
    do {
      return try decoder.decode(OnCompleteOnly.self, from: Data(payload[header.count...])).onComplete
    } catch {
      throw unreadable("the stored request cannot be decoded")
    }
  }

  static func legacyBody(_ payload: [UInt8]) throws(JobFailure) -> JSONValue {
    guard let body = try? JSONValue.parse(Data(payload)) else {
      throw unreadable("the stored request is neither a typed spec nor JSON")
    }
    return body
  }

  static func unreadable(_ detail: String) -> JobFailure {
    JobFailure(.internalError, detail)
  }
}
