import Crypto
import Foundation
import HTTPServer
import JSON
import Locations
import Log
import Problems
import Storage
import Synchronization

/// Ferry's temporary storage over HTTP: `POST /media/input` and `POST /media/output` hand out pre-signed URLs
/// (no Authorization needed). With local storage they point at Ferry itself (`/storage/v1/...`,
/// HMAC-signed, expiring): `PUT` streams an upload to disk, and `GET /media/output?url=` and the signed GET
/// stream a file (with `Range`). With S3 storage they are S3 pre-signed URLs, and `GET /media/output?url=`
/// redirects to one (another origin, so clients drop their Authorization header). Every key lives in its
/// app's namespace.
public struct StorageController: Sendable {
  public let authenticator: Authenticator
  public let storage: TemporaryStorage
  public let signer: StorageURLSigner
  /// `transfer.max_input_bytes`: the largest upload.
  public let maxUploadBytes: Int64
  /// The base of the URLs handed out (`server.public_url`, known once the server listens).
  public let publicURL: @Sendable () -> String
  /// How long handed-out URLs live.
  public let urlLifetime: Int
  private let now: @Sendable () -> Date

  public init(
    authenticator: Authenticator, storage: TemporaryStorage, signer: StorageURLSigner, maxUploadBytes: Int64,
    publicURL: @escaping @Sendable () -> String, urlLifetime: Int = 3600,
    now: @escaping @Sendable () -> Date = { Date() }
  ) {
    self.authenticator = authenticator
    self.storage = storage
    self.signer = signer
    self.maxUploadBytes = maxUploadBytes
    self.publicURL = publicURL
    self.urlLifetime = urlLifetime
    self.now = now
  }

  public func register(in router: inout Router) {
    switch storage {
    case .local(let local): register(local, in: &router)
    case .s3(let s3): register(s3, in: &router)
    }
  }

  private func register(_ local: LocalStorage, in router: inout Router) {
    router.post("/media/input", body: .buffered(limit: 16384), check: authenticator.check) { request in
      try self.handOut(request, local, "PUT")
    }
    router.post("/media/output", body: .buffered(limit: 16384), check: authenticator.check) { request in
      try self.handOut(request, local, "GET")
    }
    router.get("/media/output") { request in
      let owner = try authenticator.authenticate(request)
      let key = try Self.key(fromLocation: request.queryValue("url"), field: "url")
      return try serve(request, local, namespace: local.namespace(owner: owner), key: key)
    }
    router.put(
      "/storage/v1/:namespace/*",
      body: .streamed(limit: maxUploadBytes) { request in
        // The signature is checked before a byte of the body is read.
        _ = try self.verified(request, method: "PUT")
        return try self.incomingFile(local)
      }
    ) { request in try self.receive(request, local) }
    router.get("/storage/v1/:namespace/*") { request in
      let (namespace, key) = try verified(request, method: "GET")
      return try serve(request, local, namespace: namespace, key: key)
    }
  }

  private func register(_ s3: S3Storage, in router: inout Router) {
    router.post("/media/input", body: .buffered(limit: 16384), check: authenticator.check) { request in
      let (owner, key) = try self.requested(request)
      return self.urlAnswer(s3.presignedURL(method: "PUT", owner: owner, key: key, lifetime: urlLifetime, now: now()))
    }
    // The existence check asks S3: off the event loop.
    router.post("/media/output", body: .buffered(limit: 16384), check: authenticator.check) { request in
      let (owner, key) = try self.requested(request)
      let exists = await withCheckedContinuation { continuation in
        DispatchQueue.global().async {
          continuation.resume(returning: Result { try s3.exists(owner: owner, key: key) })
        }
      }
      switch exists {
      case .success(true): break
      case .success(false): throw HTTPError.notFound("url: dlb://\(key) does not exist")
      case .failure:
        throw HTTPError(
          .notReady, detail: "the temporary storage did not answer; try again")
      }
      return self.urlAnswer(s3.presignedURL(method: "GET", owner: owner, key: key, lifetime: urlLifetime, now: now()))
    }
    router.get("/media/output") { request in
      let owner = try authenticator.authenticate(request)
      let key = try Self.key(fromLocation: request.queryValue("url"), field: "url")
      let url = s3.presignedURL(method: "GET", owner: owner, key: key, lifetime: urlLifetime, now: now())
      return Response(status: .found, headers: ["Location": url, "Cache-Control": "no-store"])
    }
  }

