import Crypto
import Foundation
import Locations
import SigV4
import Synchronization
import TestSupport
import Testing

@testable import Transfer

/// Counts calls from the proxy's threads.
private final class Counter: Sendable {
  private let value = Mutex(0)
  var count: Int { value.withLock { $0 } }
  /// Counts one more and returns the new count.
  func next() -> Int {
    value.withLock {
      $0 += 1
      return $0
    }
  }
}

@Suite(.serialized, .enabled(if: S3Peers.unavailable == nil, "S3 peers unavailable"))
struct S3MultipartTests {
  let credentials = AWSCredentials(accessKeyID: "AKIDMULTIPART", secretAccessKey: "multi/part+secret")

  private func setUp(_ bucket: String) throws -> (S3Peers, S3MultipartUpload, S3Requests, TransferClient) {
    let peers = try S3Peers(key: credentials.accessKeyID, secret: credentials.secretAccessKey)
    try peers.createBucket(bucket)
    // Only s3:// requests to the configured endpoint are used here: trusted without any allow entry.
    let client = TransferClient(policy: NetworkPolicy())
    let s3 = S3Requests(addressing: S3Addressing(endpoint: peers.proxyEndpoint))
    return (peers, S3MultipartUpload(client: client, s3: s3, partSize: 5 << 20, parallelParts: 4), s3, client)
  }

  /// Like `setUp`, with a `FaultProxy` between the client and the strict proxy; retries wait 10 ms at most.
  private func setUp(
    _ bucket: String, parallelParts: Int = 2,
    proxy action: @escaping @Sendable (FaultProxy.Request) -> FaultProxy.Action
  ) throws -> (S3Peers, FaultProxy, S3MultipartUpload, S3Requests, TransferClient) {
    let peers = try S3Peers(key: credentials.accessKeyID, secret: credentials.secretAccessKey)
    try peers.createBucket(bucket)
    let proxy = try FaultProxy(upstreamPort: peers.proxyPort, action: action)
    let client = TransferClient(
      policy: NetworkPolicy(), settings: TransferSettings(maxAttempts: 3, initialBackoff: .milliseconds(10)))
    let s3 = S3Requests(addressing: S3Addressing(endpoint: proxy.base))
    return (
      peers, proxy, S3MultipartUpload(client: client, s3: s3, partSize: 5 << 20, parallelParts: parallelParts), s3,
      client
    )
  }

  /// Whether a request is a CompleteMultipartUpload (a POST naming its upload).
  private static func isCompletion(_ request: FaultProxy.Request) -> Bool {
    request.method == "POST" && request.target.contains("uploadId=")
  }

  /// The part number an UploadPart request names, or nil for any other request.
  private static func partNumber(_ request: FaultProxy.Request) -> Int? {
    guard request.method == "PUT", let query = request.target.split(separator: "?", maxSplits: 1).last else {
      return nil
    }
    return query.split(separator: "&").first { $0.hasPrefix("partNumber=") }.flatMap { Int($0.dropFirst(11)) }
  }

  /// What S3 answers a CompleteMultipartUpload for an upload that is gone.
  private static let noSuchUpload = FaultProxy.Action.answer(
    404, headers: [("Content-Type", "application/xml")],
    body: "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>NoSuchUpload</Code><Message>The specified upload"
      + " does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.</Message>"
      + "</Error>")

  /// The object's ETag, asked of moto directly (it checks no signature, but refuses an anonymous HEAD).
  private func storedETag(_ peers: S3Peers, _ bucket: String, _ key: String) throws -> String? {
    let client = try RawHTTPClient(port: peers.motoPort)
    let authorization =
      "AWS4-HMAC-SHA256 Credential=\(credentials.accessKeyID)/20260101/us-east-1/s3/aws4_request, SignedHeaders=host,"
      + " Signature=0"
    try client.send(
      "HEAD /\(bucket)/\(key) HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: \(authorization)\r\nConnection: close\r\n\r\n"
    )
    return try client.readResponse(head: true).header("ETag")
  }

