import Crypto
import Foundation
import Locations
import SigV4
import Storage
import TestSupport
import Testing
import Transfer

/// `storage.kind = "s3"`: `dlb://` keys live in a bucket (moto behind the strict SigV4 proxy, so every URL
/// Ferry hands out and every request it makes has its signature checked), clients get S3 pre-signed URLs,
/// `GET /media/output` redirects to S3, and the sweep removes what is older than the retention.
@Suite(.serialized, .enabled(if: S3Peers.unavailable == nil, "S3 peers unavailable"))
struct StorageOnS3Tests {
  static let (key, secret, bucket) = ("AKIDSTORAGE", "storage/secret+key", "ferry-temp")

  /// Sends `method` to an absolute URL on a loopback peer, with `body`.
  func send(_ method: String, _ url: String, body: [UInt8] = []) async throws -> RawHTTPClient.Response {
    let parsed = try #require(URL(string: url))
    let target = String(url.dropFirst("http://".count).drop { $0 != "/" })
    let port = try #require(parsed.port)
    return try await blocking {
      let client = try RawHTTPClient(port: port)
      try client.send(
        "\(method) \(target) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nContent-Length: \(body.count)\r\nConnection: close\r\n\r\n"
      )
      if !body.isEmpty { try client.send(body) }
      return try client.readResponse()
    }
  }

  func server(_ peers: S3Peers) throws -> APITestServer {
    try APITestServer(extraEnvironment: [
      "FERRY_STORAGE_KIND": "s3", "FERRY_STORAGE_S3_BUCKET": Self.bucket, "FERRY_STORAGE_S3_PREFIX": "tmp",
      "FERRY_STORAGE_S3_ENDPOINT": peers.proxyEndpoint, "FERRY_STORAGE_S3_KEY": Self.key,
      "FERRY_STORAGE_S3_SECRET": Self.secret,
      // Small parts, so the result goes up in parts.
      "FERRY_TRANSFER_MULTIPART_THRESHOLD_BYTES": "5242880", "FERRY_TRANSFER_PART_SIZE_BYTES": "5242880",
    ])
  }

