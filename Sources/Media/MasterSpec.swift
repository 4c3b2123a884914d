import Foundation
import JSON
import Jobs
import Locations

/// What one master output asks for (`outputs[i].master`), with Ferry's defaults filled in.
public struct MasterSettings: Sendable, Equatable, Codable {
  /// The profile's letter when `dynamic_eq` is on; nil when it is off.
  public var preset: String?
  /// 0 (no change) to 100 (the full profile).
  public var intensity: Double
  /// Loudness correction to `targetLevel` (LUFS).
  public var loudness: Bool
  public var targetLevel: Double
  /// Stereo widening.
  public var stereoImage: Bool

  /// `dynamic_eq` on with no preset: profile `i` (Balance: "a well rounded, balanced tone").
  public static let defaultPreset = "i"
  /// `intensity` when not given.
  public static let defaultIntensity = 100.0
  /// `loudness.target_level` when not given: what Spotify, YouTube and Tidal play music at.
  public static let defaultTarget = -14.0

  /// The profile, when `dynamic_eq` is on.
  public var profile: MasterProfile? { preset.flatMap(MasterProfile.named) }

  /// Reads `master` (absent: the defaults, every part on but the stereo widening); refusals name `field`.
  init(_ value: JSONValue?, field: String) throws(InvalidRequest) {
    preset = Self.defaultPreset
    intensity = Self.defaultIntensity
    loudness = true
    targetLevel = Self.defaultTarget
    stereoImage = false
    guard let value, value != .null else { return }
    guard case .object(let master) = value else { throw InvalidRequest(field, "must be an object") }
    for key in master.keys.sorted() where !["dynamic_eq", "loudness", "stereo_image"].contains(key) {
      throw InvalidRequest("\(field).\(key)", "unknown field; use dynamic_eq, loudness or stereo_image")
    }
    if let eq = try Self.block(master["dynamic_eq"], "\(field).dynamic_eq", keys: ["enable", "preset", "intensity"]) {
      if try Self.enable(eq, "\(field).dynamic_eq") {
        if let name = eq["preset"], name != .null {
          guard let letter = name.string, let profile = MasterProfile.named(letter) else {
            throw InvalidRequest(
              "\(field).dynamic_eq.preset",
              "unknown preset \(name.string.map { "\"\($0)\"" } ?? "(not a string)"); use one of a to n")
          }
          preset = profile.letter
        }
        intensity =
          try RequestField.number(eq["intensity"], "\(field).dynamic_eq.intensity", 0...100) ?? Self.defaultIntensity
      } else {
        preset = nil
      }
    }
    if let block = try Self.block(master["loudness"], "\(field).loudness", keys: ["enable", "target_level"]) {
      loudness = try Self.enable(block, "\(field).loudness")
      // Dolby's sample app offers -48 to 0; a target above about -6 LUFS cannot be met under a -1 dBTP ceiling
      // on most music, and the result then says what was reached.
      targetLevel =
        try RequestField.number(block["target_level"], "\(field).loudness.target_level", -48...0) ?? Self.defaultTarget
    }
    if let block = try Self.block(master["stereo_image"], "\(field).stereo_image", keys: ["enable"]) {
      stereoImage = try Self.enable(block, "\(field).stereo_image")
    }
  }

  /// Nothing asked for: the output is the input (or its segment) as it is, re-encoded.
  public var isPassThrough: Bool { preset == nil && !loudness && !stereoImage }

  static func block(_ value: JSONValue?, _ field: String, keys: Set<String>) throws(InvalidRequest) -> [String:
    JSONValue]?
  {
    guard let value, value != .null else { return nil }
    guard case .object(let fields) = value else { throw InvalidRequest(field, "must be an object") }
    for key in fields.keys.sorted() where !keys.contains(key) {
      throw InvalidRequest("\(field).\(key)", "unknown field")
    }
    return fields
  }

  /// `enable`: true when absent (a block that is given is meant to be on).
  static func enable(_ fields: [String: JSONValue], _ field: String) throws(InvalidRequest) -> Bool {
    guard let value = fields["enable"], value != .null else { return true }
    guard case .bool(let on) = value else { throw InvalidRequest("\(field).enable", "must be true or false") }
    return on
  }
}

