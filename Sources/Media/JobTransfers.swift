import Foundation
import Jobs
import Locations
import Problems
import Storage
import Transfer

/// Moves a job's bytes: fetches inputs into its work directory and delivers results to outputs, whatever
/// the location (http(s), pre-signed, `s3://` with or without keys, `dlb://`), reporting progress, honouring
/// cancellation, confirming the lease before the final write, and keeping a result whose output URL expired.
/// Transfer failures become job failures with the problem type the user can act on.
public struct JobTransfers: Sendable {
  public let client: TransferClient
  public let requests: LocationRequests
  /// Where `dlb://` keys live.
  public let storage: TemporaryStorage
  /// `s3://` outputs with keys at or above this size go up in parts.
  public let multipartThreshold: Int64
  public let partSize: Int64
  public let parallelParts: Int

  public init(
    client: TransferClient, requests: LocationRequests, storage: TemporaryStorage, multipartThreshold: Int64,
    partSize: Int64, parallelParts: Int
  ) {
    self.client = client
    self.requests = requests
    self.storage = storage
    self.multipartThreshold = multipartThreshold
    self.partSize = partSize
    self.parallelParts = parallelParts
  }

  /// Fetches `location` (the request's `field`) into a new file at `path`, reporting progress in `share`.
  /// `prefix` gets the length of the file's leading bytes that are whole so far, as they arrive (see
  /// `TransferClient.download`; a `dlb://` file on this node's disk is whole at once); `stop` returning true
  /// ends the download as cancelled.
  public func fetch(
    _ location: Location, field: String, to path: String, context: JobContext, share: ClosedRange<Int>,
    prefix: ((Int64) -> Void)? = nil, stop: (() -> Bool)? = nil
  ) throws(JobFailure) {
    try context.checkCancelled()
    context.report(phase: .downloading, progress: share.lowerBound)
    if case .dlb(let key) = location.target {
      switch storage {
      case .local(let local):
        try copy(key, from: local, field: field, to: path, context: context)
        prefix?(Int64(FileManager.default.fileSize(path)))
      case .s3(let s3):
        try download(
          s3.location(owner: context.storageOwner, key: key), shown: location, field: field, requests: s3.requests,
          to: path, context: context, share: share, prefix: prefix, stop: stop,
          notFound: JobFailure(
            .inputFileAccess, "\(field): dlb://\(key) does not exist (upload it first, or check the key)"))
      }
      return
    }
    try download(
      location, shown: location, field: field, requests: requests, to: path, context: context, share: share,
      prefix: prefix, stop: stop)
  }

  /// Links (or copies) a `dlb://` file on this node's disk into the work directory.
  private func copy(_ key: String, from local: LocalStorage, field: String, to path: String, context: JobContext)
    throws(JobFailure)
  {
    do {
      let source = try local.existingFile(owner: context.storageOwner, key: key)
      // A hard link costs nothing and the work never writes to its input; copy across file systems.
      if link(source, path) != 0 { try FileManager.default.copyItem(atPath: source, toPath: path) }
    } catch let error as LocalStorage.StorageError {
      throw JobFailure(.inputFileAccess, "\(field): \(error)")
    } catch {
      throw JobFailure(.internalError, "\(field): cannot copy dlb://\(key)", retry: true)
    }
  }

  /// Downloads `location` with `requests`; errors name `shown` (what the client wrote), and a 404 becomes
  /// `notFound` when given.
  private func download(
    _ location: Location, shown: Location, field: String, requests: LocationRequests, to path: String,
    context: JobContext, share: ClosedRange<Int>, prefix: ((Int64) -> Void)? = nil, stop: (() -> Bool)? = nil,
    notFound: JobFailure? = nil
  ) throws(JobFailure) {
    do {
      let request = try requests.read(location, field: field)
      _ = try client.download(
        request, to: path,
        progress: { done, total in
          context.report(
            phase: .downloading, progress: Self.scale(done, total, share), bytesDone: done, bytesTotal: total)
            && !(stop?() ?? false)
        }, prefix: prefix)
    } catch let error as LocationError {
      throw JobFailure(.inputFileAccess, error.description)
    } catch let error as TransferError {
      if let notFound, case .status(404, _) = error.primary { throw notFound }
      throw Self.failure(error, field: field, location: shown, input: true)
    } catch {
      throw JobFailure(.inputFileAccess, "\(field): \(error)", retry: true)
    }
  }

