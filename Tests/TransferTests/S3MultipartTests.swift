import Crypto
import Foundation
import Locations
import SigV4
import Synchronization
import TestSupport
import Testing

@testable import Transfer

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
}
