import Foundation
import JSON
import Jobs
import Locations

/// What an enhance request asks for, checked and with Ferry's defaults for its content type filled in.
/// Pure: built from the request JSON, tested from literals.
public struct EnhanceSettings: Sendable, Equatable, Codable {
  public static let contentTypes = [
    "conference", "interview", "lecture", "meeting", "mobile_phone", "music", "podcast", "studio", "voice_over",
    "voice_recording", "other",
  ]
  /// Types Dolby documents nowhere but its own samples send, taken with the defaults of `other`: `speech`
  /// (the C++ sample in dolbyio-samples/media-api-samples). Not listed in refusals: users should pick a
  /// documented type.
  public static let sampleContentTypes = ["speech"]
  public static let noiseAmounts = ["low": 6.0, "medium": 12.0, "high": 20.0, "max": 30.0]
  /// Dolby's words for the 0-100 amounts (range control, sibilance, plosive and click reduction).
  public static let levelAmounts = ["low": 25.0, "medium": 50.0, "high": 75.0, "max": 100.0]

  public var contentType: String
  /// Integrated loudness target in LKFS; nil when loudness correction is off.
  public var targetLevel: Double?
  /// Which peak `peakLimit` bounds (`audio.loudness.peak_reference`).
  public enum PeakReference: String, Sendable, Equatable, Codable, CaseIterable {
    case sample
    case truePeak = "true_peak"
  }

  /// Peak ceiling in dB (true peak unless `peakReference` is `sample`).
  public var peakLimit: Double
  public var peakReference: PeakReference
  /// Noise reduction in dB (afftdn `nr`); nil when off.
  public var noiseReduction: Double?
  /// High-pass corner in Hz; nil when off.
  public var highPass: Double?
  public var humReduction: Bool
  /// Dynamic range compression amount 0-100 (`dynamics.range_control`); nil when off.
  public var rangeControl: Double?
  /// De-essing amount 0-100; nil when off.
  public var sibilanceReduction: Double?
  /// How far everything that is not speech is pushed down, 0-100 (`speech.isolation.amount`); nil when off.
  /// It raises the denoiser's attenuation limit (100: no limit).
  public var speechIsolation: Double?
  /// Click removal amount 0-100 (`speech.click.reduction`); nil when off.
  public var clickReduction: Double?
  /// Plosive (low-frequency burst) reduction amount 0-100 (`speech.plosive.reduction`); nil when off.
  public var plosiveReduction: Double?
  /// Dynamic equalisation (`filter.dynamic_eq.enable`): harshness and boom cut only while they stand out.
  /// Optional so that jobs stored before it existed still decode; nil is off.
  public var dynamicEQ: Bool?
  /// `input.region`: only that span is processed and returned; nil for the whole input.
  public var region: MediaRegion?
  /// `music.detection.enable`: the sections the classifier puts in music skip the high-pass, the hum notches
  /// and the denoiser (crossfaded at their edges; the loudness correction still covers the whole file).
  /// Optional like `dynamicEQ` (jobs stored before it existed still decode); nil is off.
  public var musicDetection: Bool?
  /// `loudness.dialog_intelligence`: the loudness is measured over the classifier's speech sections only
  /// (when they make at least `speechThreshold` percent of the input), as analyze does; nil is off.
  public var dialogIntelligence: Bool?
  /// `loudness.speech_threshold`, percent (15 when absent).
  public var speechThreshold: Double?

  /// The denoiser's attenuation limit in dB (100: none), from noise reduction and speech isolation; nil when
  /// neither is on (or both ask for nothing).
  public var attenuationLimit: Double? {
    var limit: Double?
    if let noiseReduction { limit = DeepFilter.attenuationLimit(noiseReduction) }
    if let speechIsolation, speechIsolation > 0 {
      let isolation = speechIsolation >= 100 ? 100 : speechIsolation * 0.3
      limit = max(limit ?? 0, isolation)
    }
    return limit.flatMap { $0 > 0 ? $0 : nil }
  }