  @Test func uploadProcessDownload_throughTheBucket() async throws {
    let peers = try S3Peers(key: Self.key, secret: Self.secret)
    defer { peers.stop() }
    try peers.createBucket(Self.bucket)
    let server = try server(peers)
    defer { Task { await server.stop() } }
    let token = try await server.token(key: "app-a", secret: "secret-a")
    let auth = ["Authorization": "Bearer \(token)"]
    let input = testBytes(count: 6 << 20)

    // The PUT URL is S3's own, pre-signed for 1 h; the client sends the bytes straight to the bucket.
    let handed = try await server.request(
      "POST", "/media/input", headers: auth, body: #"{"url": "dlb://in/my talk ü.wav"}"#)
    let putURL = try #require(handed.json["url"] as? String, "\(handed.text)")
    #expect(putURL.hasPrefix(peers.proxyEndpoint + "/\(Self.bucket)/tmp/") && putURL.contains("X-Amz-Expires=3600"))
    let uploaded = try await send("PUT", putURL, body: input)
    #expect(uploaded.status == 200, "\(uploaded.text)")

    let posted = try await server.request(
      "POST", "/media/copy", headers: auth,
      body: #"{"input": "dlb://in/my talk ü.wav", "output": "dlb://out/copy.wav"}"#)
    let jobID = try #require(posted.json["job_id"] as? String)
    let ended = try await server.waitForEnd(jobID, token: token)
    #expect(ended["status"] as? String == "Success", "\(ended)")

    // GET /media/output redirects to S3 (another origin: clients drop Authorization there).
    let redirect = try await server.request("GET", "/media/output?url=dlb://out/copy.wav", headers: auth)
    #expect(redirect.status == 302, "\(redirect.text)")
    let location = try #require(redirect.header("Location"))
    #expect(location.hasPrefix(peers.proxyEndpoint + "/"))
    let downloaded = try await send("GET", location)
    #expect(downloaded.status == 200 && downloaded.body == input)
    let getHanded = try await server.request(
      "POST", "/media/output", headers: auth, body: #"{"url": "dlb://out/copy.wav"}"#)
    let getURL = try #require(getHanded.json["url"] as? String, "\(getHanded.text)")
    #expect(try await send("GET", getURL).body == input)

    // The object is the app's, under the prefix: hex SHA-256 of the app key, then the key.
    let namespace = Hex.encode(SHA256.hash("app-a".utf8))
    let listing = try await send("GET", "http://127.0.0.1:\(peers.motoPort)/\(Self.bucket)?list-type=2")
    #expect(listing.text.contains("<Key>tmp/\(namespace)/out/copy.wav</Key>"), "\(listing.text)")
    // Another app sees none of it; a missing key is a 404 and a job on it fails naming the key.
    let otherToken = try await server.token(key: "app-b", secret: "secret-b")
    let foreign = try await server.request(
      "POST", "/media/output", headers: ["Authorization": "Bearer \(otherToken)"],
      body: #"{"url": "dlb://out/copy.wav"}"#)
    #expect(foreign.status == 404, "\(foreign.text)")
    let missing = try await server.request(
      "POST", "/media/copy", headers: auth, body: #"{"input": "dlb://in/none.wav", "output": "dlb://out/none.wav"}"#)
    let failed = try await server.waitForEnd(try #require(missing.json["job_id"] as? String), token: token)
    #expect(failed["status"] as? String == "Failed")
    #expect(
      ((failed["error"] as? [String: Any])?["detail"] as? String)?.contains("dlb://in/none.wav does not exist") == true)

    // Every request reached S3 signed and passed the strict proxy; the result went up in parts.
    let log = peers.proxyLog
    #expect(!log.contains("-> 403") && !log.contains("-> 400"), "\(log.suffix(800))")
    #expect(log.contains("POST /\(Self.bucket)/tmp/\(namespace)/out/copy.wav -> 200 (signed)"), "\(log.suffix(800))")
    let logs = server.logs.all.joined(separator: "\n")
    #expect(!logs.contains(Self.secret) && !logs.contains("X-Amz-Signature") && !logs.contains("Signature="))
  }

  @Test func theSweep_removesWhatIsOlderThanTheCutoff_underThePrefixOnly() async throws {
    let peers = try S3Peers(key: Self.key, secret: Self.secret)
    defer { peers.stop() }
    try peers.createBucket(Self.bucket)
    let client = TransferClient(policy: NetworkPolicy())
    let storage = S3Storage(
      bucket: Self.bucket, prefix: "tmp/",
      credentials: AWSCredentials(accessKeyID: Self.key, secretAccessKey: Self.secret),
      region: nil, addressing: S3Addressing(endpoint: peers.proxyEndpoint), client: client)
    for name in ["a", "b/c", "d e+f"] {
      let url = storage.presignedURL(method: "PUT", owner: "app-a", key: name, lifetime: 60, now: Date())
      #expect(try await send("PUT", url, body: testBytes(count: 10)).status == 200)
    }
    let outside = S3Storage(
      bucket: Self.bucket, prefix: "", credentials: storage.credentials, region: nil,
      addressing: S3Addressing(endpoint: peers.proxyEndpoint), client: client)
    #expect(
      try await send(
        "PUT", outside.presignedURL(method: "PUT", owner: "x", key: "keep", lifetime: 60, now: Date()), body: [1]
      ).status == 200)

    #expect(try await blocking { try storage.sweep(before: Date() - 3600) } == 0)
    #expect(try await blocking { try storage.exists(owner: "app-a", key: "b/c") })
    #expect(try await blocking { try storage.sweep(before: Date() + 60) } == 3)
    #expect(try await blocking { try storage.exists(owner: "app-a", key: "b/c") } == false)
    #expect(try await blocking { try outside.exists(owner: "x", key: "keep") })
  }

  @Test func theSweep_abortsMultipartUploadsStartedBeforeTheCutoff_underThePrefixOnly() async throws {
    let peers = try S3Peers(key: Self.key, secret: Self.secret)
    defer { peers.stop() }
    try peers.createBucket(Self.bucket)
    // Uploads a node started and never finished: two under the storage prefix, one outside it.
    func start(_ key: String) throws {
      let moto = try RawHTTPClient(port: peers.motoPort)
      try moto.send(
        "POST /\(Self.bucket)/\(key)?uploads HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
      )
      #expect(try moto.readResponse().status == 200)
    }
    for key in ["tmp/app-a/big.wav", "tmp/app-b/x%20y.wav", "elsewhere/keep.wav"] { try start(key) }
    func open() throws -> String {
      let moto = try RawHTTPClient(port: peers.motoPort)
      try moto.send("GET /\(Self.bucket)?uploads HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
      return try moto.readResponse().text
    }
    let storage = S3Storage(
      bucket: Self.bucket, prefix: "tmp/",
      credentials: AWSCredentials(accessKeyID: Self.key, secretAccessKey: Self.secret),
      region: nil, addressing: S3Addressing(endpoint: peers.proxyEndpoint),
      client: TransferClient(policy: NetworkPolicy()))
    // moto dates every upload 2010-11-10, so any cutoff of today's takes them; the age test is the listing's.
    #expect(try await blocking { try storage.abortUploads(startedBefore: Date()) } == 2)
    let left = try open()
    #expect(left.components(separatedBy: "<Upload>").count == 2 && left.contains("elsewhere/keep.wav"), "\(left)")
  }
}
