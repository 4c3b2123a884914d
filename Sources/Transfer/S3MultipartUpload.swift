import Crypto
import Foundation
import Log
import SigV4
import Synchronization

/// S3 multipart upload of a large file to `s3://bucket/key` with credentials: create, parts uploaded
/// `parallelParts` at a time (each signed with its own hash and retried on its own), complete. Any failure
/// aborts the upload, so no orphaned parts stay behind (and cost storage); when the abort fails too, the error
/// is `.abortFailed`, naming the upload left behind. A CompleteMultipartUpload whose answer was lost is sent
/// again; if S3 then answers NoSuchUpload, the upload counts as done only when the object's ETag is the one
/// S3 gives an object made of these parts.
public struct S3MultipartUpload: Sendable {
  public let client: TransferClient
  public let s3: S3Requests
  public let partSize: Int64
  /// Parts in flight at once.
  public let parallelParts: Int

  /// S3's limits: at most 10,000 parts; every part but the last at least 5 MiB.
  static let maxParts: Int64 = 10_000

  public init(client: TransferClient, s3: S3Requests, partSize: Int64, parallelParts: Int) {
    self.client = client
    self.s3 = s3
    self.partSize = partSize
    self.parallelParts = max(1, parallelParts)
  }

  /// Uploads the file at `path`; `progress` gets bytes sent so far and the file's size. `started` gets the
  /// upload's id before the first part is sent and may throw to abort it (the job engine stores the id there,
  /// so a run that dies mid-upload leaves it to be aborted). `beforeComplete` runs just before the upload is
  /// made final and may throw to abort it (the job engine re-checks its lease there, so two workers never both
  /// write a result).
  public func upload(
    file path: String, bucket: String, key: String, credentials: AWSCredentials, region: String?,
    contentType: String? = nil, progress: @escaping @Sendable (Int64, Int64?) -> Bool = { _, _ in true },
    started: (String) throws(TransferError) -> Void = { _ in },
    beforeComplete: () throws(TransferError) -> Void = {}
  ) throws(TransferError) -> TransferResult {
    var info = stat()
    guard stat(path, &info) == 0 else { throw .local("cannot read the file to upload") }
    let size = Int64(info.st_size)
    // Grow the parts when the file would need more than S3 allows.
    let mib: Int64 = 1 << 20
    let part = max(partSize, ((size + Self.maxParts - 1) / Self.maxParts + mib - 1) / mib * mib)
    let partCount = Int(max(1, (size + part - 1) / part))

    let opened = try create(
      bucket: bucket, key: key, credentials: credentials, region: region, contentType: contentType, started: started)
    let uploadID = opened.uploadID
    func abandon(after failure: TransferError) -> TransferError { opened.abandon(failure) }

    // Parts, `parallelParts` at a time; the first failure stops the others from starting new parts.
    let state = Mutex((next: 1, etags: [Int: String](), failure: TransferError?.none, sent: [Int: Int64]()))
    // Dedicated threads, not concurrentPerform (capped at the core count): parts wait on the network.
    let group = DispatchGroup()
    for _ in 0..<min(parallelParts, partCount) {
      group.enter()
      Thread {
        defer { group.leave() }
        while true {
          let number = state.withLock { s -> Int? in
            guard s.failure == nil, s.next <= partCount else { return nil }
            defer { s.next += 1 }
            return s.next
          }
          guard let number else { return }
          let offset = Int64(number - 1) * part
          let length = min(part, size - offset)
          do {
            let hash = try Self.sha256(of: path, offset: offset, length: length)
            let request = s3.request(
              "PUT", bucket: bucket, key: key,
              query: [.init("partNumber", String(number)), .init("uploadId", uploadID)],
              credentials: credentials, region: region, payload: .sha256(hash))
            let result = try client.upload(request, from: path, offset: offset, length: length) { done, _ in
              let total = state.withLock { s -> Int64 in
                s.sent[number] = done
                return s.sent.values.reduce(0, +)
              }
              return progress(total, size)
            }
            guard let etag = result.etag else {
              throw TransferError.status(200, detail: "part \(number) came back without an ETag")
            }
            state.withLock { $0.etags[number] = etag }
          } catch let error as TransferError {
            state.withLock { if $0.failure == nil { $0.failure = error } }
          } catch {
            state.withLock { if $0.failure == nil { $0.failure = .local("cannot read part \(number): \(error)") } }
          }
        }
      }.start()
    }
    group.wait()
    let (etags, failure) = state.withLock { ($0.etags, $0.failure) }
    if let failure { throw abandon(after: failure) }
    do throws(TransferError) {
      try beforeComplete()
      return try complete(
        uploadID: uploadID, partETags: (1...partCount).map { etags[$0]! }, size: size, bucket: bucket, key: key,
        credentials: credentials, region: region, contentType: contentType)
    } catch {
      throw abandon(after: error)
    }
  }

