import JSON

extension LocationParser {
  /// Parses a folder at `field`: `s3://bucket/prefix/` with keys, or `dlb://prefix/` (Ferry's own storage
  /// needs none). The returned location's key is the prefix, empty or ending in `/`; `Location.appending`
  /// names the files under it. `purpose` says who needs the folder (`an hls output`), for the refusal of an
  /// http(s) URL: one URL holds one file.
  public func parseFolder(_ value: JSONValue?, field: String, purpose: String) throws(LocationError) -> Location {
    let urlField: String
    let text: String
    var auth: Location.Auth?
    switch value {
    case nil, .null?:
      throw LocationError(field, "is required")
    case .string(let string)?:
      (urlField, text) = (field, string)
    case .object(let members)?:
      for name in members.keys.sorted() where name != "url" && name != "auth" {
        throw LocationError("\(field).\(name)", "unknown field")
      }
      guard let urlValue = members["url"] else { throw LocationError("\(field).url", "is required") }
      guard case .string(let string) = urlValue else {
        throw LocationError("\(field).url", "must be a string, got \(urlValue.typeName)")
      }
      (urlField, text) = ("\(field).url", string)
      auth = try members["auth"].map { v throws(LocationError) in try Self.auth(v, field: "\(field).auth") }
    case let other?:
      throw LocationError(field, "must be a URL string or an object with \"url\", got \(other.typeName)")
    }
    let target = try Self.target(text, field: urlField, hasAuth: auth != nil, folder: true)
    switch (target, auth) {
    case (.http(_, let presigned), _):
      let what = presigned == nil ? "an http(s) URL" : "a pre-signed URL"
      throw LocationError(
        urlField,
        "\(what) holds one file, and \(purpose) writes many under a folder: use s3://bucket/prefix/ with auth (key and secret), or dlb://prefix/"
      )
    case (.s3, nil):
      throw LocationError(
        field, "writing under an s3:// prefix needs keys: pass {\"url\", \"auth\": {\"key\", \"secret\"}}")
    case (.s3, .basic?):
      throw LocationError("\(field).auth", "username and password go with http(s) URLs; s3:// URLs take key and secret")
    case (.dlb, _?):
      throw LocationError("\(field).auth", "dlb:// locations take no credentials")
    case (.s3, .aws?), (.dlb, nil):
      return Location(target: target, auth: auth)
    }
  }
}
