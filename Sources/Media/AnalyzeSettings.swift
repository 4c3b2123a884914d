import JSON
import Jobs
import Locations

/// What an analyze request asks for, checked, with defaults.
public struct AnalyzeSettings: Sendable, Equatable, Codable {
  /// `1770-1` gates absolutely only; later revisions add the relative gate.
  public var meteringMode: String = "1770-4"
  /// Measure loudness over speech only (Ferry's estimate: see `AnalyzeWork`), when enough of it is found.
  public var dialogIntelligence = false
  /// The share of speech (percent) needed for speech gating; below it, level gating is used.
  public var speechThreshold: Double = 15
  /// Silence: quieter than this (dBFS) for at least `silenceDuration` seconds.
  public var silenceThreshold: Double = -60
  public var silenceDuration: Double = 1
  /// Validation limits, when asked for.
  public var loudnessMax: Double?
  public var loudnessMin: Double?
  public var truePeakMax: Double?

  public static let meteringModes = ["1770-1", "1770-2", "1770-3", "1770-4"]

  public init() {}

  public init(request: JSONValue) throws(InvalidRequest) {
    let root = request.object ?? [:]
    func object(_ value: JSONValue?, _ field: String) throws(InvalidRequest) -> [String: JSONValue] {
      guard let value, value != .null else { return [:] }
      guard case .object(let o) = value else { throw InvalidRequest(field, "must be an object") }
      return o
    }
    func number(_ value: JSONValue?, _ field: String, _ range: ClosedRange<Double>) throws(InvalidRequest) -> Double? {
      try RequestField.number(value, field, range)
    }
    let loudness = try object(root["loudness"], "loudness")
    if let mode = loudness["metering_mode"] {
      guard let text = mode.string, Self.meteringModes.contains(text) else {
        throw InvalidRequest("loudness.metering_mode", "must be one of \(Self.meteringModes.joined(separator: ", "))")
      }
      meteringMode = text
    }
    if let value = loudness["dialog_intelligence"], value != .null {
      guard case .bool(let b) = value else {
        throw InvalidRequest("loudness.dialog_intelligence", "must be true or false")
      }
      dialogIntelligence = b
    }
    speechThreshold = try number(loudness["speech_threshold"], "loudness.speech_threshold", 0...100) ?? speechThreshold
    let content = try object(root["content"], "content")
    let silence = try object(content["silence"], "content.silence")
    silenceThreshold = try number(silence["threshold"], "content.silence.threshold", -120...0) ?? silenceThreshold
    silenceDuration = try number(silence["duration"], "content.silence.duration", 0.1...3600) ?? silenceDuration
    let validation = try object(try object(root["validation"], "validation")["loudness"], "validation.loudness")
    loudnessMax = try number(validation["loudness_max"], "validation.loudness.loudness_max", -70...0)
    loudnessMin = try number(validation["loudness_min"], "validation.loudness.loudness_min", -70...0)
    truePeakMax = try number(validation["true_peak_max"], "validation.loudness.true_peak_max", -70...6)
  }
}
