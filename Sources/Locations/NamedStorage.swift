import JSON

/// A request's `storage` block: named folders that outputs write under, `[{"id", "url", "auth"}]` with
/// `s3://bucket/prefix/` URLs and their keys (or `dlb://prefix/`), referenced from a destination as
/// `{"storage": "<id>", "path": "hls/talk/"}`, or as docs.dolby.io spells it, `{"ref": "<id>", "filename": "..."}`.
/// The keys are secrets like any location's: no message repeats them.
public struct NamedStorage: Sendable, Equatable {
  /// Most entries one request may name.
  public static let maxEntries = 20

  /// The folders by id; each location's key is its prefix (empty or ending in `/`).
  public var folders: [String: Location]

  public init(folders: [String: Location] = [:]) {
    self.folders = folders
  }

  /// Parses the block at `field` (`storage`); absent or null is an empty block.
  public init(parsing value: JSONValue?, field: String = "storage", parser: LocationParser = LocationParser())
    throws(LocationError)
  {
    folders = [:]
    guard let value, value != .null else { return }
    guard case .array(let items) = value else {
      throw LocationError(field, "must be a list of {\"id\", \"url\", \"auth\"}, got \(value.typeName)")
    }
    guard items.count <= Self.maxEntries else { throw LocationError(field, "at most \(Self.maxEntries) entries") }
    for (index, item) in items.enumerated() {
      let entry = "\(field)[\(index)]"
      guard case .object(var members) = item else { throw LocationError(entry, "must be an object") }
      guard let idValue = members.removeValue(forKey: "id") else { throw LocationError("\(entry).id", "is required") }
      guard case .string(let id) = idValue, Self.isValidID(id) else {
        throw LocationError("\(entry).id", "must be 1 to 64 of A-Z, a-z, 0-9, \"-\", \"_\" and \".\"")
      }
      guard folders[id] == nil else { throw LocationError("\(entry).id", "\"\(id)\" is used twice") }
      folders[id] = try parser.parseFolder(.object(members), field: entry, purpose: "a storage entry")
    }
  }

  /// The two spellings of a reference's members: Ferry's `{"storage", "path"}` and docs.dolby.io's
  /// `{"ref", "filename"}`.
  static let spellings = [(id: "storage", path: "path"), (id: "ref", path: "filename")]

  /// Whether `value` is a reference into the block (`{"storage": ...}` or `{"ref": ...}`) rather than a location.
  public static func isReference(_ value: JSONValue?) -> Bool {
    guard let members = value?.object else { return false }
    return spellings.contains { members[$0.id] != nil }
  }

  /// The location a `{"storage", "path"}` (or `{"ref", "filename"}`) reference at `field` names: the entry's
  /// prefix followed by the path, with the entry's credentials. With `folder`, the path names a folder (a
  /// trailing `/` is implied); else a file. Paths are relative and stay under the prefix: no leading `/`, no
  /// empty, `.` or `..` segments. Messages name the member as the request spelled it.
  public func resolve(_ value: JSONValue?, field: String, folder: Bool) throws(LocationError) -> Location {
    guard case .object(let members)? = value else { throw LocationError(field, "must be an object") }
    // The spelling is the one whose id member is there; one spelling per reference.
    let names = Self.spellings.first { members[$0.id] != nil } ?? Self.spellings[0]
    for name in members.keys.sorted() where name != names.id && name != names.path {
      throw LocationError(
        "\(field).\(name)", "unknown field (a storage reference takes \"\(names.id)\" and \"\(names.path)\")")
    }
    guard case .string(let id)? = members[names.id] else {
      throw LocationError("\(field).\(names.id)", "must be the id of an entry in storage[]")
    }
    guard let base = folders[id] else {
      let named = Self.isValidID(id) ? "\"\(id)\"" : "with that id"
      let hint = folders.isEmpty ? " (the request has no storage block)" : ""
      throw LocationError("\(field).\(names.id)", "no storage \(named) in storage[]\(hint)")
    }
    let pathField = "\(field).\(names.path)"
    guard let pathValue = members[names.path], pathValue != .null else {
      throw LocationError(pathField, "is required")
    }
    guard case .string(var path) = pathValue, !path.isEmpty else {
      throw LocationError(pathField, "must be a non-empty string")
    }
    try Self.checkPath(path, field: pathField, folder: folder)
    if folder && !path.hasSuffix("/") { path += "/" }
    guard let location = base.appending(path) else {
      throw LocationError("\(field).\(names.id)", "is not a folder")
    }
    let key: String
    switch location.target {
    case .s3(_, let k), .dlb(let k): key = k
    case .http: key = ""
    }
    guard key.utf8.count <= LocationParser.maxKeyBytes else {
      throw LocationError(
        pathField, "with the storage prefix, the key is longer than \(LocationParser.maxKeyBytes) bytes")
    }
    return location
  }

  static func checkPath(_ path: String, field: String, folder: Bool) throws(LocationError) {
    guard !path.hasPrefix("/") else {
      throw LocationError(field, "must be relative to the storage's prefix: no leading /")
    }
    guard !path.utf8.contains(where: { $0 < 0x20 || $0 == 0x7F }) else {
      throw LocationError(field, "contains control characters")
    }
    guard folder || !path.hasSuffix("/") else { throw LocationError(field, "names a file, so it must not end with /") }
    let segments = path.split(separator: "/", omittingEmptySubsequences: false)
    for (index, segment) in segments.enumerated() where !(segment.isEmpty && index == segments.count - 1 && folder) {
      guard !segment.isEmpty, segment != ".", segment != ".." else {
        throw LocationError(field, "has an empty, \".\" or \"..\" segment; paths stay under the storage's prefix")
      }
    }
  }

  static func isValidID(_ id: String) -> Bool {
    (1...64).contains(id.utf8.count)
      && id.utf8.allSatisfy {
        ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x41 && $0 <= 0x5A) || ($0 >= 0x61 && $0 <= 0x7A) || $0 == 0x2D
          || $0 == 0x5F || $0 == 0x2E
      }
  }
}
