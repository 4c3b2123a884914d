import Foundation
import JSON

/// Reads the configuration file and the `FERRY_*` environment, checks every value and builds a
/// `FerryConfiguration`. All problems are collected and reported together, each naming the key and its
/// environment variable; unknown keys in the file are problems, unknown `FERRY_*` variables only warnings.
public struct ConfigurationLoader {
  /// The result of a successful load.
  public struct Loaded: Sendable {
    public var configuration: FerryConfiguration
    /// Messages about ignored input (unknown `FERRY_*` variables).
    public var warnings: [String]
  }

  /// Everything wrong with the configuration.
  public struct Problems: Error, CustomStringConvertible, Equatable {
    public var messages: [String]
    public var description: String {
      "invalid configuration:\n" + messages.map { "  - " + $0 }.joined(separator: "\n")
    }
  }

  private let environment: [String: String]
  private let cores: Int

  /// A loader reading `environment` (the process environment by default).
  public init(
    environment: [String: String] = ProcessInfo.processInfo.environment,
    cores: Int = ProcessInfo.processInfo.activeProcessorCount
  ) {
    self.environment = environment
    self.cores = cores
  }

  /// Loads `file` (if any) with environment overrides on top of the defaults.
  public func load(file: String?) throws(Problems) -> Loaded {
    var problems: [String] = []
    var values: [String: JSONValue] = [:]
    if let file {
      do {
        let data = try Data(contentsOf: URL(fileURLWithPath: file))
        do {
          let root = try JSONValue.parse(data)
          guard case .object(let object) = root else {
            throw Problems(messages: ["\(file): the top level must be a JSON object"])
          }
          flatten(object, prefix: "", into: &values, problems: &problems)
        } catch let error as Problems {
          throw error
        } catch {
          problems.append("\(file): not valid JSON (\(error))")
        }
      } catch let error as Problems {
        throw error
      } catch {
        problems.append("\(file): cannot be read (\(error.localizedDescription))")
      }
    }
    var warnings: [String] = []
    let byEnvironment = Dictionary(uniqueKeysWithValues: ConfigurationKey.all.map { ($0.environmentName, $0) })
    for (name, raw) in environment.sorted(by: { $0.key < $1.key }) where name.hasPrefix("FERRY_") {
      guard let key = byEnvironment[name] else {
        if !ConfigurationKey.clientEnvironment.contains(name) {
          warnings.append("\(name) is not a Ferry setting and is ignored")
        }
        continue
      }
      if let value = Self.parseEnvironment(raw, as: key.kind) {
        values[key.path] = value
      } else {
        problems.append(
          "\(key.label): \(Self.expectation(key.kind)), got \(key.isSecret ? "a value that is not" : Self.quote(raw))")
      }
    }
    var checked: [String: JSONValue] = [:]
    for key in ConfigurationKey.all {
      let value = values[key.path] ?? key.defaultValue
      if let problem = Self.check(value, key) {
        problems.append("\(key.label): \(problem)")
      } else {
        checked[key.path] = value
      }
    }
    guard problems.isEmpty else { throw Problems(messages: problems) }
    do {
      return Loaded(configuration: try FerryConfiguration(values: checked, cores: cores), warnings: warnings)
    } catch {
      throw Problems(messages: error.messages)
    }
  }

  private func flatten(
    _ object: [String: JSONValue], prefix: String, into values: inout [String: JSONValue], problems: inout [String]
  ) {
    for (name, value) in object.sorted(by: { $0.key < $1.key }) {
      let path = prefix + name
      if ConfigurationKey.named(path) != nil {
        values[path] = value
      } else if ConfigurationKey.all.contains(where: { $0.path.hasPrefix(path + ".") }) {
        guard case .object(let inner) = value else {
          problems.append("\(path): must be an object, got \(value.typeName)")
          continue
        }
        flatten(inner, prefix: path + ".", into: &values, problems: &problems)
      } else {
        problems.append("\(path): unknown key")
      }
    }
  }

  static func parseEnvironment(_ raw: String, as kind: ConfigurationKey.Kind) -> JSONValue? {
    switch kind {
    case .string, .choice, .url, .key32:
      return .string(raw)
    case .integer:
      return Int(raw.trimmingCharacters(in: .whitespaces)).map(JSONValue.int)
    case .seconds, .positiveNumber:
      let trimmed = raw.trimmingCharacters(in: .whitespaces)
      if let i = Int(trimmed) { return .int(i) }
      return Double(trimmed).flatMap { $0.isFinite ? JSONValue.double($0) : nil }
    case .boolean:
      switch raw {
      case "true": return .bool(true)
      case "false": return .bool(false)
      default: return nil
      }
    case .allowList, .originList, .apps:
      return try? JSONValue.parse(Data(raw.utf8))
    }
  }

