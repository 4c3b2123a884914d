import Crypto
import Foundation
import Locations
import SigV4
import TestSupport
import Testing

@testable import Transfer

/// Ferry's transfers against S3 behaviour: moto as the store, `s3-strict-proxy` in front judging every
/// signature as S3 does. Skipped with a reason when the peers are not installed (a lone `swift test`).
@Suite(.serialized, .enabled(if: S3Peers.unavailable == nil, "S3 peers unavailable"))
struct S3IntegrationTests {
  static let keys = [
    "plain.wav", "with space.wav", "plus+sign.wav", "percent%20literal.wav", "amp&eq=.wav", "q?hash#.wav",
    "tilde~x.wav", "double//slash/x.wav", "ключ/音声 file.wav",
  ]
  let credentials = AWSCredentials(accessKeyID: "AKIDFERRYTEST", secretAccessKey: "ferry/secret+key=")

  private func client(_ peers: S3Peers) -> TransferClient {
    // s3:// requests are trusted as s3.endpoint is in production; pre-signed URLs a client hands in are not,
    // so the test opens exactly its peer's port.
    TransferClient(policy: try! NetworkPolicy(allow: ["127.0.0.1:\(peers.proxyPort)"]))
  }

  private func roundTrip(
    _ peers: S3Peers, bucket: String, key: String, credentials: AWSCredentials, size: Int = 300_000
  ) throws -> Bool {
    let dir = try makeTemporaryDirectory("ferry-s3-rt")
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let data = testBytes(count: size, seed: UInt64(key.utf8.count))
    FileManager.default.createFile(atPath: dir + "/up", contents: Data(data))
    let s3 = S3Requests(addressing: S3Addressing(endpoint: peers.proxyEndpoint))
    let hash = Hex.encode(try SHA256.hashFile(dir + "/up"))
    _ = try client(peers).upload(
      s3.put(bucket: bucket, key: key, payloadSHA256: hash, credentials: credentials, region: nil), from: dir + "/up")
    _ = try client(peers).download(
      s3.get(bucket: bucket, key: key, credentials: credentials, region: nil), to: dir + "/down")
    return try sha256Hex(file: dir + "/down") == sha256Hex(data)
  }

