import Foundation
import Locations
import SigV4
import Synchronization
import TestSupport
import Testing

@testable import Transfer

/// Sleeps that are recorded instead of slept, so retry tests take no time.
private final class RecordedSleeps: Sendable {
  let values = Mutex<[Duration]>([])
  var all: [Duration] { values.withLock { $0 } }
  var sleep: @Sendable (Duration) -> Void { { duration in self.values.withLock { $0.append(duration) } } }
}

/// A downloader whose policy opens exactly the given test servers.
private func downloader(
  opening servers: [FaultServer], resolver: any HostResolver = SystemResolver(),
  sleeps: RecordedSleeps = RecordedSleeps(),
  settings: TransferSettings = TransferSettings(maxAttempts: 3, initialBackoff: .milliseconds(10))
) throws -> TransferClient {
  let policy = try NetworkPolicy(allow: servers.map { "\($0.host):\($0.port)" })
  return TransferClient(policy: policy, resolver: resolver, settings: settings, sleep: sleeps.sleep)
}

private func workFile() throws -> String {
  try makeTemporaryDirectory("ferry-download") + "/input"
}

@Suite(.serialized) struct TransferClientTests {
  let body = testBytes(count: 3_000_000, seed: 11)

  @Test func streamsTheBodyToAPrivateFileWithProgress() throws {
    let body = self.body
    let server = try FaultServer { _, _ in .serve(body: body) }
    defer { server.stop() }
    let path = try workFile()
    let seen = Mutex<(Int64, Int64?)>((0, nil))
    let result = try downloader(opening: [server]).download(
      OutboundRequest(url: server.base + "/media/in.wav"), to: path
    ) {
      done, total in
      seen.withLock { $0 = (done, total) }
      return true
    }
    #expect(result.bytes == 3_000_000)
    #expect(result.attempts == 1)
    #expect(result.contentType == "application/octet-stream")
    #expect(try sha256Hex(file: path) == sha256Hex(body))
    let mode = try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int
    #expect(mode == 0o600)
    #expect(seen.withLock { $0 } == (3_000_000, 3_000_000))
  }

