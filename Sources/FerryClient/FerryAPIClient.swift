import Foundation
import JSON
import SigV4
import Transfer

/// The HTTP side of the `ferry` client: an access token from `POST /v1/auth/token`, JSON calls on `/media/*`,
/// and file transfers to and from Ferry's pre-signed storage URLs, all through `Transfer`'s libcurl client.
///
/// The network policy is opened on purpose: it protects a server from URLs that its clients supply, while
/// here the user names the server (often on loopback or a private network) and Ferry hands out the storage
/// URLs. Nothing else is reached.
public final class FerryAPIClient {
  public let settings: ClientSettings
  private let transfer: TransferClient
  private var token: String?

  /// Job results carry a loudness series per second of media: allow large answers.
  private static let maxAnswerBytes = 64 << 20

  public init(settings: ClientSettings) {
    self.settings = settings
    let everywhere = NetworkPolicy(rules: [
      .network(IPAddress("0.0.0.0")!, prefix: 0), .network(IPAddress("::")!, prefix: 0),
    ])
    // Few, quick retries: a person is waiting, and an unreachable server should say so within seconds.
    let limits = TransferSettings(
      maxBytes: 1 << 40, connectTimeout: .seconds(10), lowSpeedTimeout: .seconds(60), maxAttempts: 3,
      initialBackoff: .milliseconds(250), maxBackoff: .seconds(2), caFile: settings.caFile)
    transfer = TransferClient(policy: everywhere, settings: limits)
  }

  // MARK: Calls

  /// Gets an access token now (the first call would otherwise): wrong credentials stop a command before
  /// it uploads anything.
  public func authenticate() throws(ClientError) {
    if token == nil { token = try fetchToken() }
  }

  /// A JSON call on the API; the answer's JSON object. 401 fetches a new token once (tokens expire).
  public func json(
    _ method: String, _ path: String, query: [(String, String)] = [], body: JSONValue? = nil
  ) throws(ClientError) -> JSONValue {
    try authenticate()
    var answer = try send(method, path, query: query, body: body)
    if answer.status == 401 {
      token = try fetchToken()
      answer = try send(method, path, query: query, body: body)
    }
    return try Self.parse(answer, what: "\(method) \(path)")
  }

  /// The app's jobs, newest first, at most `limit`, following `next_token` (pages of at most 100).
  public func jobs(status: String?, limit: Int) throws(ClientError) -> [JSONValue] {
    var items: [JSONValue] = []
    var next: String?
    // Bounded by the limit: every page but the last brings 100 jobs.
    for _ in 0..<(limit / 100 + 1) {
      var query: [(String, String)] = []
      if let status { query.append(("status", status)) }
      if let next { query.append(("next_token", next)) }
      let page = try json("GET", "/media/jobs", query: query)
      if case .array(let jobs)? = page.object?["jobs"] { items += jobs }
      next = page.object?["next_token"]?.string
      if next?.isEmpty != false || items.count >= limit { break }
    }
    return Array(items.prefix(limit))
  }

  /// Uploads the local file at `path` to the `dlb://` key `key` through a pre-signed PUT.
  public func upload(file path: String, to key: String, progress: @escaping (Int64, Int64?) -> Bool)
    throws(ClientError)
  {
    try throughPresignedURL("/media/input", key: key, doing: "uploading \(Self.fileName(path))") {
      request throws(TransferError) in
      _ = try transfer.upload(request, from: path, progress: progress)
    }
  }

  /// Downloads the `dlb://` key `key` into a new file at `path` through a pre-signed GET.
  public func download(key: String, to path: String, progress: @escaping (Int64, Int64?) -> Bool)
    throws(ClientError)
  {
    try throughPresignedURL("/media/output", key: key, doing: "downloading \(Self.fileName(path))") {
      request throws(TransferError) in
      _ = try transfer.download(request, to: path, progress: progress)
    }
  }

  /// Runs `move` (an upload or a download) on the URL `path` pre-signs for `key`; its failure reads as
  /// `what` went wrong.
  private func throughPresignedURL(
    _ path: String, key: String, doing what: String, _ move: (OutboundRequest) throws(TransferError) -> Void
  ) throws(ClientError) {
    let request = OutboundRequest(url: try presignedURL(path, key: key))
    do {
      try move(request)
    } catch {
      throw Self.mapped(error, doing: what)
    }
  }

