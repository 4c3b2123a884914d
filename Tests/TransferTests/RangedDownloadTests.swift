import Crypto
import Foundation
import Locations
import SigV4
import Synchronization
import TestSupport
import Testing

@testable import Transfer

/// Downloads in parts over several connections (issue 20): against moto behind the strict SigV4 proxy (S3
/// takes ranges), with a proxy that loses a part's connection, and against a server that takes none.
@Suite(.serialized, .enabled(if: S3Peers.unavailable == nil, "S3 peers unavailable"))
struct RangedDownloadTests {
  let credentials = AWSCredentials(accessKeyID: "AKIDRANGED", secretAccessKey: "ranged/secret")
  static let size = 9 << 20

  /// Settings that split a body of 2 MiB or more into 1 MiB parts over 4 connections.
  static let inParts = TransferSettings(
    maxAttempts: 3, initialBackoff: .milliseconds(10), downloadConnections: 4, downloadPartSize: 1 << 20)

  /// An object of `size` bytes in a new bucket, and an S3 GET for it through `endpoint`.
  func object(_ peers: S3Peers, endpoint: String) throws -> (data: [UInt8], get: OutboundRequest) {
    try peers.createBucket("ranged")
    let data = testBytes(count: Self.size, seed: 7)
    let moto = try RawHTTPClient(port: peers.motoPort)
    try moto.send(
      "PUT /ranged/big.bin HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: \(data.count)\r\nConnection: close\r\n\r\n")
    try moto.send(data)
    #expect(try moto.readResponse().status == 200)
    let s3 = S3Requests(addressing: S3Addressing(endpoint: endpoint))
    return (data, s3.get(bucket: "ranged", key: "big.bin", credentials: credentials, region: nil))
  }

  @Test func aBigObject_comesInPartsOverSeveralConnections_byteForByte() throws {
    let peers = try S3Peers(key: credentials.accessKeyID, secret: credentials.secretAccessKey)
    defer { peers.stop() }
    let counting = try FaultProxy(upstreamPort: peers.proxyPort) { _ in .forward }
    defer { counting.stop() }
    let (data, get) = try object(peers, endpoint: counting.base)
    let path = try makeTemporaryDirectory("ferry-ranged") + "/down"
    let client = TransferClient(policy: try NetworkPolicy(allow: ["127.0.0.1/32"]), settings: Self.inParts)
    let reported = Mutex<Int64>(0)
    let result = try client.download(get, to: path) { done, _ in
      reported.withLock { $0 = max($0, done) }
      return true
    }
    #expect(result.bytes == Int64(data.count) && reported.withLock { $0 } == Int64(data.count))
    #expect(try sha256Hex(file: path) == sha256Hex(data))
    // The first GET stops after its part; the other eight parts are ranged GETs of their own.
    let gets = counting.requestLines.filter { $0.hasPrefix("GET /ranged/big.bin") }
    #expect(gets.count == 9, "\(gets)")
  }

  @Test func aPartWhoseConnectionIsLost_isResumedAlone() throws {
    let peers = try S3Peers(key: credentials.accessKeyID, secret: credentials.secretAccessKey)
    defer { peers.stop() }
    // The answer to the fourth part's request is lost once: that part alone is asked again.
    let fourth = "bytes=\(3 << 20)-\((4 << 20) - 1)"
    let lost = Mutex(false)
    let flaky = try FaultProxy(upstreamPort: peers.proxyPort) { request in
      guard request.header("Range") == fourth, !lost.withLock({ $0 }) else { return .forward }
      lost.withLock { $0 = true }
      return .forwardThenReset
    }
    defer { flaky.stop() }
    let (data, get) = try object(peers, endpoint: flaky.base)
    let path = try makeTemporaryDirectory("ferry-ranged") + "/down"
    let client = TransferClient(policy: try NetworkPolicy(allow: ["127.0.0.1/32"]), settings: Self.inParts)
    let result = try client.download(get, to: path)
    #expect(result.bytes == Int64(data.count))
    #expect(try sha256Hex(file: path) == sha256Hex(data))
    #expect(lost.withLock { $0 }, "the part's answer was lost once")
    let gets = flaky.requestLines.filter { $0.hasPrefix("GET /ranged/big.bin") }
    #expect(gets.count == 10, "nine parts and the lost one again: \(gets)")
  }

  @Test func aServerThatTakesNoRanges_isReadOverOneConnection() throws {
    let data = testBytes(count: 3 << 20, seed: 3)
    let server = try FaultServer { _, _ in .serve(body: data, ignoreRange: true) }
    defer { server.stop() }
    let path = try makeTemporaryDirectory("ferry-ranged") + "/down"
    let client = TransferClient(policy: try NetworkPolicy(allow: ["127.0.0.1/32"]), settings: Self.inParts)
    let result = try client.download(OutboundRequest(url: server.base + "/big"), to: path)
    #expect(result.bytes == Int64(data.count) && server.connectionCount == 1)
    #expect(try sha256Hex(file: path) == sha256Hex(data))
  }
}