  /// What is wrong with `value` for `key`, or nil. Messages never echo secret values.
  static func check(_ value: JSONValue, _ key: ConfigurationKey) -> String? {
    if value == .null { return nil }
    let got = key.isSecret ? value.typeName : Self.show(value)
    let expected = expectation(key.kind)
    switch key.kind {
    case .string(let nonEmpty):
      guard case .string(let s) = value, !nonEmpty || !s.isEmpty else { return "\(expected), got \(got)" }
    case .choice(let options):
      guard case .string(let s) = value, options.contains(s) else { return "\(expected), got \(got)" }
    case .integer(let range):
      guard case .int(let i) = value, range.contains(i) else { return "\(expected), got \(got)" }
    case .seconds(let min):
      guard let d = value.number, d >= min else { return "\(expected), got \(got)" }
    case .positiveNumber:
      guard let d = value.number, d > 0 else { return "\(expected), got \(got)" }
    case .boolean:
      guard case .bool = value else { return "\(expected), got \(got)" }
    case .url:
      guard case .string(let s) = value, let url = URL(string: s),
        ["http", "https"].contains(url.scheme?.lowercased()),
        url.host?.isEmpty == false
      else { return "\(expected), got \(got)" }
    case .key32:
      guard case .string(let s) = value, let data = Data(base64Encoded: s), data.count == 32 else {
        return "\(expected)"
      }
    case .allowList:
      guard case .array(let items) = value else { return "\(expected), got \(value.typeName)" }
      for (i, item) in items.enumerated() {
        guard case .string(let entry) = item else { return "[\(i)] must be a string, got \(item.typeName)" }
        if let problem = AllowEntry.problem(entry) { return "[\(i)] \(Self.quote(entry)): \(problem)" }
      }
    case .originList:
      guard case .array(let items) = value else { return "\(expected), got \(value.typeName)" }
      for (i, item) in items.enumerated() {
        guard case .string(let entry) = item else { return "[\(i)] must be a string, got \(item.typeName)" }
        if entry == "*" {
          if items.count > 1 { return "[\(i)] \"*\" allows any origin: give it alone" }
        } else if let problem = Self.originProblem(entry) {
          return "[\(i)] \(Self.quote(entry)): \(problem)"
        }
      }
    case .apps:
      guard case .array(let items) = value else { return "\(expected), got \(value.typeName)" }
      var seen: Set<String> = []
      for (i, item) in items.enumerated() {
        guard case .object(let app) = item else { return "[\(i)] must be an object, got \(item.typeName)" }
        if let unknown = app.keys.sorted().first(where: { !["key", "secret", "api_key"].contains($0) }) {
          return "[\(i)].\(unknown): unknown key"
        }
        for field in ["key", "secret"] {
          guard case .string(let s)? = app[field], !s.isEmpty else {
            return "[\(i)].\(field) is required (a non-empty string)"
          }
        }
        if let apiKey = app["api_key"] {
          guard case .string(let s) = apiKey, !s.isEmpty else { return "[\(i)].api_key must be a non-empty string" }
        }
        if case .string(let k)? = app["key"], !seen.insert(k).inserted { return "[\(i)].key repeats another app's key" }
      }
    }
    return nil
  }

  static func expectation(_ kind: ConfigurationKey.Kind) -> String {
    switch kind {
    case .string(let nonEmpty): nonEmpty ? "must be a non-empty string" : "must be a string"
    case .choice(let options): "must be one of " + options.map { "\"\($0)\"" }.joined(separator: ", ")
    case .integer(let range):
      range.upperBound == Int.max
        ? "must be an integer of at least \(range.lowerBound)"
        : "must be an integer from \(range.lowerBound) to \(range.upperBound)"
    case .seconds(let min): "must be a number of seconds of at least \(JSONValue.double(min))"
    case .positiveNumber: "must be a positive number"
    case .boolean: "must be true or false"
    case .url: "must be an http or https URL"
    case .key32: "must be base64 of exactly 32 bytes"
    case .allowList: "must be a JSON list of CIDR, IP:port, [IPv6]:port or name:port strings"
    case .originList: "must be a JSON list of origins (\"https://app.example\", \"http://127.0.0.1:3000\"), or [\"*\"]"
    case .apps: "must be a JSON list of {\"key\", \"secret\", \"api_key\"?} objects"
    }
  }

  /// What is wrong with a browser origin as browsers send it (`scheme://host[:port]`, no path), or nil.
  static func originProblem(_ origin: String) -> String? {
    guard let url = URL(string: origin), let scheme = url.scheme?.lowercased(), ["http", "https"].contains(scheme),
      let host = url.host, !host.isEmpty
    else { return "must be http:// or https:// and a host, with an optional :port" }
    guard url.path.isEmpty, url.query == nil, url.fragment == nil, url.user == nil, !origin.hasSuffix("/") else {
      return "an origin has no path, query or user (\"https://app.example\", not \"https://app.example/\")"
    }
    return nil
  }

  private static func show(_ value: JSONValue) -> String {
    let text = value.description
    return text.count > 80 ? String(text.prefix(77)) + "..." : text
  }

  private static func quote(_ s: String) -> String { JSONValue.string(s).description }
}