  @Test func signedPutAndGetWorkForEveryKindOfKey() throws {
    let peers = try S3Peers(key: credentials.accessKeyID, secret: credentials.secretAccessKey)
    defer { peers.stop() }
    try peers.createBucket("media-keys")
    for key in Self.keys {
      #expect(
        try roundTrip(peers, bucket: "media-keys", key: key, credentials: credentials), "\(key)\n\(peers.proxyLog)")
    }
  }

  @Test func sessionTokensAreSentAndSigned() throws {
    let token = "FwoGZXIvYXdzEBAaDH/token+with=chars"
    let peers = try S3Peers(key: credentials.accessKeyID, secret: credentials.secretAccessKey, token: token)
    defer { peers.stop() }
    try peers.createBucket("media-token")
    var withToken = credentials
    withToken.sessionToken = token
    #expect(try roundTrip(peers, bucket: "media-token", key: "in/talk.wav", credentials: withToken))
    #expect(throws: TransferError.self) {
      try roundTrip(peers, bucket: "media-token", key: "k", credentials: credentials)
    }
  }

  @Test func aWrongSecretFailsWithARedactedExplanation() throws {
    let peers = try S3Peers(key: credentials.accessKeyID, secret: credentials.secretAccessKey)
    defer { peers.stop() }
    try peers.createBucket("media-wrong")
    var wrong = credentials
    wrong.secretAccessKey = "not-the-secret"
    do {
      _ = try roundTrip(peers, bucket: "media-wrong", key: "k.wav", credentials: wrong)
      Issue.record("a wrong secret must fail")
    } catch let error as TransferError {
      guard case .status(403, let detail) = error else {
        Issue.record("expected 403, got \(error)")
        return
      }
      #expect(detail.hasPrefix("SignatureDoesNotMatch"))
      #expect(!error.description.contains("not-the-secret"))
    }
  }

  @Test func presignedURLsFromBoto3AreUsedByteForByte() throws {
    let peers = try S3Peers(key: credentials.accessKeyID, secret: credentials.secretAccessKey)
    defer { peers.stop() }
    try peers.createBucket("media-presigned")
    let dir = try makeTemporaryDirectory("ferry-presigned")
    let data = testBytes(count: 250_000, seed: 3)
    FileManager.default.createFile(atPath: dir + "/up", contents: Data(data))
    let keys = ["in/a b+c%d&e=f.wav", "out/ключ.wav"]
    let urls = try peers.presign(
      keys.flatMap { [("PUT", $0), ("GET", $0)] }, bucket: "media-presigned", expires: 7200,
      key: credentials.accessKeyID, secret: credentials.secretAccessKey)
    for (index, key) in keys.enumerated() {
      let (put, get) = (urls[2 * index], urls[2 * index + 1])
      let parser = LocationParser()
      guard case .http(let putURL, let putSigned?) = try parser.parse(.string(put), field: "output").target,
        case .http(let getURL, let getSigned?) = try parser.parse(.string(get), field: "input").target
      else {
        Issue.record("boto3's URLs must parse as pre-signed: \(Redaction.url(put))")
        continue
      }
      #expect(putSigned.expiry.date.timeIntervalSinceNow > 7000)
      // Through LocationRequests, as a job will: byte-exact URL, expiry, and a Content-MD5 the store checks.
      let requests = LocationRequests(s3: S3Requests(addressing: S3Addressing(endpoint: peers.proxyEndpoint)))
      let putRequest = try requests.write(
        try parser.parse(.string(put), field: "output"), field: "output", file: dir + "/up", contentType: nil)
      #expect(putRequest.url == putURL && putRequest.expiry == putSigned.expiry.date)
      #expect(putRequest.headers.map(\.name) == ["Content-MD5"])
      _ = try client(peers).upload(putRequest, from: dir + "/up")
      let down = dir + "/down-\(UUID().uuidString)"
      _ = try client(peers).download(OutboundRequest(url: getURL, expiry: getSigned.expiry.date), to: down)
      #expect(try sha256Hex(file: down) == sha256Hex(data), "\(key)\n\(peers.proxyLog)")
    }
  }

  @Test func aPresignedPutThatSignsContentType_isSentOctetStream_andTheStoreAccepts() throws {
    let peers = try S3Peers(key: credentials.accessKeyID, secret: credentials.secretAccessKey)
    defer { peers.stop() }
    try peers.createBucket("media-typed")
    let dir = try makeTemporaryDirectory("ferry-typed")
    let data = testBytes(count: 70_000, seed: 8)
    FileManager.default.createFile(atPath: dir + "/up", contents: Data(data))
    // As Dolby's GCS sample makes its output URL: the signature covers Content-Type: application/octet-stream.
    let put = try peers.presign(
      method: "PUT", bucket: "media-typed", key: "out/enhanced.wav", expires: 7200, key: credentials.accessKeyID,
      secret: credentials.secretAccessKey, contentType: "application/octet-stream")
    #expect(put.contains("X-Amz-SignedHeaders=content-type%3Bhost"), "\(Redaction.url(put))")
    let requests = LocationRequests(s3: S3Requests(addressing: S3Addressing(endpoint: peers.proxyEndpoint)))
    // The job's output is a WAV: sending audio/wav would break the signature (the strict proxy answers 403).
    let request = try requests.write(
      try LocationParser().parse(.string(put), field: "output"), field: "output", file: dir + "/up",
      contentType: "audio/wav")
    _ = try client(peers).upload(request, from: dir + "/up")
    let s3 = S3Requests(addressing: S3Addressing(endpoint: peers.proxyEndpoint))
    let stored = try client(peers).download(
      s3.get(bucket: "media-typed", key: "out/enhanced.wav", credentials: credentials, region: nil),
      to: dir + "/down")
    #expect(stored.contentType == "application/octet-stream", "\(peers.proxyLog)")
    #expect(try sha256Hex(file: dir + "/down") == sha256Hex(data))
  }

  @Test func anExpiredPresignedURLIsNeverSentAndTheStoreAgrees() throws {
    let peers = try S3Peers(key: credentials.accessKeyID, secret: credentials.secretAccessKey)
    defer { peers.stop() }
    try peers.createBucket("media-expired")
    let url = try peers.presign(
      method: "GET", bucket: "media-expired", key: "k.wav", expires: 1, key: credentials.accessKeyID,
      secret: credentials.secretAccessKey)
    guard case .http(_, let presigned?) = try LocationParser().parse(.string(url), field: "input").target else {
      Issue.record("expected a pre-signed URL")
      return
    }
    // Until just past the expiry the URL names (X-Amz-Date is in whole seconds: 0-1 s after it was signed),
    // by the store's clock as well as ours; it was a fixed 2.2 s.
    Thread.sleep(forTimeInterval: max(0, presigned.expiry.date.timeIntervalSinceNow) + 0.25)
    let dir = try makeTemporaryDirectory("ferry-expired")
    let before = peers.proxyLog.split(separator: "\n").count
    #expect(throws: TransferError.expired) {
      try client(peers).download(OutboundRequest(url: url, expiry: presigned.expiry.date), to: dir + "/down")
    }
    #expect(peers.proxyLog.split(separator: "\n").count == before, "nothing was sent to the expired URL")
    // Without Ferry's check, the store refuses it too.
    do {
      _ = try client(peers).download(OutboundRequest(url: url), to: dir + "/down-unchecked")
      Issue.record("the store must refuse an expired URL")
    } catch {
      // download(...) throws only TransferError (typed throws).
      #expect(error == .status(403, detail: "AccessDenied: Request has expired"), "\(error)")
    }
  }
}