  @Test func resumesWithRangeAfterAResetMidBody() throws {
    let body = self.body
    let server = try FaultServer { _, connection in
      connection == 1 ? .serve(body: body, resetAfter: 1_000_000) : .serve(body: body)
    }
    defer { server.stop() }
    let path = try workFile()
    let result = try downloader(opening: [server]).download(OutboundRequest(url: server.base + "/in"), to: path)
    #expect(result.attempts == 2)
    #expect(try sha256Hex(file: path) == sha256Hex(body))
    let resumedFrom = server.requests.last?.header("Range")
    #expect(
      resumedFrom?.hasPrefix("bytes=") == true && resumedFrom != "bytes=0-",
      "resumed, not restarted: \(resumedFrom ?? "-")")
  }

  @Test func startsOverWhenTheServerIgnoresRange() throws {
    let body = self.body
    let server = try FaultServer { _, connection in
      .serve(body: body, resetAfter: connection == 1 ? 500_000 : nil, ignoreRange: true)
    }
    defer { server.stop() }
    let path = try workFile()
    let result = try downloader(opening: [server]).download(OutboundRequest(url: server.base + "/in"), to: path)
    #expect(result.bytes == Int64(body.count))
    #expect(try sha256Hex(file: path) == sha256Hex(body))
  }

  @Test func retries503HonouringRetryAfter() throws {
    let body = self.body
    let server = try FaultServer { _, connection in
      connection < 3 ? .status(503, headers: [("Retry-After", "2")]) : .serve(body: body)
    }
    defer { server.stop() }
    let sleeps = RecordedSleeps()
    let result = try downloader(opening: [server], sleeps: sleeps).download(
      OutboundRequest(url: server.base + "/in"), to: try workFile())
    #expect(result.attempts == 3)
    #expect(sleeps.all.count == 2)
    #expect(sleeps.all.allSatisfy { $0 >= .seconds(2) }, "Retry-After is honoured: \(sleeps.all)")
  }

  @Test func givesUpOnPersistent5xxAndNeverRetries4xx() throws {
    let failing = try FaultServer { _, _ in
      .status(500, body: "<Error><Code>InternalError</Code><Message>try later</Message></Error>")
    }
    let missing = try FaultServer { _, _ in
      .status(
        404,
        body: "<Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message><Key>in</Key></Error>")
    }
    defer {
      failing.stop()
      missing.stop()
    }
    let client = try downloader(opening: [failing, missing])
    #expect(throws: TransferError.status(500, detail: "InternalError: try later")) {
      try client.download(OutboundRequest(url: failing.base + "/in"), to: try workFile())
    }
    #expect(failing.connectionCount == 3)
    let path = try workFile()
    #expect(throws: TransferError.status(404, detail: "NoSuchKey: The specified key does not exist.")) {
      try client.download(OutboundRequest(url: missing.base + "/in"), to: path)
    }
    #expect(missing.connectionCount == 1)
    #expect(!FileManager.default.fileExists(atPath: path), "a failed download leaves no work file")
  }

  @Test func enforcesTheSizeLimitFromTheHeaderAndWhileStreaming() throws {
    let body = self.body
    let declared = try FaultServer { _, _ in .serve(body: body) }
    let undeclared = try FaultServer { _, _ in .serve(body: body, contentLength: false) }
    defer {
      declared.stop()
      undeclared.stop()
    }
    let client = try downloader(
      opening: [declared, undeclared], settings: TransferSettings(maxBytes: 1_000_000, maxAttempts: 2))
    #expect(throws: TransferError.tooLarge(limit: 1_000_000)) {
      try client.download(OutboundRequest(url: declared.base + "/in"), to: try workFile())
    }
    #expect(throws: TransferError.tooLarge(limit: 1_000_000)) {
      try client.download(OutboundRequest(url: undeclared.base + "/in"), to: try workFile())
    }
    #expect(declared.connectionCount == 1, "too large is final: no retry")
  }

  @Test func refusedAddressesAreNeverConnectedTo() throws {
    let canary = try FaultServer { _, _ in .status(200, body: "leaked") }
    defer { canary.stop() }
    let names = StaticResolver([
      "media.example.test": [IPAddress("127.0.0.1")!], "meta.example.test": [IPAddress("169.254.169.254")!],
    ])
    let strict = TransferClient(policy: NetworkPolicy(), resolver: names)
    for url in [
      canary.base + "/in", "http://localhost:\(canary.port)/in", "http://2130706433:\(canary.port)/in",
      "http://0x7f.1:\(canary.port)/in", "http://[::ffff:127.0.0.1]:\(canary.port)/in",
      "http://media.example.test:\(canary.port)/in",
    ] {
      #expect(throws: TransferError.self, "\(url)") {
        try strict.download(OutboundRequest(url: url), to: try workFile())
      }
    }
    #expect(canary.connectionCount == 0)
  }

  @Test func redirectsAreFollowedAndEachHopIsChecked() throws {
    let body = self.body
    let canary = try FaultServer(host: "127.0.0.2") { _, _ in .status(200, body: "leaked") }
    let target = try FaultServer { _, _ in .serve(body: body) }
    let hopper = try FaultServer { request, _ in
      request.target == "/inside"
        ? .status(302, headers: [("Location", canary.base + "/x")])
        : .status(301, headers: [("Location", target.base + "/final")])
    }
    defer {
      canary.stop()
      target.stop()
      hopper.stop()
    }
    let client = try downloader(opening: [hopper, target])
    let result = try client.download(OutboundRequest(url: hopper.base + "/outside"), to: try workFile())
    #expect(result.bytes == Int64(body.count))
    #expect(target.requests.map(\.target) == ["/final"])
    #expect(throws: TransferError.self) {
      try client.download(OutboundRequest(url: hopper.base + "/inside"), to: try workFile())
    }
    #expect(canary.connectionCount == 0)
  }

  @Test func aRedirectLoop_endsAfterTheRedirectLimit_asTooManyRedirects() throws {
    let server = try FaultServer { request, _ in .status(302, headers: [("Location", request.target + "x")]) }
    defer { server.stop() }
    let client = try downloader(
      opening: [server], settings: TransferSettings(maxAttempts: 3, maxRedirects: 4, initialBackoff: .milliseconds(10)))
    #expect(throws: TransferError.tooManyRedirects(limit: 4)) {
      try client.download(OutboundRequest(url: server.base + "/in"), to: try workFile())
    }
    // The first request and four redirects followed; the fifth redirect is not.
    #expect(server.requests.map(\.target) == ["/in", "/inx", "/inxx", "/inxxx", "/inxxxx"])
    #expect(
      TransferError.tooManyRedirects(limit: 4).description
        == "more than 4 redirects: the server keeps redirecting (a loop, or a chain longer than Ferry follows)")
  }

  @Test func allowedNamesArePinnedToTheCheckedAddress() throws {
    let server = try FaultServer { _, _ in .status(200, body: "ok") }
    defer { server.stop() }
    let names = StaticResolver(["media.example.test": [IPAddress("127.0.0.1")!]])
    let client = TransferClient(
      policy: try NetworkPolicy(allow: ["media.example.test:\(server.port)"]), resolver: names)
    let path = try workFile()
    _ = try client.download(OutboundRequest(url: "http://media.example.test:\(server.port)/in"), to: path)
    #expect(try String(contentsOfFile: path, encoding: .utf8) == "ok")
    #expect(server.requests.first?.header("Host") == "media.example.test:\(server.port)")
  }

  @Test func expiredURLsAreNeverRequested() throws {
    let server = try FaultServer { _, _ in .status(200, body: "ok") }
    defer { server.stop() }
    let client = try downloader(opening: [server])
    #expect(throws: TransferError.expired) {
      try client.download(
        OutboundRequest(url: server.base + "/in", expiry: Date().addingTimeInterval(-1)), to: try workFile())
    }
    #expect(server.connectionCount == 0)
  }

  @Test func urlsAreSentByteForByteWithBasicAuth() throws {
    let server = try FaultServer { _, _ in .status(200, body: "ok") }
    defer { server.stop() }
    let target = "/a%2Fb%20c+d/../x?X-Amz-Signature=abc%2B%3D&empty=&X-Amz-Expires=60"
    _ = try downloader(opening: [server]).download(
      OutboundRequest(url: server.base + target, basicAuth: ("user", "p@ss:word")), to: try workFile())
    #expect(server.requests.first?.target == target)
    #expect(
      server.requests.first?.header("Authorization") == "Basic " + Data("user:p@ss:word".utf8).base64EncodedString())
  }

  @Test func aStalledBodyIsAbandonedAfterTheLowSpeedTimeout() throws {
    let server = try FaultServer { _, _ in .stall(body: Array("late".utf8), seconds: 4) }
    defer { server.stop() }
    let client = try downloader(
      opening: [server], settings: TransferSettings(lowSpeedTimeout: .seconds(1), maxAttempts: 1))
    let started = Date()
    #expect(throws: TransferError.self) {
      try client.download(OutboundRequest(url: server.base + "/in"), to: try workFile())
    }
    #expect(Date().timeIntervalSince(started) < 3.5)
  }

  @Test func aSourceTricklingBelowTheMinimumRate_isCutAtTheWindow_sayingSo() throws {
    // 1 KB/s against a minimum of 8 KB/s over 2 s: cut after about 2 s, not when the 100 KB have trickled in.
    let server = try FaultServer { _, _ in .trickle(body: [UInt8](repeating: 7, count: 100_000), bytesPerSecond: 1000) }
    defer { server.stop() }
    let client = try downloader(
      opening: [server], settings: TransferSettings(lowSpeedTimeout: .seconds(2), minRate: 8192, maxAttempts: 1))
    let started = Date()
    #expect(throws: TransferError.tooSlow(minRate: 8192, window: .seconds(2))) {
      try client.download(OutboundRequest(url: server.base + "/in"), to: try workFile())
    }
    #expect(Date().timeIntervalSince(started) < 5)
    #expect(
      TransferError.tooSlow(minRate: 8192, window: .seconds(2)).description
        == "slower than 8192 bytes a second over 2 s (the minimum a transfer must keep)")
  }

  @Test func anAttemptPastTheLongestATransferMayTake_isCut_andNotRetried() throws {
    // Fast enough for the minimum rate, but longer than the 2 s an attempt may take.
    let server = try FaultServer { _, _ in .trickle(body: [UInt8](repeating: 7, count: 200_000), bytesPerSecond: 40_000)
    }
    defer { server.stop() }
    let client = try downloader(
      opening: [server],
      settings: TransferSettings(
        lowSpeedTimeout: .seconds(2), minRate: 1000, maxDuration: .seconds(2), maxAttempts: 3,
        initialBackoff: .milliseconds(10)))
    #expect(throws: TransferError.tooLong(limit: .seconds(2))) {
      try client.download(OutboundRequest(url: server.base + "/in"), to: try workFile())
    }
    #expect(server.requests.count == 1, "the next attempt would take as long")
  }

  @Test func cancellingFromProgressStopsTheTransfer() throws {
    let body = self.body
    let server = try FaultServer { _, _ in .serve(body: body) }
    defer { server.stop() }
    #expect(throws: TransferError.cancelled) {
      try downloader(opening: [server]).download(OutboundRequest(url: server.base + "/in"), to: try workFile()) {
        done, _ in done < 100_000
      }
    }
  }

  @Test func aPOSTWhoseAnswerWasLostIsNotRepeated() throws {
    // The answer's head arrives, then the connection resets: the POST may have taken effect.
    let server = try FaultServer { _, _ in .serve(body: Array("<Result/>".utf8), resetAfter: 0) }
    defer { server.stop() }
    let sleeps = RecordedSleeps()
    #expect(throws: TransferError.self) {
      try downloader(opening: [server], sleeps: sleeps).exchange(
        OutboundRequest(url: server.base + "/media/k?uploads"), method: "POST")
    }
    #expect(server.requests.map(\.method) == ["POST"])
    #expect(sleeps.all.isEmpty)
  }

  @Test func otherExchangesWhoseAnswerWasLostAreRepeated() throws {
    let server = try FaultServer { _, connection in
      connection == 1 ? .serve(body: Array("<Result/>".utf8), resetAfter: 0) : .status(204)
    }
    defer { server.stop() }
    let (result, _) = try downloader(opening: [server]).exchange(
      OutboundRequest(url: server.base + "/media/k?uploadId=u"), method: "DELETE")
    #expect(result.attempts == 2)
    #expect(server.requests.map(\.method) == ["DELETE", "DELETE"])
  }

  @Test func callReturnsClientErrorAnswersWithTheirBodyAndStillRetries5xx() throws {
    let server = try FaultServer { _, _ in
      .status(400, headers: [("Content-Type", "application/problem+json")], body: #"{"detail":"input: is required"}"#)
    }
    defer { server.stop() }
    let flakyServer = try FaultServer { _, connection in
      connection == 1 ? .status(503) : .status(200, body: #"{"ok":true}"#)
    }
    defer { flakyServer.stop() }
    let client = try downloader(opening: [server, flakyServer])
    let refused = try client.call(
      OutboundRequest(url: server.base + "/media/enhance"), method: "POST", body: [0x7B, 0x7D])
    #expect(refused.status == 400)
    #expect(String(decoding: refused.body, as: UTF8.self) == #"{"detail":"input: is required"}"#)
    #expect(server.requests.count == 1, "a 4xx answer is final")
    let flaky = try client.call(OutboundRequest(url: flakyServer.base + "/status"), method: "GET")
    #expect(flaky.status == 200)
    #expect(String(decoding: flaky.body, as: UTF8.self) == #"{"ok":true}"#)
    #expect(flakyServer.requests.count == 2, "a 5xx is retried")
  }
}

@Suite(.serialized) struct RedirectSafetyTests {
  @Test func credentialsAndSigningStayOnTheirOrigin() throws {
    let other = try FaultServer { _, _ in .status(200, body: "moved") }
    let origin = try FaultServer { request, _ in
      request.target == "/same"
        ? .status(200, body: "here")
        : request.target == "/hop"
          ? .status(302, headers: [("Location", "/same")]) : .status(302, headers: [("Location", other.base + "/x")])
    }
    defer {
      other.stop()
      origin.stop()
    }
    let client = TransferClient(
      policy: try NetworkPolicy(allow: ["127.0.0.1:\(origin.port)", "127.0.0.1:\(other.port)"]))
    let signed = OutboundRequest(url: origin.base + "/away", basicAuth: ("user", "pw")) { _ in [("X-Signed", "yes")] }
    _ = try client.download(signed, to: try workFile())
    let moved = try #require(other.requests.first)
    #expect(moved.header("Authorization") == nil, "the password does not follow a redirect to another origin")
    #expect(moved.header("X-Signed") == nil)
    var sameOrigin = signed
    sameOrigin.url = origin.base + "/hop"
    _ = try client.download(sameOrigin, to: try workFile())
    let kept = try #require(origin.requests.last)
    #expect(kept.target == "/same")
    #expect(kept.header("Authorization") != nil && kept.header("X-Signed") == "yes", "same origin keeps them")
  }

  @Test func trustIsNotCarriedByARedirect() throws {
    let canary = try FaultServer(host: "127.0.0.2") { _, _ in .status(200, body: "leaked") }
    let endpoint = try FaultServer { _, _ in .status(302, headers: [("Location", canary.base + "/x")]) }
    defer {
      canary.stop()
      endpoint.stop()
    }
    // Trusted as s3.endpoint would be: reachable without an allow entry, but its redirect is judged afresh.
    let request = OutboundRequest(url: endpoint.base + "/k", trusted: true)
    #expect(throws: TransferError.self) {
      try TransferClient(policy: NetworkPolicy()).download(request, to: try workFile())
    }
    #expect(endpoint.connectionCount == 1)
    #expect(canary.connectionCount == 0)
  }

  @Test func proxiesFromTheEnvironmentAreIgnored() throws {
    let server = try FaultServer { _, _ in .status(200, body: "direct") }
    defer { server.stop() }
    setenv("http_proxy", "http://user:proxy-secret@127.0.0.9:9", 1)
    setenv("ALL_PROXY", "http://user:proxy-secret@127.0.0.9:9", 1)
    defer {
      unsetenv("http_proxy")
      unsetenv("ALL_PROXY")
    }
    let path = try workFile()
    _ = try downloader(opening: [server]).download(OutboundRequest(url: server.base + "/in"), to: path)
    #expect(try String(contentsOfFile: path, encoding: .utf8) == "direct")
  }

  @Test func anExistingWorkFileIsNeverOverwrittenOrRemoved() throws {
    let server = try FaultServer { _, _ in .status(200, body: "new") }
    defer { server.stop() }
    let path = try workFile()
    _ = FileManager.default.createFile(atPath: path, contents: Data("precious".utf8))
    #expect(throws: TransferError.self) {
      try downloader(opening: [server]).download(OutboundRequest(url: server.base + "/in"), to: path)
    }
    #expect(try String(contentsOfFile: path, encoding: .utf8) == "precious")
  }
}