  /// Starts an upload (CreateMultipartUpload) and hands its id to `started`; returns the id and what aborts
  /// the upload after a failure: that failure, or `.abortFailed` naming the upload left behind when the abort
  /// fails too (the caller logs it, since Transfer has no logger: its parts cost storage until someone removes
  /// them).
  func create(
    bucket: String, key: String, credentials: AWSCredentials, region: String?, contentType: String?,
    started: (String) throws(TransferError) -> Void
  ) throws(TransferError) -> (uploadID: String, abandon: @Sendable (TransferError) -> TransferError) {
    let create = signed(
      "POST", [.init("uploads", "")], bucket: bucket, key: key, credentials: credentials, region: region,
      contentType: contentType)
    let created = try client.exchange(create, method: "POST", body: []).body
    guard let uploadID = Self.element("UploadId", in: created) else {
      throw .status(200, detail: "CreateMultipartUpload answered without an UploadId")
    }
    let abandon = { @Sendable [self] (failure: TransferError) -> TransferError in
      do throws(TransferError) {
        try abort(uploadID: uploadID, bucket: bucket, key: key, credentials: credentials, region: region)
        return failure
      } catch {
        return .abortFailed(failure, abort: error, uploadID: uploadID)
      }
    }
    do throws(TransferError) { try started(uploadID) } catch { throw abandon(error) }
    return (uploadID, abandon)
  }

  /// A request on the upload's object, signed with its payload's hash.
  func signed(
    _ method: String, _ query: [SignableRequest.QueryItem], body: [UInt8] = [], bucket: String, key: String,
    credentials: AWSCredentials, region: String?, contentType: String? = nil
  ) -> OutboundRequest {
    var request = s3.request(
      method, bucket: bucket, key: key, query: query, credentials: credentials, region: region,
      payload: .sha256(Hex.encode(SHA256.hash(body))))
    if let contentType { request.headers.append((name: "Content-Type", value: contentType)) }
    return request
  }

  /// Completes upload `uploadID` from parts with `partETags` (in order).
  func complete(
    uploadID: String, partETags: [String], size: Int64, bucket: String, key: String, credentials: AWSCredentials,
    region: String?, contentType: String?
  ) throws(TransferError) -> TransferResult {
    func request(
      _ method: String, _ query: [SignableRequest.QueryItem], body: [UInt8] = [], contentType: String? = nil
    ) -> OutboundRequest {
      signed(
        method, query, body: body, bucket: bucket, key: key, credentials: credentials, region: region,
        contentType: contentType)
    }
    let parts = partETags.enumerated()
      .map { "<Part><PartNumber>\($0.offset + 1)</PartNumber><ETag>\($0.element)</ETag></Part>" }.joined()
    let body = Array("<CompleteMultipartUpload>\(parts)</CompleteMultipartUpload>".utf8)
    let complete = request("POST", [.init("uploadId", uploadID)], body: body, contentType: "application/xml")
    var retried = false
    let answer: [UInt8]
    do throws(TransferError) {
      // Repeated after a lost answer (S3 asks for that): S3 completes an upload once, and answers a repeat
      // with the same result or with NoSuchUpload.
      answer = try client.exchange(
        complete, method: "POST", body: body, retryingConnectionFailures: true, retried: &retried
      ).body
    } catch .status(404, let detail) where retried && detail.hasPrefix("NoSuchUpload") {
      // An earlier attempt may have completed the upload before its answer was lost. The object says whether
      // it did: it is ours only if its ETag is the one S3 gives an object made of exactly these parts.
      guard let expected = Self.multipartETag(of: partETags),
        let stored = try? client.exchange(request("HEAD", []), method: "HEAD").result.etag,
        Self.unquoted(stored) == expected
      else { throw .status(404, detail: detail) }
      return TransferResult(bytes: size, attempts: 1, contentType: contentType, etag: stored)
    }
    // S3 can answer 200 and still report an error in the body.
    if let code = Self.element("Code", in: answer) {
      throw TransferError.status(
        200, detail: [code, Self.element("Message", in: answer)].compactMap { $0 }.joined(separator: ": "))
    }
    return TransferResult(bytes: size, attempts: 1, contentType: contentType, etag: Self.element("ETag", in: answer))
  }