/// nanio: a second, independent strict S3 server (not a proxy), for keys it verifies correctly.
@Suite(.serialized, .enabled(if: NanioPeer.executable != nil, "nanio not installed"))
struct NanioTests {
  let credentials = AWSCredentials(accessKeyID: "AKIDNANIO", secretAccessKey: "nanio/secret+key")

  @Test func signedRoundTripsOnASecondStrictServer() throws {
    let nanio = try NanioPeer(key: credentials.accessKeyID, secret: credentials.secretAccessKey, buckets: ["media"])
    defer { nanio.stop() }
    let client = TransferClient(policy: NetworkPolicy())
    let s3 = S3Requests(addressing: S3Addressing(endpoint: nanio.endpoint))
    let dir = try makeTemporaryDirectory("ferry-nanio-rt")
    for (i, key) in ["plain.wav", "with space.wav", "plus+sign.wav", "amp&q?hash#.wav", "tilde~x.wav", "ключ/音声.wav"]
      .enumerated()
    {
      let data = testBytes(count: 200_000 + i, seed: UInt64(i))
      let up = dir + "/up\(i)"
      _ = FileManager.default.createFile(atPath: up, contents: Data(data))
      _ = try client.upload(
        s3.put(
          bucket: "media", key: key, payloadSHA256: Hex.encode(try SHA256.hashFile(up)), credentials: credentials,
          region: nil), from: up)
      _ = try client.download(
        s3.get(bucket: "media", key: key, credentials: credentials, region: nil), to: dir + "/down\(i)")
      #expect(try sha256Hex(file: dir + "/down\(i)") == sha256Hex(data), "\(key)")
    }
    var wrong = credentials
    wrong.secretAccessKey = "wrong"
    #expect(throws: TransferError.self) {
      try client.download(s3.get(bucket: "media", key: "plain.wav", credentials: wrong, region: nil), to: dir + "/bad")
    }
  }
}

/// The test helper itself: one moto per test process, given to one `S3Peers` at a time and emptied between.
@Suite(.serialized, .enabled(if: S3Peers.unavailable == nil, "S3 peers unavailable"))
struct S3PeersTests {
  private func buckets(_ peers: S3Peers) throws -> String {
    let client = try RawHTTPClient(port: peers.motoPort)
    try client.send("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
    return try client.readResponse().text
  }

  @Test func aSecondS3Peers_waitsForTheFirstToStop_andFindsMotoEmpty() throws {
    let first = try S3Peers(key: "AKIDFIRST", secret: "first")
    defer { first.stop() }
    try first.createBucket("left-by-the-first")
    #expect(try buckets(first).contains("<Name>left-by-the-first</Name>"))
    #expect(throws: RawHTTPClient.ClientError.self, "moto is held while the first is alive") {
      try S3Peers(key: "AKIDSECOND", secret: "second", wait: 0.2)
    }
    first.stop()
    let second = try S3Peers(key: "AKIDSECOND", secret: "second", wait: 5)
    defer { second.stop() }
    #expect(second.motoPort == first.motoPort, "one moto per test process")
    #expect(!(try buckets(second).contains("left-by-the-first")))
  }
}
