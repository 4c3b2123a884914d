import Foundation
import Locations
import SigV4
import TestSupport
import Testing

@testable import Transfer

/// Multipart failures whose abort fails too, against the fault server playing S3 (it checks no signature).
@Suite(.serialized) struct S3MultipartAbortTests {
  let credentials = AWSCredentials(
    accessKeyID: "AKIDABORT", secretAccessKey: "abort/secret+key", sessionToken: "session-token-abort")
  let expired = "<Error><Code>ExpiredToken</Code><Message>The provided token has expired.</Message></Error>"

  /// A fault server answering CreateMultipartUpload with upload `upload-7f3a`, and the rest as `others` says.
  private func store(_ others: @escaping @Sendable (FaultServer.Received) -> FaultServer.Behavior) throws
    -> FaultServer
  {
    try FaultServer { request, _ in
      if request.method == "POST", request.target.hasSuffix("?uploads=") || request.target.hasSuffix("?uploads") {
        return .status(
          200,
          body: "<InitiateMultipartUploadResult><Bucket>media</Bucket><Key>k.wav</Key>"
            + "<UploadId>upload-7f3a</UploadId></InitiateMultipartUploadResult>")
      }
      return others(request)
    }
  }

  private func upload(to server: FaultServer) -> S3MultipartUpload {
    let client = TransferClient(
      policy: NetworkPolicy(), settings: TransferSettings(maxAttempts: 2, initialBackoff: .milliseconds(1)),
      sleep: { _ in })
    let s3 = S3Requests(addressing: S3Addressing(endpoint: server.base))
    return S3MultipartUpload(client: client, s3: s3, partSize: 5 << 20, parallelParts: 2)
  }

  private func file(mebibytes: Int) throws -> String {
    let path = try makeTemporaryDirectory("ferry-abort") + "/big"
    _ = FileManager.default.createFile(atPath: path, contents: Data(testBytes(count: mebibytes << 20, seed: 7)))
    return path
  }

  @Test func aFailedAbortIsReportedWithTheFailureAndTheUploadLeftBehind() throws {
    let expired = self.expired
    // The session token expired mid-upload: the parts fail, and so does the abort.
    let server = try store { _ in .status(400, body: expired) }
    defer { server.stop() }
    let path = try file(mebibytes: 6)
    let tokenExpired = TransferError.status(400, detail: "ExpiredToken: The provided token has expired.")
    var thrown: TransferError?
    do throws(TransferError) {
      _ = try upload(to: server).upload(
        file: path, bucket: "media", key: "k.wav", credentials: credentials, region: nil)
    } catch {
      thrown = error
    }
    #expect(thrown == .abortFailed(tokenExpired, abort: tokenExpired, uploadID: "upload-7f3a"))
    #expect(thrown?.primary == tokenExpired)
    let text = thrown.map(String.init(describing:)) ?? ""
    #expect(text.contains("upload-7f3a") && text.contains("aborting the multipart upload failed"), "\(text)")
    for secret in [credentials.secretAccessKey, credentials.sessionToken!, "Signature=", "Credential="] {
      #expect(!text.contains(secret), "\(text)")
    }
    let aborts = server.requests.filter { $0.method == "DELETE" }
    #expect(aborts.map(\.target) == ["/media/k.wav?uploadId=upload-7f3a"])
  }

  @Test func anAbortThatKeepsFailingIsRetriedThenReported() throws {
    let expired = self.expired
    let server = try store { request in
      request.method == "DELETE"
        ? .status(503, body: "<Error><Code>SlowDown</Code></Error>") : .status(400, body: expired)
    }
    defer { server.stop() }
    let path = try file(mebibytes: 1)
    #expect(
      throws: TransferError.abortFailed(
        .status(400, detail: "ExpiredToken: The provided token has expired."),
        abort: .status(503, detail: "SlowDown"), uploadID: "upload-7f3a")
    ) {
      try upload(to: server).upload(file: path, bucket: "media", key: "k.wav", credentials: credentials, region: nil)
    }
    #expect(server.requests.filter { $0.method == "DELETE" }.count == 2, "the abort had the client's two attempts")
  }

  @Test func anAbortAnsweredNoSuchUploadLeavesNothingBehindAndThrowsTheFailureAlone() throws {
    let expired = self.expired
    let server = try store { request in
      request.method == "DELETE"
        ? .status(
          404, body: "<Error><Code>NoSuchUpload</Code><Message>The specified upload does not exist.</Message></Error>")
        : .status(400, body: expired)
    }
    defer { server.stop() }
    let path = try file(mebibytes: 1)
    #expect(throws: TransferError.status(400, detail: "ExpiredToken: The provided token has expired.")) {
      try upload(to: server).upload(file: path, bucket: "media", key: "k.wav", credentials: credentials, region: nil)
    }
  }

  @Test func aLeaseLostBeforeCompletionWithAFailedAbortKeepsTheLeaseError() throws {
    let server = try store { request in
      switch request.method {
      case "PUT": .status(200, headers: [("ETag", "\"0123456789abcdef0123456789abcdef\"")])
      default: .status(500, body: "<Error><Code>InternalError</Code></Error>")
      }
    }
    defer { server.stop() }
    let path = try file(mebibytes: 1)
    var thrown: TransferError?
    do throws(TransferError) {
      _ = try upload(to: server).upload(
        file: path, bucket: "media", key: "k.wav", credentials: credentials, region: nil,
        beforeComplete: { () throws(TransferError) in throw TransferError.local("lease lost") })
    } catch {
      thrown = error
    }
    #expect(
      thrown
        == .abortFailed(.local("lease lost"), abort: .status(500, detail: "InternalError"), uploadID: "upload-7f3a"))
    #expect(thrown?.primary == .local("lease lost"))
    #expect(!server.requests.contains { $0.method == "POST" && $0.target.contains("uploadId=") }, "never completed")
  }
}