  /// Ferry's defaults per content type (documented in openapi.yaml): speech is cleaned (80 Hz high-pass,
  /// medium noise reduction), music only levelled; targets follow common platform levels.
  public static func defaults(for contentType: String) -> EnhanceSettings {
    let target: Double
    switch contentType {
    case "music": target = -14
    case "voice_over", "voice_recording": target = -19
    case "podcast", "interview", "studio", "mobile_phone": target = -16
    default: target = -24
    }
    let speech = contentType != "music"
    return EnhanceSettings(
      contentType: contentType, targetLevel: target, peakLimit: -1, peakReference: .truePeak,
      noiseReduction: speech ? noiseAmounts["max"] : nil, highPass: speech ? 80 : nil, humReduction: false,
      rangeControl: nil, sibilanceReduction: nil, speechIsolation: nil, clickReduction: nil, plosiveReduction: nil,
      dynamicEQ: nil, region: nil)
  }

  /// Reads the request's `content` and `audio` blocks; unknown fields are ignored (clients send more than
  /// Ferry uses), wrong types and out-of-range values are refused naming the field.
  public init(request: JSONValue) throws(InvalidRequest) {
    let root = request.object ?? [:]
    let contentType = try Self.string(root, "content", "type") ?? "other"
    guard Self.contentTypes.contains(contentType) || Self.sampleContentTypes.contains(contentType) else {
      throw InvalidRequest(
        "content.type", "unsupported \"\(contentType)\"; use one of \(Self.contentTypes.joined(separator: ", "))")
    }
    self = Self.defaults(for: contentType)
    let audio = "audio"

    if try Self.bool(root, audio, "loudness", "enable") == false { targetLevel = nil }
    if let target = try Self.number(root, audio, "loudness", "target_level", range: -70...(-5)), targetLevel != nil {
      targetLevel = target
    }
    if let peak = try Self.number(root, audio, "loudness", "peak_limit", range: -20...0, numericString: true) {
      peakLimit = peak
    }
    if let reference = try Self.string(root, audio, "loudness", "peak_reference") {
      guard let known = PeakReference(rawValue: reference) else {
        throw InvalidRequest("audio.loudness.peak_reference", "must be sample or true_peak")
      }
      peakReference = known
    }

    let noiseEnabled = try Self.bool(root, audio, "noise", "reduction", "enable")
    if noiseEnabled == false { noiseReduction = nil }
    if noiseEnabled == true && noiseReduction == nil { noiseReduction = Self.noiseAmounts["medium"] }
    // `auto`: the content type's own amount (medium where it has none).
    let noiseAuto = noiseReduction ?? Self.noiseAmounts["medium"]!
    if let decibels = try Self.amount(
      root, audio, "noise", "reduction", "amount", words: Self.noiseAmounts, auto: noiseAuto)
    {
      // An amount alone turns reduction on (music too); with enable false it stays off.
      if noiseEnabled != false { noiseReduction = decibels }
    }

    if let enable = try Self.bool(root, audio, "filter", "high_pass", "enable") {
      highPass = enable ? highPass ?? 80 : nil
    }
    if let frequency = try Self.number(root, audio, "filter", "high_pass", "frequency", range: 20...1000),
      highPass != nil
    {
      highPass = frequency
    }
    humReduction = try Self.bool(root, audio, "filter", "hum", "enable") ?? false

    let range = try Self.amount(
      root, audio, "dynamics", "range_control", "amount", words: Self.levelAmounts, auto: 50, numbers: 0...100)
    if try Self.bool(root, audio, "dynamics", "range_control", "enable") == true { rangeControl = range ?? 50 }
    let sibilance = try Self.amount(
      root, audio, "speech", "sibilance", "reduction", "amount", words: Self.levelAmounts, auto: 50, numbers: 0...100)
    if try Self.bool(root, audio, "speech", "sibilance", "reduction", "enable") == true {
      sibilanceReduction = sibilance ?? 50
    }
    // An amount alone turns plosive and click reduction on; enable false keeps them off.
    var reductions: [Double?] = []
    for name in ["plosive", "click"] {
      let amount = try Self.amount(
        root, audio, "speech", name, "reduction", "amount", words: Self.levelAmounts, auto: 50, numbers: 0...100)
      let enable = try Self.bool(root, audio, "speech", name, "reduction", "enable")
      reductions.append(enable == false ? nil : enable == true ? amount ?? 50 : amount)
    }
    plosiveReduction = reductions[0]
    clickReduction = reductions[1]
    let isolation = try Self.number(root, audio, "speech", "isolation", "amount", range: 0...100)
    let isolationEnabled = try Self.bool(root, audio, "speech", "isolation", "enable")
    speechIsolation = isolationEnabled == false ? nil : isolationEnabled == true ? isolation ?? 50 : isolation
    dynamicEQ = try Self.bool(root, audio, "filter", "dynamic_eq", "enable") == true ? true : nil
    musicDetection = try Self.bool(root, audio, "music", "detection", "enable") == true ? true : nil
    dialogIntelligence = try Self.bool(root, audio, "loudness", "dialog_intelligence") == true ? true : nil
    speechThreshold = try Self.number(root, audio, "loudness", "speech_threshold", range: 0...100)
    region = try MediaRegion(request)
  }