@Suite(.serialized) struct UploadTests {
  let body = testBytes(count: 2_500_000, seed: 5)

  private func file(_ bytes: [UInt8]) throws -> String {
    let path = try makeTemporaryDirectory("ferry-upload") + "/output"
    FileManager.default.createFile(atPath: path, contents: Data(bytes))
    return path
  }

  @Test func putsTheFileWithContentLengthNeverChunked() throws {
    let server = try FaultServer { _, _ in .status(200, headers: [("ETag", "\"abc\"")]) }
    defer { server.stop() }
    let progress = Mutex<Int64>(0)
    let result = try downloader(opening: [server]).upload(
      OutboundRequest(url: server.base + "/out.mp3?X-Amz-Signature=s%2B", headers: [("Content-Type", "audio/mpeg")]),
      from: try file(body)
    ) { sent, _ in
      progress.withLock { $0 = sent }
      return true
    }
    let request = try #require(server.requests.first)
    #expect(request.method == "PUT")
    #expect(request.target == "/out.mp3?X-Amz-Signature=s%2B")
    #expect(request.header("Content-Length") == "2500000")
    #expect(request.header("Transfer-Encoding") == nil)
    #expect(request.header("Expect") == nil)
    #expect(request.header("Content-Type") == "audio/mpeg")
    #expect(sha256Hex(request.body) == sha256Hex(body))
    #expect(result.etag == "\"abc\"")
    #expect(result.bytes == 2_500_000)
    #expect(progress.withLock { $0 } == 2_500_000)
  }