  /// Aborts multipart upload `uploadID` of `bucket`/`key` (S3 then drops its parts). One already gone
  /// (aborted, or completed) counts as aborted: nothing of it stays behind.
  public func abort(
    uploadID: String, bucket: String, key: String, credentials: AWSCredentials, region: String?
  ) throws(TransferError) {
    let request = s3.request(
      "DELETE", bucket: bucket, key: key, query: [.init("uploadId", uploadID)], credentials: credentials,
      region: region, payload: .sha256(Hex.encode(SHA256.hash([]))))
    do throws(TransferError) {
      _ = try client.exchange(request, method: "DELETE", body: [])
    } catch .status(404, let detail) where detail.hasPrefix("NoSuchUpload") {
      return
    }
  }

  static func sha256(of path: String, offset: Int64, length: Int64) throws -> String {
    let handle = try FileHandle(forReadingFrom: URL(fileURLWithPath: path))
    defer { try? handle.close() }
    try handle.seek(toOffset: UInt64(offset))
    var hasher = SHA256()
    var remaining = length
    while remaining > 0, let chunk = try handle.read(upToCount: Int(min(remaining, 1 << 20))), !chunk.isEmpty {
      hasher.update(chunk)
      remaining -= Int64(chunk.count)
    }
    return Hex.encode(hasher.finalize())
  }

  /// The ETag S3 gives an object completed from parts with these ETags (each the hex MD5 of its part): the hex
  /// MD5 of the parts' binary MD5s, "-", the number of parts. Nil when an ETag is not a hex MD5 (those of
  /// objects encrypted with SSE-KMS or SSE-C are not), so such an object can never be taken for ours.
  static func multipartETag(of partETags: [String]) -> String? {
    var digests: [UInt8] = []
    for etag in partETags {
      let hex = Array(unquoted(etag).utf8)
      guard hex.count == 32 else { return nil }
      for i in stride(from: 0, to: 32, by: 2) {
        guard let high = hexValue(hex[i]), let low = hexValue(hex[i + 1]) else { return nil }
        digests.append(high << 4 | low)
      }
    }
    guard let md5 = md5Hex(digests) else { return nil }
    return "\(md5)-\(partETags.count)"
  }

  /// An ETag without its quotes, lowercased.
  static func unquoted(_ etag: String) -> String {
    etag.trimmingCharacters(in: CharacterSet(charactersIn: "\"").union(.whitespaces)).lowercased()
  }

  private static func hexValue(_ digit: UInt8) -> UInt8? {
    switch digit {
    case UInt8(ascii: "0")...UInt8(ascii: "9"): digit - UInt8(ascii: "0")
    case UInt8(ascii: "a")...UInt8(ascii: "f"): digit - UInt8(ascii: "a") + 10
    default: nil
    }
  }

  /// The hex MD5 of `bytes`. Crypto offers MD5 only over a file (for Content-MD5), so the bytes (16 per part,
  /// at most 160 KB) pass through a temporary file; this runs only after a lost CompleteMultipartUpload answer.
  private static func md5Hex(_ bytes: [UInt8]) -> String? {
    var template = Array((NSTemporaryDirectory() + "ferry-etag-XXXXXX").utf8CString)
    let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
    guard fd >= 0 else { return nil }
    let path = String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    defer { unlink(path) }
    let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
    close(fd)
    guard written == bytes.count, let base64 = try? MD5.base64OfFile(path), let digest = Data(base64Encoded: base64)
    else { return nil }
    return Hex.encode(digest)
  }

  /// The text of the first `<name>` element (S3's answers are small, flat XML).
  static func element(_ name: String, in xml: [UInt8]) -> String? {
    S3XML.element(name, in: String(decoding: xml, as: UTF8.self)[...])
  }
}

/// Reading S3's answers: small XML documents with flat elements.
public enum S3XML {
  /// The text of the first `<name>` element in `text`, its entities decoded, or nil.
  public static func element(_ name: String, in text: Substring) -> String? {
    guard let start = text.range(of: "<\(name)>"),
      let end = text.range(of: "</\(name)>", range: start.upperBound..<text.endIndex)
    else { return nil }
    return String(text[start.upperBound..<end.lowerBound])
      .replacingOccurrences(of: "&lt;", with: "<").replacingOccurrences(of: "&gt;", with: ">")
      .replacingOccurrences(of: "&quot;", with: "\"").replacingOccurrences(of: "&apos;", with: "'")
      .replacingOccurrences(of: "&amp;", with: "&")
  }

  /// The contents of every `<name>` element in `text`, in order (the entries of a listing).
  public static func elements(_ name: String, in text: String) -> [Substring] {
    var found: [Substring] = []
    var rest = text[...]
    while let start = rest.range(of: "<\(name)>"),
      let end = rest.range(of: "</\(name)>", range: start.upperBound..<rest.endIndex)
    {
      found.append(rest[start.upperBound..<end.lowerBound])
      rest = rest[end.upperBound...]
    }
    return found
  }
}