  /// In-progress multipart uploads of `bucket`, asked of moto directly.
  private func openUploads(_ peers: S3Peers, _ bucket: String) throws -> Int {
    let client = try RawHTTPClient(port: peers.motoPort)
    try client.send("GET /\(bucket)?uploads HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
    return try client.readResponse().text.components(separatedBy: "<Upload>").count - 1
  }

  private func file(_ bytes: [UInt8]) throws -> String {
    let path = try makeTemporaryDirectory("ferry-multipart") + "/big"
    _ = FileManager.default.createFile(atPath: path, contents: Data(bytes))
    return path
  }

  @Test func uploadsTwentyMiBInFiveMiBPartsInParallel() throws {
    let (peers, multipart, s3, client) = try setUp("media-multipart")
    defer { peers.stop() }
    let data = testBytes(count: 20 << 20, seed: 21)
    let path = try file(data)
    let reported = Mutex<Int64>(0)
    let key = "out/big file+1.wav"
    let result: TransferResult
    do {
      result = try multipart.upload(
        file: path, bucket: "media-multipart", key: key, credentials: credentials, region: nil
      ) {
        done, _ in
        reported.withLock { $0 = max($0, done) }
        return true
      }
    } catch {
      Issue.record("\(error)\n\(peers.proxyLog)\n\(peers.motoLog.suffix(3000))")
      return
    }
    #expect(result.bytes == Int64(data.count))
    #expect(result.etag?.hasSuffix("-4\"") == true, "an S3 multipart ETag names its 4 parts: \(result.etag ?? "-")")
    #expect(reported.withLock { $0 } == Int64(data.count))
    let down = path + ".down"
    _ = try client.download(
      s3.get(bucket: "media-multipart", key: key, credentials: credentials, region: nil), to: down)
    #expect(try sha256Hex(file: down) == sha256Hex(data))
    let parts = peers.motoLog.split(separator: "\n").filter {
      $0.contains("PUT /media-multipart/") && $0.contains("partNumber=")
    }
    #expect(parts.count == 4, "\(peers.motoLog)")
    #expect(try openUploads(peers, "media-multipart") == 0)
  }

  @Test func aPartThatFailsOnce_isSentAgainAlone_andTheObjectIsExact() throws {
    let failures = Counter()
    let (peers, proxy, multipart, s3, client) = try setUp("media-part-retry", parallelParts: 4) { request in
      // Part 3's first attempt meets a store error; everything else, and part 3's next attempt, goes through.
      guard Self.partNumber(request) == 3, failures.next() == 1 else { return .forward }
      return .answer(
        500, headers: [("Content-Type", "application/xml")],
        body: "<Error><Code>InternalError</Code><Message>We encountered an internal error.</Message></Error>")
    }
    defer {
      proxy.stop()
      peers.stop()
    }
    let data = testBytes(count: 20 << 20, seed: 35)
    let path = try file(data)
    let result: TransferResult
    do {
      result = try multipart.upload(
        file: path, bucket: "media-part-retry", key: "k.wav", credentials: credentials, region: nil)
    } catch {
      Issue.record("\(error)\n\(proxy.requestLines)\n\(peers.proxyLog)")
      return
    }
    let lines = proxy.requestLines
    let sends = (1...4).map { number in
      lines.filter { $0.hasPrefix("PUT ") && $0.contains("partNumber=\(number)&") }.count
    }
    #expect(sends == [1, 1, 2, 1], "only the failed part was sent again: \(lines)")
    #expect(lines.filter { $0.hasPrefix("POST ") && $0.contains("?uploads") }.count == 1, "one upload: \(lines)")
    #expect(!lines.contains { $0.hasPrefix("DELETE") }, "nothing was aborted")
    #expect(result.etag?.hasSuffix("-4\"") == true)
    let down = path + ".down"
    _ = try client.download(
      s3.get(bucket: "media-part-retry", key: "k.wav", credentials: credentials, region: nil), to: down)
    #expect(try sha256Hex(file: down) == sha256Hex(data))
  }

  @Test func partsAreInFlightTogether_neverMoreThanParallelParts() throws {
    let inFlight = Mutex((now: 0, most: 0))
    let (peers, proxy, multipart, s3, client) = try setUp("media-overlap", parallelParts: 2) { request in
      guard Self.partNumber(request) != nil else { return .forward }
      // The store holds each part a moment: parts sent together are seen together.
      inFlight.withLock {
        $0.now += 1
        $0.most = max($0.most, $0.now)
      }
      Thread.sleep(forTimeInterval: 0.3)
      inFlight.withLock { $0.now -= 1 }
      return .forward
    }
    defer {
      proxy.stop()
      peers.stop()
    }
    let data = testBytes(count: 15 << 20, seed: 36)
    let path = try file(data)
    let started = Date()
    do {
      _ = try multipart.upload(file: path, bucket: "media-overlap", key: "k.wav", credentials: credentials, region: nil)
    } catch {
      Issue.record("\(error)\n\(proxy.requestLines)\n\(peers.proxyLog)")
      return
    }
    let most = inFlight.withLock { $0.most }
    print(
      "multipart: at most \(most) of 3 parts in flight at once (2 allowed), 15 MiB in \(Date().timeIntervalSince(started)) s"
    )
    #expect(most == 2, "parts overlap at the store, never more than parallelParts at once")
    let down = path + ".down"
    _ = try client.download(
      s3.get(bucket: "media-overlap", key: "k.wav", credentials: credentials, region: nil), to: down)
    #expect(try sha256Hex(file: down) == sha256Hex(data))
  }

  @Test func aRejectedCompletionAbortsTheUpload() throws {
    let (peers, _, s3, client) = try setUp("media-abort")
    defer { peers.stop() }
    // 1 MiB parts are below S3's 5 MiB minimum: the store refuses to complete.
    let small = S3MultipartUpload(client: client, s3: s3, partSize: 1 << 20, parallelParts: 2)
    let path = try file(testBytes(count: 3 << 20, seed: 2))
    #expect(throws: TransferError.self) {
      try small.upload(file: path, bucket: "media-abort", key: "k.wav", credentials: credentials, region: nil)
    }
    #expect(try openUploads(peers, "media-abort") == 0, "no orphaned parts remain")
  }