  @Test func retriesResendTheWholeFileAndSignEachAttemptAfresh() throws {
    let server = try FaultServer { _, connection in connection == 1 ? .status(503) : .status(200) }
    defer { server.stop() }
    let clock = Mutex<Double>(1_700_000_000)
    let client = TransferClient(
      policy: try NetworkPolicy(allow: ["127.0.0.1:\(server.port)"]),
      settings: TransferSettings(maxAttempts: 3, initialBackoff: .milliseconds(10)),
      now: {
        Date(
          timeIntervalSince1970: clock.withLock {
            $0 += 60; return $0
          })
      }, sleep: { _ in })
    let request = OutboundRequest(url: server.base + "/k") { date in
      [("X-Signed-At", String(Int(date.timeIntervalSince1970)))]
    }
    let result = try client.upload(request, from: try file(body))
    #expect(result.attempts == 2)
    #expect(server.requests.count == 2)
    #expect(server.requests.allSatisfy { sha256Hex($0.body) == sha256Hex(body) })
    let stamps = server.requests.compactMap { $0.header("X-Signed-At") }
    #expect(stamps.count == 2 && stamps[0] != stamps[1], "each attempt is signed at its own time: \(stamps)")
  }

  @Test func aClientErrorIsFinalAndExplained() throws {
    let server = try FaultServer { _, _ in
      .status(
        403,
        body:
          "<Error><Code>SignatureDoesNotMatch</Code><Message>The request signature we calculated does not match the signature you provided.</Message><SignatureProvided>deadbeef</SignatureProvided></Error>"
      )
    }
    defer { server.stop() }
    do {
      _ = try downloader(opening: [server]).upload(OutboundRequest(url: server.base + "/k"), from: try file(body))
      Issue.record("expected a failure")
    } catch let error as TransferError {
      #expect(
        error
          == .status(
            403,
            detail:
              "SignatureDoesNotMatch: The request signature we calculated does not match the signature you provided."))
      #expect(!error.description.contains("deadbeef"), "the signature the store echoes is not repeated")
    } catch {
      Issue.record("unexpected \(error)")
    }
    #expect(server.connectionCount == 1)
  }

  @Test func refusedOrExpiredTargetsGetNothing() throws {
    let server = try FaultServer { _, _ in .status(200) }
    defer { server.stop() }
    #expect(throws: TransferError.self) {
      try TransferClient(policy: NetworkPolicy()).upload(OutboundRequest(url: server.base + "/k"), from: try file(body))
    }
    #expect(throws: TransferError.expired) {
      try downloader(opening: [server]).upload(
        OutboundRequest(url: server.base + "/k", expiry: Date().addingTimeInterval(-5)), from: try file(body))
    }
    #expect(server.connectionCount == 0)
  }
}