  /// Delivers the file at `path` to `location` (the request's `field`), reporting progress in `share`. When
  /// the output URL has expired, the file is kept in the owner's temporary storage and the job fails with
  /// `/problems/output-url-expired` naming the `dlb://` key.
  public func deliver(
    file path: String, to location: Location, field: String, contentType: String?, context: JobContext,
    share: ClosedRange<Int>
  ) throws(JobFailure) {
    try context.checkCancelled()
    context.report(phase: .uploading, progress: share.lowerBound)
    let owner = context.storageOwner
    if case .dlb(let key) = location.target {
      switch storage {
      case .local(let local):
        try context.confirmLease()
        do {
          try local.adopt(file: path, owner: owner, key: key)
        } catch {
          throw JobFailure(.outputFileAccess, "\(field): \(error)")
        }
      case .s3(let s3):
        try upload(
          path, to: s3.location(owner: owner, key: key), shown: location, field: field, requests: s3.requests,
          contentType: contentType, context: context, share: share)
      }
      return
    }
    if let expiry = location.expiry?.date, expiry <= context.now() {
      throw keep(path, location: location, context: context)
    }
    do {
      try upload(
        path, to: location, shown: location, field: field, requests: requests, contentType: contentType,
        context: context, share: share)
    } catch let failure where failure == Self.expired {
      throw keep(path, location: location, context: context)
    }
  }

  /// Whether `deliver(growing:...)` can take an output for `location`: an `s3://` location with keys.
  public func deliversWhileWritten(_ location: Location) -> Bool {
    if case .s3 = location.target, case .aws? = location.auth { return true }
    return false
  }

  /// Delivers the file at `path` to `location` (see `deliversWhileWritten`) in parts while ffmpeg still writes
  /// it (`S3MultipartUpload.upload(growing:...)`; `available` gives its size and whether it is final).
  public func deliver(
    growing path: String, to location: Location, field: String, contentType: String?, context: JobContext,
    available: @escaping @Sendable () throws(TransferError) -> (size: Int64, final: Bool)
  ) throws(JobFailure) {
    try context.checkCancelled()
    try upload(
      path, to: location, shown: location, field: field, requests: requests, contentType: contentType,
      context: context, share: 80...80, growing: available)
  }

  /// Uploads the file at `path` to `location` with `requests` (in parts for a large `s3://` object with keys,
  /// or one still `growing`), confirming the lease just before the write takes effect; errors name `shown`.
  private func upload(
    _ path: String, to location: Location, shown: Location, field: String, requests: LocationRequests,
    contentType: String?, context: JobContext, share: ClosedRange<Int>,
    growing: (@Sendable () throws(TransferError) -> (size: Int64, final: Bool))? = nil
  ) throws(JobFailure) {
    do {
      if case .s3(let bucket, let key) = location.target, case .aws(let credentials, let region)? = location.auth,
        growing != nil || fileSize(path) >= multipartThreshold
      {
        let multipart = S3MultipartUpload(
          client: client, s3: requests.s3, partSize: partSize, parallelParts: parallelParts)
        abortLeftovers(at: bucket, key, context: context) { (uploadID) throws(TransferError) in
          try multipart.abort(uploadID: uploadID, bucket: bucket, key: key, credentials: credentials, region: region)
        }
        // The upload is stored with the job before its first part, and forgotten once completed or aborted.
        var opened: String?
        var notStored: JobFailure?
        let started = { (uploadID: String) throws(TransferError) in
          do throws(JobFailure) {
            try context.uploadOpened(OpenUpload(bucket: bucket, key: key, uploadID: uploadID))
          } catch {
            notStored = error
            throw .cancelled
          }
          opened = uploadID
        }
        let beforeComplete = { () throws(TransferError) in
          do { try context.confirmLease() } catch { throw .cancelled }
        }
        do {
          if let growing {
            _ = try multipart.upload(
              growing: path, bucket: bucket, key: key, credentials: credentials, region: region,
              contentType: contentType, available: growing, started: started, beforeComplete: beforeComplete)
          } else {
            _ = try multipart.upload(
              file: path, bucket: bucket, key: key, credentials: credentials, region: region,
              contentType: contentType,
              progress: { done, total in
                context.report(
                  phase: .uploading, progress: Self.scale(done, total, share), bytesDone: done, bytesTotal: total)
              }, started: started, beforeComplete: beforeComplete)
          }
          opened.map { context.uploadClosed(id: $0) }
        } catch {
          if let notStored { throw notStored }
          // An upload whose abort failed stays recorded: the next run aborts it.
          var abortFailed = false
          if case .abortFailed = error { abortFailed = true }
          if let opened, !abortFailed { context.uploadClosed(id: opened) }
          throw error
        }
      } else {
        let request = try requests.write(location, field: field, file: path, contentType: contentType)
        try context.confirmLease()
        _ = try client.upload(request, from: path) { done, total in
          context.report(
            phase: .uploading, progress: Self.scale(done, total, share), bytesDone: done, bytesTotal: total)
        }
      }
    } catch let failure as JobFailure {
      throw failure
    } catch let error as LocationError {
      throw JobFailure(.outputFileAccess, error.description)
    } catch let error as TransferError {
      if error.primary == .expired { throw Self.expired }
      if case .abortFailed(_, let abort, let uploadID) = error {
        context.logger.warning(
          "multipart upload left behind",
          ["field": .string(field), "upload_id": .string(uploadID), "abort_error": .string(abort.description)])
      }
      if context.isCancelled { throw JobFailure.cancelled }
      throw Self.failure(error, field: field, location: shown, input: false)
    } catch {
      throw JobFailure(.outputFileAccess, "\(field): \(error)", retry: true)
    }
  }

