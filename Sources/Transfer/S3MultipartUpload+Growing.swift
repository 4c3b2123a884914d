import Crypto
import Foundation
import SigV4
import Synchronization

extension S3MultipartUpload {
  /// Uploads a file while another process still writes it front to back, rewriting at most its first
  /// `partSize` bytes when it finishes (ffmpeg fixes an MP3's Xing frame, a WAV's or FLAC's header there):
  /// parts 2, 3, ... go up `parallelParts` at a time as soon as the file has grown past them, part 1 and the
  /// last once `available` says the file is final. `available` gives the file's size and whether the writer
  /// is done, and throws to abandon the upload (the writer failed). Otherwise as `upload(file:...)`: any
  /// failure aborts the upload; `started` and `beforeComplete` as there.
  public func upload(
    growing path: String, bucket: String, key: String, credentials: AWSCredentials, region: String?,
    contentType: String? = nil, available: @escaping @Sendable () throws(TransferError) -> (size: Int64, final: Bool),
    started: (String) throws(TransferError) -> Void = { _ in },
    beforeComplete: () throws(TransferError) -> Void = {}
  ) throws(TransferError) -> TransferResult {
    let part = partSize
    let opened = try create(
      bucket: bucket, key: key, credentials: credentials, region: region, contentType: contentType, started: started)
    let uploadID = opened.uploadID
    func abandon(after failure: TransferError) -> TransferError { opened.abandon(failure) }

    let state = Mutex((next: 2, etags: [Int: String](), failure: TransferError?.none))
    let client = self.client
    let s3 = self.s3
    @Sendable func send(_ number: Int, _ offset: Int64, _ length: Int64) throws(TransferError) {
      let hash: String
      do { hash = try Self.sha256(of: path, offset: offset, length: length) } catch {
        throw .local("cannot read part \(number): \(error)")
      }
      let request = s3.request(
        "PUT", bucket: bucket, key: key, query: [.init("partNumber", String(number)), .init("uploadId", uploadID)],
        credentials: credentials, region: region, payload: .sha256(hash))
      let result = try client.upload(request, from: path, offset: offset, length: length)
      guard let etag = result.etag else { throw .status(200, detail: "part \(number) came back without an ETag") }
      state.withLock { $0.etags[number] = etag }
    }
    let group = DispatchGroup()
    for _ in 0..<parallelParts {
      group.enter()
      Thread {
        defer { group.leave() }
        while let number = state.withLock({ s -> Int? in
          guard s.failure == nil, s.next <= Int(Self.maxParts) else { return nil }
          defer { s.next += 1 }
          return s.next
        }) {
          let offset = Int64(number - 1) * part
          do throws(TransferError) {
            // Waits for the writer to pass the part's end (bounded by the writer's end, or another part's
            // failure): polled, since the writer is another process.
            var length: Int64 = 0
            while true {
              if state.withLock({ $0.failure != nil }) { return }
              let (size, final) = try available()
              if final {
                guard offset < size else { return }
                length = min(part, size - offset)
                break
              }
              if size > offset + part {
                length = part
                break
              }
              Thread.sleep(forTimeInterval: 0.05)
            }
            try send(number, offset, length)
          } catch {
            state.withLock { if $0.failure == nil { $0.failure = error } }
            return
          }
        }
      }.start()
    }
    group.wait()
    if let failure = state.withLock({ $0.failure }) { throw abandon(after: failure) }
    do throws(TransferError) {
      let (size, final) = try available()
      guard final else { throw .local("the file was not final after its parts") }
      // The first part last: the writer may have rewritten it as it finished.
      try send(1, 0, min(part, size))
      let count = Int(max(1, (size + part - 1) / part))
      let etags = state.withLock { $0.etags }
      guard let partETags = Optional((1...count).compactMap { etags[$0] }), partETags.count == count else {
        throw .local("a part of the upload is missing")
      }
      try beforeComplete()
      return try complete(
        uploadID: uploadID, partETags: partETags, size: size, bucket: bucket, key: key, credentials: credentials,
        region: region, contentType: contentType)
    } catch {
      throw abandon(after: error)
    }
  }
}