  // MARK: Routes

  /// The app and the `dlb://` key of a `{"url": "dlb://key"}` request.
  func requested(_ request: Request) throws -> (owner: String, key: String) {
    let owner = try authenticator.authenticate(request)
    guard case .object(let fields) = try JSONValue.parse(Data(request.body.bytes)) else {
      throw HTTPError.badRequest("the body must be a JSON object with a url")
    }
    return (owner, try Self.key(fromLocation: fields["url"]?.string, field: "url"))
  }

  func urlAnswer(_ url: String) -> Response {
    .json(bytes: Array(JSONValue.object(["url": .string(url)]).description.utf8))
  }

  /// `{"url": "dlb://key"}` → `{"url": "<pre-signed URL on Ferry>"}`.
  func handOut(_ request: Request, _ local: LocalStorage, _ method: String) throws -> Response {
    let (owner, key) = try requested(request)
    let namespace = local.namespace(owner: owner)
    if method == "GET" {
      guard FileBody.size(of: local.path(owner: owner, key: key)) != nil else {
        throw HTTPError.notFound("url: dlb://\(key) does not exist")
      }
    }
    let expires = Int(now().timeIntervalSince1970) + urlLifetime
    return urlAnswer(signer.url(base: publicURL(), method: method, namespace: namespace, key: key, expires: expires))
  }

  func receive(_ request: Request, _ local: LocalStorage) throws -> Response {
    // The body is in (or there was none): the temporary file goes whatever happens next.
    let file: FileBodySink
    if case .streamed(let sink) = request.body, let streamed = sink as? FileBodySink {
      file = streamed
    } else {
      // `Content-Length: 0` brings no sink: an empty upload is an empty file, as a chunked empty body is.
      file = try incomingFile(local)
    }
    defer { unlink(file.path) }
    // The signature and expiry were checked before the body was read (as S3 does): an upload that outlives
    // its URL's hour is not refused at the end. Only the names are needed again.
    let (namespace, key) = try verified(request, method: "PUT", at: .distantPast)
    do {
      try local.adopt(file: file.path, namespace: namespace, key: key)
    } catch .conflict {
      throw HTTPError(
        .conflict, detail: "dlb://\(key) collides with another key used as a folder or a file")
    } catch {
      throw HTTPError(
        .notReady, detail: "the upload could not be stored")
    }
    return .json(
      bytes: Array(
        JSONValue.object(["url": .string("dlb://\(key)"), "size": .int(Int(file.byteCount))]).description.utf8))
  }

  /// The file at `key` in `namespace`, whole or the asked range.
  func serve(_ request: Request, _ local: LocalStorage, namespace: String, key: String) throws -> Response {
    let path = local.path(namespace: namespace, key: key)
    guard let size = FileBody.size(of: path) else { throw HTTPError.notFound("dlb://\(key) does not exist") }
    var headers: HTTPHeaders = ["Content-Type": "application/octet-stream", "Accept-Ranges": "bytes"]
    switch ByteRange.parse(request.headers["Range"], size: size) {
    case .whole:
      guard let file = FileBody(path: path) else { throw HTTPError.notFound("dlb://\(key) does not exist") }
      return Response(headers: headers, file: file)
    case .partial(let range):
      guard let file = FileBody(path: path, range: range) else {
        throw HTTPError.notFound("dlb://\(key) does not exist")
      }
      headers.add("Content-Range", "bytes \(range.lowerBound)-\(range.upperBound)/\(size)")
      return Response(status: .partialContent, headers: headers, file: file)
    case .unsatisfiable:
      headers.add("Content-Range", "bytes */\(size)")
      return Response(status: .rangeNotSatisfiable, headers: headers)
    }
  }

