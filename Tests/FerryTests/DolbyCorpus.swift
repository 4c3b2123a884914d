import Foundation

/// The conformance corpus in `DolbyCorpus/`: job request bodies from Dolby's public samples, client libraries
/// and docs, one file each, and `manifest.json` saying where each came from, how its sample sends it and what
/// the sample reads afterwards. Only locations differ from the source: `dlb://` keys stay as written, other
/// URLs are `{{...}}` placeholders that `render` fills for the test's own peers.
struct DolbyCorpus: Decodable {
  /// The folder beside this file, read by path (like `Golden/`).
  static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent(
    "DolbyCorpus")

  var entries: [Entry]

  /// One body and what its sample does with it.
  struct Entry: Decodable {
    /// Also the body's file name, `<name>.json`.
    var name: String
    /// Where the sample posts it (`/media/enhance`).
    var path: String
    var sources: [Source]
    var note: String?
    /// `api-key` (the legacy `x-api-key`), `bearer` (a token from `/v1/auth/token`) or `bearer-oauth2` (from
    /// the legacy `/media/oauth2/token`).
    var auth: String
    /// The Content-Type the sample's HTTP client declares.
    var contentType: String
    /// The Content-Type of its `POST /media/input`, when not `contentType`.
    var inputContentType: String?
    /// Other headers the sample sends with its POST.
    var extraHeaders: [String: String]?
    /// Files the sample uploads first through `POST /media/input`: `dlb://` key to fixture kind.
    var dlbUploads: [String: String]
    /// Objects the sample's bucket holds (`bucket/key` to fixture kind), private and public-read.
    var s3Objects: [String: String]
    var publicObjects: [String: String]
    /// Paths in the final job document that the sample's own code reads (`result.media_info.video.width`).
    var reads: [String]
    /// Files the job writes that the sample downloads or a user opens.
    var outputs: [Output]
    /// The sample's `on_complete` receiver: the path and query it is called on, and a header naming the job.
    var callback: Callback?
    /// Set when the body needs what Ferry does not do yet: the test then checks it still fails this way.
    var expectedFailure: ExpectedFailure?
  }

  struct Source: Decodable, CustomStringConvertible {
    var repo: String?
    var path: String?
    var commit: String?
    var url: String?
    var description: String { url ?? "\(repo ?? "?")/\(path ?? "?")" }
  }

  struct Output: Decodable {
    /// `dlb://key` or `s3://bucket/key`.
    var location: String
    /// What the bytes must be: `wav`, `mp3`, `mp4` or `json`.
    var kind: String
    /// For `json`: paths the sample reads in it.
    var reads: [String]?
  }

  struct Callback: Decodable {
    var path: String
    var jobIdHeader: String?
  }

  struct ExpectedFailure: Decodable {
    /// `submit` (the POST is refused) or `reads` (the job succeeds but `missing` is not there).
    var at: String
    var status: Int?
    var type: String?
    var detailContains: String?
    var missing: [String]?
    var reason: String
    var issue: Int?
  }

  static func load() throws -> DolbyCorpus {
    let data = try Data(contentsOf: directory.appendingPathComponent("manifest.json"))
    let decoder = JSONDecoder()
    decoder.keyDecodingStrategy = .convertFromSnakeCase
    return try decoder.decode(DolbyCorpus.self, from: data)
  }

  /// The entry's body as stored.
  static func body(of entry: Entry) throws -> String {
    try String(contentsOf: directory.appendingPathComponent("\(entry.name).json"), encoding: .utf8)
  }

  /// The placeholders a body may hold, each `{{verb arguments}}` inside a JSON string.
  enum Placeholder: Equatable {
    /// `{{s3-get bucket/key seconds}}`: a pre-signed GET URL.
    case presignedGet(bucket: String, key: String, expires: Int)
    /// `{{s3-put bucket/key seconds [content-type]}}`: a pre-signed PUT URL, signing the content type if given.
    case presignedPut(bucket: String, key: String, expires: Int, contentType: String?)
    /// `{{s3-public bucket/key}}`: the plain URL of a public-read object.
    case publicObject(bucket: String, key: String)
    /// `{{callback}}`: the loopback receiver with the entry's callback path.
    case callback
    /// `{{s3-access-key}}`, `{{s3-secret-key}}`: the S3 peer's credentials, for in-line `auth`.
    case accessKey, secretKey

    init?(_ text: String) {
      let words = text.split(separator: " ").map(String.init)
      func object(_ word: String) -> (String, String)? {
        guard let slash = word.firstIndex(of: "/") else { return nil }
        return (String(word[..<slash]), String(word[word.index(after: slash)...]))
      }
      switch (words.first, words.count) {
      case ("s3-get", 3):
        guard let (bucket, key) = object(words[1]), let seconds = Int(words[2]) else { return nil }
        self = .presignedGet(bucket: bucket, key: key, expires: seconds)
      case ("s3-put", 3), ("s3-put", 4):
        guard let (bucket, key) = object(words[1]), let seconds = Int(words[2]) else { return nil }
        self = .presignedPut(bucket: bucket, key: key, expires: seconds, contentType: words.count == 4 ? words[3] : nil)
      case ("s3-public", 2):
        guard let (bucket, key) = object(words[1]) else { return nil }
        self = .publicObject(bucket: bucket, key: key)
      case ("callback", 1): self = .callback
      case ("s3-access-key", 1): self = .accessKey
      case ("s3-secret-key", 1): self = .secretKey
      default: return nil
      }
    }
  }

  struct UnknownPlaceholder: Error, CustomStringConvertible {
    var text: String
    var description: String { "unknown placeholder {{\(text)}}" }
  }

  /// `body` with every placeholder replaced by what `value` makes of it; the rest byte for byte as stored.
  static func render(_ body: String, _ value: (Placeholder) throws -> String) throws -> String {
    var out = ""
    var rest = body[...]
    while let open = rest.range(of: "{{") {
      guard let close = rest[open.upperBound...].range(of: "}}") else { break }
      let text = String(rest[open.upperBound..<close.lowerBound])
      guard let placeholder = Placeholder(text) else { throw UnknownPlaceholder(text: text) }
      out += rest[..<open.lowerBound]
      out += try value(placeholder)
      rest = rest[close.upperBound...]
    }
    return out + rest
  }

  /// The value at a dotted `path` (`result.media_info.video.width`) in a decoded JSON object; nil when a
  /// step is missing or null.
  static func value(at path: String, in object: [String: Any]) -> Any? {
    var current: Any? = object
    for step in path.split(separator: ".") {
      guard let dictionary = current as? [String: Any], let next = dictionary[String(step)], !(next is NSNull) else {
        return nil
      }
      current = next
    }
    return current
  }

  /// Whether `bytes` look like a file of `kind` (its magic numbers; JSON parses to an object).
  static func looksLike(_ kind: String, _ bytes: [UInt8]) -> Bool {
    func starts(_ text: String, at offset: Int = 0) -> Bool {
      bytes.count >= offset + text.utf8.count && bytes[offset..<(offset + text.utf8.count)].elementsEqual(text.utf8)
    }
    switch kind {
    case "wav": return starts("RIFF") && starts("WAVE", at: 8)
    case "mp3": return starts("ID3") || (bytes.count > 2 && bytes[0] == 0xFF && bytes[1] & 0xE0 == 0xE0)
    case "mp4": return starts("ftyp", at: 4)
    case "json": return (try? JSONSerialization.jsonObject(with: Data(bytes))) is [String: Any]
    default: return false
    }
  }
}