  // MARK: Plumbing

  private func presignedURL(_ path: String, key: String) throws(ClientError) -> String {
    let answer = try json("POST", path, body: .object(["url": .string("dlb://\(key)")]))
    guard let url = answer.object?["url"]?.string else {
      throw ClientError(.failure, "POST \(path) answered no url")
    }
    return url
  }

  private func fetchToken() throws(ClientError) -> String {
    var request = OutboundRequest(
      url: settings.server + "/v1/auth/token",
      headers: [("Content-Type", "application/x-www-form-urlencoded"), ("Accept", "application/json")])
    request.basicAuth = (settings.key, settings.secret)
    let answer: (status: Int, body: [UInt8])
    do {
      answer = try transfer.call(request, method: "POST", body: Array("grant_type=client_credentials".utf8))
    } catch {
      throw Self.mapped(error, doing: "asking \(settings.server) for a token")
    }
    let object = try Self.parse(answer, what: "POST /v1/auth/token")
    guard let token = object.object?["access_token"]?.string, !token.isEmpty else {
      throw ClientError(.failure, "\(settings.server) answered the token request without an access_token")
    }
    return token
  }

  private func send(_ method: String, _ path: String, query: [(String, String)], body: JSONValue?)
    throws(ClientError) -> (status: Int, body: [UInt8])
  {
    var url = settings.server + path
    if !query.isEmpty {
      url += "?" + query.map { "\(AWSURIEncoding.encode($0.0))=\(AWSURIEncoding.encode($0.1))" }.joined(separator: "&")
    }
    var headers = [("Accept", "application/json"), ("Authorization", "Bearer \(token ?? "")")]
    if body != nil { headers.append(("Content-Type", "application/json")) }
    let request = OutboundRequest(url: url, headers: headers.map { (name: $0.0, value: $0.1) })
    do {
      return try transfer.call(
        request, method: method, body: Array((body?.description ?? "").utf8), maxAnswerBytes: Self.maxAnswerBytes)
    } catch {
      throw Self.mapped(error, doing: "\(method) \(path)")
    }
  }

  /// The JSON object of a 2xx answer; an error with Ferry's problem detail otherwise.
  static func parse(_ answer: (status: Int, body: [UInt8]), what: String) throws(ClientError) -> JSONValue {
    let json = try? JSONValue.parse(Data(answer.body))
    guard (200..<300).contains(answer.status) else {
      let fields = json?.object ?? [:]
      let detail = fields["detail"]?.string ?? fields["title"]?.string ?? "HTTP \(answer.status)"
      switch answer.status {
      case 401, 403: throw ClientError(.authRefused, "the server refused the credentials: \(detail)")
      default: throw ClientError(.requestRefused, "\(what) was refused (\(answer.status)): \(detail)")
      }
    }
    guard let json, json.object != nil else { throw ClientError(.failure, "\(what) answered no JSON object") }
    return json
  }

  /// A transfer failure as a client error: the network and 5xx mean the server is out of reach.
  static func mapped(_ error: TransferError, doing what: String) -> ClientError {
    switch error.primary {
    case .network(let detail): return ClientError(.unreachable, "\(what): cannot reach the server: \(detail)")
    case .status(let code, _) where code >= 500:
      return ClientError(.unreachable, "\(what): the server answered \(code) (after retries)")
    case .status(let code, _) where code == 401 || code == 403:
      return ClientError(.authRefused, "\(what): the server refused the request (\(code))")
    case .status(let code, _): return ClientError(.requestRefused, "\(what): the server answered \(code)")
    case .tooManyRedirects(let limit):
      return ClientError(.requestRefused, "\(what): more than \(limit) redirects")
    case .expired: return ClientError(.failure, "\(what): the pre-signed URL expired")
    default: return ClientError(.failure, "\(what): \(error.primary)")
    }
  }

  static func fileName(_ path: String) -> String { (path as NSString).lastPathComponent }
}