@Suite(.serialized) struct RegionTests {
  @Test func s3RequestsMoveOnceToTheRegionS3Names() throws {
    let server = try FaultServer { request, _ in
      let scope = request.header("Authorization") ?? ""
      return scope.contains("/eu-west-1/s3/")
        ? .status(200, body: "found")
        : .status(
          301, headers: [("x-amz-bucket-region", "eu-west-1")],
          body: "<Error><Code>PermanentRedirect</Code><Message>Use the bucket's region.</Message></Error>")
    }
    defer { server.stop() }
    let s3 = S3Requests(addressing: S3Addressing(endpoint: server.base))
    let credentials = AWSCredentials(accessKeyID: "AK", secretAccessKey: "SK")
    let path = try workFile()
    let result: TransferResult
    do {
      result = try TransferClient(policy: NetworkPolicy()).download(
        s3.get(bucket: "media", key: "k.wav", credentials: credentials, region: nil), to: path)
    } catch {
      Issue.record("\(error); requests: \(server.requests.map { $0.header("Authorization") ?? "-" })")
      return
    }
    #expect(result.attempts == 1, "a region move is not a retry")
    #expect(try String(contentsOfFile: path, encoding: .utf8) == "found")
    #expect(server.requests.map { $0.header("Authorization")?.contains("/us-east-1/s3/") == true } == [true, false])
  }

  @Test func aRegionAnswerForAPresignedURLIsFinal() throws {
    let server = try FaultServer { _, _ in
      .status(
        301, headers: [("x-amz-bucket-region", "eu-west-1")], body: "<Error><Code>PermanentRedirect</Code></Error>")
    }
    defer { server.stop() }
    #expect(throws: TransferError.status(301, detail: "PermanentRedirect")) {
      try downloader(opening: [server]).download(
        OutboundRequest(url: server.base + "/k?X-Amz-Signature=s"), to: try workFile())
    }
    #expect(server.connectionCount == 1)
  }
}