  // MARK: Helpers

  /// A new file in `<storage>/.incoming` for an upload in progress.
  func incomingFile(_ local: LocalStorage) throws -> FileBodySink {
    let incoming = local.root + "/.incoming"
    try FileManager.default.createDirectory(
      atPath: incoming, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
    return try FileBodySink(path: incoming + "/" + UUID().uuidString)
  }

  /// The namespace and key of a `/storage/v1/` request whose signature, method and expiry hold; 403 otherwise.
  func verified(_ request: Request, method: String, at time: Date? = nil) throws -> (String, String) {
    let namespace = request.parameters["namespace"] ?? ""
    let key = request.parameters["*"] ?? ""
    guard request.queryValue("method") == method, let expires = request.queryValue("expires").flatMap(Int.init),
      let signature = request.queryValue("signature"),
      signer.verify(signature, method: method, namespace: namespace, key: key, expires: expires)
    else {
      throw HTTPError(
        .forbidden, detail: "the URL's signature does not match; ask POST /media/input or /media/output for a new one")
    }
    guard expires > Int((time ?? now()).timeIntervalSince1970) else {
      throw HTTPError(
        .forbidden, detail: "the URL has expired; ask POST /media/input or /media/output for a new one")
    }
    // Signed keys were checked when handed out; check again (the namespace is ours, not a client's path).
    _ = try Self.key(fromLocation: "dlb://" + key, field: "url")
    guard namespace.count == 64, namespace.utf8.allSatisfy({ (0x30...0x39).contains($0) || (0x61...0x66).contains($0) })
    else { throw HTTPError.notFound() }
    return (namespace, key)
  }

  /// The key of a `dlb://` location, checked by the location rules (no `..`, no empty segments, ...).
  static func key(fromLocation text: String?, field: String) throws -> String {
    guard let text else { throw HTTPError.badRequest("\(field) is required (dlb://key)") }
    guard case .dlb(let key) = try LocationParser().parse(.string(text), field: field).target else {
      throw HTTPError.badRequest("\(field): must be a dlb:// location")
    }
    return key
  }

}

/// Signs and checks Ferry's own storage URLs: HMAC-SHA256 over method, namespace, key and expiry, under a
/// key derived from the master key.
public struct StorageURLSigner: Sendable {
  private let key: [UInt8]

  public init(masterKey: [UInt8]) {
    key = HKDF.sha256(key: masterKey, info: Array("ferry storage urls v1".utf8))
  }

  func signature(method: String, namespace: String, key objectKey: String, expires: Int) -> String {
    Hex.encode(HMAC.sha256(key: key, data: Array("\(method)\n\(namespace)\n\(objectKey)\n\(expires)".utf8)))
  }

  /// The pre-signed URL for `method` on `key`.
  public func url(base: String, method: String, namespace: String, key objectKey: String, expires: Int) -> String {
    let path = objectKey.split(separator: "/", omittingEmptySubsequences: false).map {
      $0.addingPercentEncoding(withAllowedCharacters: Self.segment) ?? String($0)
    }.joined(separator: "/")
    let signature = signature(method: method, namespace: namespace, key: objectKey, expires: expires)
    return "\(base)/storage/v1/\(namespace)/\(path)?method=\(method)&expires=\(expires)&signature=\(signature)"
  }

  /// True when `signature` is this server's for these values (compared in constant time).
  public func verify(_ signature: String, method: String, namespace: String, key objectKey: String, expires: Int)
    -> Bool
  {
    ConstantTime.equal(
      signature, self.signature(method: method, namespace: namespace, key: objectKey, expires: expires))
  }

  /// RFC 3986 unreserved characters: everything else in a key segment is percent-encoded.
  private static let segment = CharacterSet(
    charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
}