/// A master or preview job as validated: one input (with an optional segment), and up to five outputs,
/// each with its own kind and settings.
public struct MasterSpec: JobSpec {
  public struct Output: Sendable, Equatable, Codable {
    public var destination: Location
    public var kind: MasterKind
    public var settings: MasterSettings
  }

  /// Outputs per request, as Dolby documents for the Music Mastering API.
  public static let maxOutputs = 5
  /// A preview's segment: from 0 s for 30 s unless `segment` says otherwise, and at most 30 s long.
  public static let previewSeconds = 30.0

  public var input: Location
  /// From where, and for how long (nil: to the end), the input is mastered.
  public var segmentStart: Double
  public var segmentDuration: Double?
  /// `inputs[0].metadata` as given (Ferry's profiles do not use it).
  public var genre: String?
  public var tags: [String]?
  public var outputs: [Output]
  /// A preview (`/media/master/preview`) rather than the whole master.
  public var preview: Bool

  public var reads: [Location] { [input] }
  public var writes: [Location] { outputs.map(\.destination) }

  public init(request: JSONValue, preview: Bool) throws(InvalidRequest) {
    self.preview = preview
    let root = request.object ?? [:]
    let first = try MediaRequest.onlyInput(root, tooMany: "takes exactly one input")
    let parser = LocationParser(extraFields: ["region"])
    input = try parser.parse(first["source"], field: "inputs[0].source")
    segmentStart = 0
    segmentDuration = preview ? Self.previewSeconds : nil
    if let segment = first["segment"], segment != .null {
      guard case .object(let fields) = segment else { throw InvalidRequest("inputs[0].segment", "must be an object") }
      segmentStart = try RequestField.number(fields["start"], "inputs[0].segment.start", 0...86400) ?? 0
      let longest = preview ? Self.previewSeconds : 86400
      if let duration = try RequestField.number(fields["duration"], "inputs[0].segment.duration", 0...longest) {
        // Dolby's sample app sends a duration of 0 when its waveform selection is empty: the default then.
        if duration > 0 { segmentDuration = duration }
      }
    }
    if let metadata = first["metadata"], metadata != .null {
      guard case .object(let fields) = metadata else { throw InvalidRequest("inputs[0].metadata", "must be an object") }
      if let value = fields["genre"], value != .null {
        guard let text = value.string else { throw InvalidRequest("inputs[0].metadata.genre", "must be a string") }
        genre = text
      }
      if let value = fields["tags"], value != .null {
        guard case .array(let items) = value, let texts = Optional(items.compactMap(\.string)),
          texts.count == items.count
        else { throw InvalidRequest("inputs[0].metadata.tags", "must be a list of strings") }
        tags = texts
      }
    }
    guard case .array(let items)? = root["outputs"], !items.isEmpty else {
      throw InvalidRequest("outputs", "is required: a list of outputs")
    }
    guard items.count <= Self.maxOutputs else {
      throw InvalidRequest("outputs", "at most \(Self.maxOutputs) outputs")
    }
    var outputs: [Output] = []
    for (index, item) in items.enumerated() {
      let field = "outputs[\(index)]"
      guard case .object(let fields) = item else { throw InvalidRequest(field, "must be an object") }
      let destination = try parser.parse(fields["destination"], field: "\(field).destination")
      let kind: MasterKind
      if let value = fields["kind"], value != .null {
        guard let name = value.string, let known = MasterKind(rawValue: name.lowercased()) else {
          throw InvalidRequest(
            "\(field).kind",
            "unsupported \(value.string.map { "\"\($0)\"" } ?? "value"); use one of "
              + MasterKind.allCases.map(\.rawValue).joined(separator: ", "))
        }
        kind = known
      } else {
        kind = MasterKind.named(JobTransfers.fileName(of: destination))
      }
      outputs.append(
        Output(
          destination: destination, kind: kind, settings: try MasterSettings(fields["master"], field: "\(field).master")
        ))
    }
    self.outputs = outputs
  }
}