  /// Aborts the multipart uploads of `bucket`/`key` that earlier runs of the job started and never finished
  /// (they died mid-upload), before this run starts its own: their parts would stay in the bucket for ever.
  private func abortLeftovers(
    at bucket: String, _ key: String, context: JobContext, abort: (String) throws(TransferError) -> Void
  ) {
    for leftover in context.leftoverUploads where leftover.bucket == bucket && leftover.key == key {
      do throws(TransferError) {
        try abort(leftover.uploadID)
        context.logger.info("multipart upload of an earlier run aborted", ["upload_id": .string(leftover.uploadID)])
        context.uploadClosed(id: leftover.uploadID)
      } catch {
        context.logger.warning(
          "multipart upload of an earlier run not aborted",
          ["upload_id": .string(leftover.uploadID), "error": .string(error.description)])
      }
    }
  }

  /// What `upload` throws when the output URL expired during the upload (`deliver` then keeps the result).
  private static let expired = JobFailure(.outputURLExpired, "")

  /// Keeps a finished result whose output URL expired: nothing finished is thrown away.
  private func keep(_ path: String, location: Location, context: JobContext) -> JobFailure {
    let key = "ferry-kept/\(context.job.id.text)/\(Self.fileName(of: location))"
    do {
      try deliver(
        file: path, to: Location(target: .dlb(key: key)), field: "kept", contentType: nil, context: context,
        share: 100...100)
    } catch {
      context.logger.error("expired result not kept", ["error": .string(String(describing: error))])
      return JobFailure(
        .outputURLExpired, "the output URL expired before the result could be uploaded, and keeping the result failed")
    }
    return JobFailure(
      .outputURLExpired,
      "the output URL expired before the result could be uploaded; the result is kept at dlb://\(key) for 48 h")
  }

  /// The last path segment of an output location, for naming a kept result.
  public static func fileName(of location: Location) -> String {
    let path: Substring
    switch location.target {
    case .http(let url, _):
      let withoutQuery = url.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)[0]
      let afterScheme = withoutQuery.split(separator: "/", omittingEmptySubsequences: true).dropFirst(2)
      path = afterScheme.last ?? ""
    case .s3(_, let key): path = key.split(separator: "/").last ?? ""
    case .dlb(let key): path = key.split(separator: "/").last ?? ""
    }
    let name = (path.removingPercentEncoding ?? String(path)).filter { $0 != "/" && !$0.isNewline }
    return name.isEmpty || name == "." || name == ".." ? "output" : name
  }

  static func scale(_ done: Int64, _ total: Int64?, _ share: ClosedRange<Int>) -> Int {
    guard let total, total > 0 else { return share.lowerBound }
    let fraction = min(1, Double(done) / Double(total))
    return share.lowerBound + Int(fraction * Double(share.upperBound - share.lowerBound))
  }

  private func fileSize(_ path: String) -> Int64 {
    var info = stat()
    return stat(path, &info) == 0 ? Int64(info.st_size) : 0
  }

  /// The job failure for a transfer error on an input or an output.
  static func failure(_ error: TransferError, field: String, location: Location, input: Bool) -> JobFailure {
    let access: Problem = input ? .inputFileAccess : .outputFileAccess
    let shown = "\(field) (\(location.redacted))"
    switch error {
    case .refused(let reason):
      return JobFailure(.networkPolicy, "\(shown): \(reason)")
    case .expired:
      return JobFailure(access, "\(shown): the URL expired")
    case .tooLarge(let limit):
      return JobFailure(.inputTooLarge, "\(shown): larger than the limit of \(limit) bytes")
    case .status(let code, _) where (400..<500).contains(code) && code != 408 && code != 429:
      return JobFailure(access, "\(shown): \(error)")
    // A chain of redirects does not end by itself on a retry.
    case .tooManyRedirects:
      return JobFailure(access, "\(shown): \(error)")
    // Past the longest a transfer may take: the next attempt would be as long.
    case .tooLong:
      return JobFailure(access, "\(shown): \(error)")
    case .status, .network, .tooSlow:
      return JobFailure(access, "\(shown): \(error)", retry: true)
    case .cancelled:
      return .cancelled
    case .abortFailed(let failure, _, _):
      return Self.failure(failure, field: field, location: location, input: input)
    case .local(let detail):
      return JobFailure(.internalError, "\(field): \(detail)", retry: true)
    }
  }
}