  @Test func aFailedLeaseCheckBeforeCompletionAbortsTheUpload() throws {
    let (peers, multipart, s3, client) = try setUp("media-fenced")
    defer { peers.stop() }
    let path = try file(testBytes(count: 6 << 20, seed: 4))
    #expect(throws: TransferError.local("lease lost")) {
      try multipart.upload(
        file: path, bucket: "media-fenced", key: "k.wav", credentials: credentials, region: nil,
        beforeComplete: { () throws(TransferError) in throw TransferError.local("lease lost") })
    }
    #expect(try openUploads(peers, "media-fenced") == 0)
    #expect(throws: TransferError.self) {
      try client.download(
        s3.get(bucket: "media-fenced", key: "k.wav", credentials: credentials, region: nil), to: path + ".down")
    }
  }

  @Test func aLostCompletionAnswerIsAskedForAgainAndTheUploadSucceeds() throws {
    let completions = Counter()
    let (peers, proxy, multipart, s3, client) = try setUp("media-lost-answer") { request in
      guard Self.isCompletion(request) else { return .forward }
      // The store completes the upload; the answer never arrives. The repeat goes through.
      return completions.next() == 1 ? .forwardThenReset : .forward
    }
    defer {
      proxy.stop()
      peers.stop()
    }
    let data = testBytes(count: 6 << 20, seed: 31)
    let path = try file(data)
    let result: TransferResult
    do {
      result = try multipart.upload(
        file: path, bucket: "media-lost-answer", key: "k.wav", credentials: credentials, region: nil)
    } catch {
      Issue.record("\(error)\n\(proxy.requestLines)\n\(peers.proxyLog)")
      return
    }
    #expect(completions.count == 2, "\(proxy.requestLines)")
    #expect(
      result.etag.map(S3MultipartUpload.unquoted)
        == (try storedETag(peers, "media-lost-answer", "k.wav")).map(S3MultipartUpload.unquoted))
    #expect(result.etag?.hasSuffix("-2\"") == true)
    let down = path + ".down"
    _ = try client.download(
      s3.get(bucket: "media-lost-answer", key: "k.wav", credentials: credentials, region: nil), to: down)
    #expect(try sha256Hex(file: down) == sha256Hex(data))
    #expect(!proxy.requestLines.contains { $0.hasPrefix("DELETE") }, "nothing was aborted")
  }

  @Test func aCompletionRepeatAnsweredNoSuchUploadSucceedsWhenTheObjectHasTheMultipartETag() throws {
    let completions = Counter()
    let (peers, proxy, multipart, s3, client) = try setUp("media-no-such-upload") { request in
      guard Self.isCompletion(request) else { return .forward }
      // The store completes the upload, the answer is lost, and the repeat finds the upload gone (as S3 can).
      return completions.next() == 1 ? .forwardThenReset : Self.noSuchUpload
    }
    defer {
      proxy.stop()
      peers.stop()
    }
    let data = testBytes(count: 6 << 20, seed: 32)
    let path = try file(data)
    let result: TransferResult
    do {
      result = try multipart.upload(
        file: path, bucket: "media-no-such-upload", key: "k.wav", credentials: credentials, region: nil)
    } catch {
      Issue.record("\(error)\n\(proxy.requestLines)\n\(peers.proxyLog)")
      return
    }
    let stored = try storedETag(peers, "media-no-such-upload", "k.wav")
    #expect(stored?.hasSuffix("-2\"") == true)
    #expect(result.etag == stored)
    #expect(result.bytes == Int64(data.count))
    #expect(
      proxy.requestLines.filter { $0.hasPrefix("HEAD /media-no-such-upload/k.wav") }.count == 1, "\(proxy.requestLines)"
    )
    #expect(!proxy.requestLines.contains { $0.hasPrefix("DELETE") }, "nothing was aborted")
    let down = path + ".down"
    _ = try client.download(
      s3.get(bucket: "media-no-such-upload", key: "k.wav", credentials: credentials, region: nil), to: down)
    #expect(try sha256Hex(file: down) == sha256Hex(data))
  }

  @Test func aCompletionRepeatAnsweredNoSuchUploadFailsWhenTheObjectIsNotOurs() throws {
    let completions = Counter()
    let motoPort = Mutex(0)
    let (peers, proxy, multipart, _, _) = try setUp("media-replaced") { request in
      guard Self.isCompletion(request) else { return .forward }
      if completions.next() == 1 { return .forwardThenReset }
      // Before the repeat, another writer replaces the object the lost answer had completed.
      if let other = try? RawHTTPClient(port: motoPort.withLock { $0 }) {
        try? other.send(
          "PUT /media-replaced/k.wav HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 5\r\nConnection: close\r\n\r\nother"
        )
        _ = try? other.readResponse()
      }
      return Self.noSuchUpload
    }
    motoPort.withLock { $0 = peers.motoPort }
    defer {
      proxy.stop()
      peers.stop()
    }
    let path = try file(testBytes(count: 6 << 20, seed: 33))
    #expect(
      throws: TransferError.status(
        404,
        detail: "NoSuchUpload: The specified upload does not exist. The upload ID may be invalid, or the upload may"
          + " have been aborted or completed.")
    ) {
      try multipart.upload(file: path, bucket: "media-replaced", key: "k.wav", credentials: credentials, region: nil)
    }
    #expect(completions.count == 2)
    #expect(proxy.requestLines.contains { $0.hasPrefix("HEAD /media-replaced/k.wav") }, "\(proxy.requestLines)")
    let stored = try storedETag(peers, "media-replaced", "k.wav")
    #expect(stored != nil && stored?.hasSuffix("-2\"") == false, "the other writer's object stays: \(stored ?? "-")")
  }

  @Test func aFirstCompletionAnsweredNoSuchUploadIsAFailureWithoutALookAtTheObject() throws {
    let (peers, proxy, multipart, _, _) = try setUp("media-gone") { request in
      Self.isCompletion(request) ? Self.noSuchUpload : .forward
    }
    defer {
      proxy.stop()
      peers.stop()
    }
    let path = try file(testBytes(count: 6 << 20, seed: 34))
    #expect(throws: TransferError.self) {
      try multipart.upload(file: path, bucket: "media-gone", key: "k.wav", credentials: credentials, region: nil)
    }
    #expect(!proxy.requestLines.contains { $0.hasPrefix("HEAD") }, "\(proxy.requestLines)")
    #expect(try openUploads(peers, "media-gone") == 0, "the upload was aborted")
  }
}