  private init(
    contentType: String, targetLevel: Double?, peakLimit: Double, peakReference: PeakReference, noiseReduction: Double?,
    highPass: Double?, humReduction: Bool, rangeControl: Double?, sibilanceReduction: Double?,
    speechIsolation: Double?, clickReduction: Double?, plosiveReduction: Double?, dynamicEQ: Bool?,
    region: MediaRegion?
  ) {
    self.contentType = contentType
    self.targetLevel = targetLevel
    self.peakLimit = peakLimit
    self.peakReference = peakReference
    self.noiseReduction = noiseReduction
    self.highPass = highPass
    self.humReduction = humReduction
    self.rangeControl = rangeControl
    self.sibilanceReduction = sibilanceReduction
    self.speechIsolation = speechIsolation
    self.clickReduction = clickReduction
    self.plosiveReduction = plosiveReduction
    self.dynamicEQ = dynamicEQ
    self.region = region
  }

  // MARK: Reading fields

  private static func value(_ root: [String: JSONValue], _ path: [String]) throws(InvalidRequest) -> JSONValue? {
    var current: JSONValue = .object(root)
    for (index, name) in path.enumerated() {
      guard case .object(let object) = current else {
        throw InvalidRequest(path[..<index].joined(separator: "."), "must be an object")
      }
      guard let next = object[name], next != .null else { return nil }
      current = next
    }
    return current
  }

  private static func string(_ root: [String: JSONValue], _ path: String...) throws(InvalidRequest) -> String? {
    guard let value = try value(root, path) else { return nil }
    guard case .string(let s) = value else { throw InvalidRequest(path.joined(separator: "."), "must be a string") }
    return s
  }

  private static func bool(_ root: [String: JSONValue], _ path: String...) throws(InvalidRequest) -> Bool? {
    guard let value = try value(root, path) else { return nil }
    guard case .bool(let b) = value else { throw InvalidRequest(path.joined(separator: "."), "must be true or false") }
    return b
  }

  private static func number(
    _ root: [String: JSONValue], _ path: String..., range: ClosedRange<Double>, numericString: Bool = false
  ) throws(InvalidRequest) -> Double? {
    let field = path.joined(separator: ".")
    guard let value = try value(root, path) else { return nil }
    let number: Double?
    if case .string(let s) = value, numericString {
      number = Double(s.trimmingCharacters(in: .whitespaces))
    } else {
      number = value.number
    }
    guard let number, number.isFinite else { throw InvalidRequest(field, "must be a number") }
    guard range.contains(number) else {
      throw InvalidRequest(
        field, "must be between \(Self.format(range.lowerBound)) and \(Self.format(range.upperBound))")
    }
    return number
  }

  /// An amount as Dolby spells it (one of `words`, or `auto` for `auto`) or, with `numbers`, as a number in
  /// that range; nil when absent. The refusal lists what the field takes.
  private static func amount(
    _ root: [String: JSONValue], _ path: String..., words: [String: Double], auto: Double,
    numbers: ClosedRange<Double>? = nil
  ) throws(InvalidRequest) -> Double? {
    let field = path.joined(separator: ".")
    guard let value = try value(root, path) else { return nil }
    if case .string(let word) = value {
      if word == "auto" { return auto }
      if let amount = words[word] { return amount }
    } else if let numbers, let number = value.number, number.isFinite, numbers.contains(number) {
      return number
    }
    let spelled = words.sorted { $0.value < $1.value }.map(\.key) + ["auto"]
    let takes = spelled.dropLast().joined(separator: ", ") + " or " + spelled.last!
    guard let numbers else { throw InvalidRequest(field, "must be \(takes)") }
    throw InvalidRequest(
      field,
      "must be \(takes), or a number from \(Self.format(numbers.lowerBound)) to \(Self.format(numbers.upperBound))")
  }

  static func format(_ value: Double) -> String {
    value == value.rounded() ? String(Int(value)) : String(value)
  }
}
