import Foundation
import JSON
import Jobs
import Locations
import Storage
import TestSupport
import Testing
import Transfer

@testable import Media

/// A posted request is validated once into its operation's spec; what the store seals decodes back to the
/// same spec, with no second validation, and a raw body stored by the previous release still decodes.
@Suite struct JobSpecTests {
  static let transfers = JobTransfers(
    client: TransferClient(policy: NetworkPolicy()),
    requests: LocationRequests(s3: S3Requests(addressing: S3Addressing(endpoint: nil))),
    storage: .local(LocalStorage(root: NSTemporaryDirectory() + "/ferry-spec-tests")),
    multipartThreshold: 1 << 30, partSize: 1 << 24, parallelParts: 1)
  static let tools = MediaTools()

  static let presigned =
    "https://b.s3.amazonaws.com/out%20put.wav?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AK%2F20300101%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20300101T000000Z&X-Amz-Expires=3600&X-Amz-SignedHeaders=host%3Bx-amz-acl&X-Amz-Signature=abc"

  /// Admits `body` through `operation`, then decodes the payload as a worker would, and as a worker would a
  /// raw body stored by 0.1.0.
  func roundTrip<Operation: JobOperation>(_ operation: Operation, _ body: String) throws -> (
    admitted: AdmittedRequest, spec: Operation.Spec, decoded: StoredRequest<Operation.Spec>,
    legacy: StoredRequest<Operation.Spec>
  ) {
    let json = try JSONValue.parse(Data(body.utf8))
    let spec = try operation.validate(json)
    let admitted = try operation.admit(json)
    let validate = { (request: JSONValue) throws(InvalidRequest) -> Operation.Spec in try operation.validate(request) }
    let decoded = try StoredRequest<Operation.Spec>.decode(admitted.payload, legacy: validate)
    let legacy = try StoredRequest<Operation.Spec>.decode(Array(body.utf8), legacy: validate)
    return (admitted, spec, decoded, legacy)
  }

  @Test func everyOperationsSpec_decodesToWhatWasValidated() throws {
    let enhance = try roundTrip(
      EnhanceOperation(transfers: Self.transfers, tools: Self.tools),
      #"{"input": {"url": "s3://media-in/a b.wav", "auth": {"key": "AK", "secret": "s/k", "token": "t", "region": "eu-west-1"}}, "output": "\#(Self.presigned)", "content": {"type": "music"}, "audio": {"loudness": {"peak_reference": "sample", "peak_limit": "-2"}, "noise": {"reduction": {"amount": "high"}}}}"#
    )
    #expect(enhance.decoded.spec == enhance.spec && enhance.legacy.spec == enhance.spec)
    #expect(enhance.spec.settings.peakReference == .sample && enhance.spec.settings.noiseReduction == 20)
    #expect(enhance.admitted.deadline == enhance.spec.output.expiry?.date && enhance.admitted.deadline != nil)
    if case .http(let url, let presigned?) = enhance.decoded.spec.output.target {
      #expect(url == Self.presigned, "byte-exact")
      #expect(presigned.signedHeaders == ["x-amz-acl"])
    } else {
      Issue.record("the output is not a pre-signed URL: \(enhance.decoded.spec.output)")
    }

    let analyze = try roundTrip(
      AnalyzeOperation(transfers: Self.transfers, tools: Self.tools),
      #"{"input": {"url": "https://h/a.wav?x=1", "region": {"start": 1, "end": 2.5}}, "output": "dlb://o.json", "loudness": {"metering_mode": "1770-2", "dialog_intelligence": true}, "validation": {"loudness": {"loudness_max": -10}}}"#
    )
    #expect(analyze.decoded.spec == analyze.spec && analyze.legacy.spec == analyze.spec)
    #expect(analyze.spec.region == MediaRegion(start: 1, end: 2.5) && analyze.spec.settings.meteringMode == "1770-2")

    // Without an output (Dolby's analyze samples send none), or with a null one: nothing to write, no deadline.
    for body in [#"{"input": "dlb://in.wav"}"#, #"{"input": "dlb://in.wav", "output": null}"#] {
      let resultOnly = try roundTrip(
        AnalyzeOperation(transfers: Self.transfers, tools: Self.tools), body)
      #expect(resultOnly.spec.output == nil && resultOnly.decoded.spec == resultOnly.spec)
      #expect(resultOnly.legacy.spec == resultOnly.spec)
      #expect(resultOnly.admitted.writes.isEmpty && resultOnly.admitted.deadline == nil)
    }
    #expect(throws: InvalidRequest.self) {
      try AnalyzeOperation(transfers: Self.transfers, tools: Self.tools)
        .validate(try JSONValue.parse(Data(#"{"input": "dlb://in.wav", "output": 7}"#.utf8)))
    }

    let diagnose = try roundTrip(
      DiagnoseOperation(transfers: Self.transfers, tools: Self.tools),
      #"{"input": {"url": "https://h/a.wav", "auth": {"username": "u", "password": "p"}}}"#)
    #expect(diagnose.decoded.spec == diagnose.spec && diagnose.legacy.spec == diagnose.spec)
    #expect(diagnose.admitted.writes.isEmpty && diagnose.admitted.deadline == nil)

    let transcode = try roundTrip(
      TranscodeOperation(transfers: Self.transfers, tools: Self.tools),
      #"{"inputs": [{"source": "dlb://in.mov", "segment": {"start": 2, "duration": 5}}], "storage": [{"id": "main", "url": "s3://media-b/p/", "auth": {"key": "AK", "secret": "S"}}], "outputs": [{"id": "v", "kind": "mp4", "destination": "dlb://o.mp4", "video": {"width": 320, "frame_rate": 25}}, {"id": "h", "kind": "hls", "destination": {"storage": "main", "path": "hls/"}, "hls": {"segment_sec": 2}}]}"#
    )
    #expect(transcode.decoded.spec == transcode.spec && transcode.legacy.spec == transcode.spec)
    #expect(transcode.admitted.writes.count == 2)

    for operation in [
      MasterOperation(transfers: Self.transfers, tools: Self.tools),
      MasterOperation.preview(transfers: Self.transfers, tools: Self.tools),
    ] {
      let master = try roundTrip(
        operation,
        #"{"inputs": [{"source": "dlb://song.wav", "segment": {"start": 45, "duration": 30}, "metadata": {"genre": "pop", "tags": ["a"]}}], "outputs": [{"destination": "\#(Self.presigned)", "kind": "mp3", "master": {"dynamic_eq": {"enable": true, "preset": "d", "intensity": 40}, "loudness": {"enable": true, "target_level": -16}, "stereo_image": {"enable": true}}}, {"destination": "dlb://trim.wav", "master": {"dynamic_eq": {"enable": false}, "loudness": {"enable": false}}}]}"#
      )
      #expect(master.decoded.spec == master.spec && master.legacy.spec == master.spec)
      #expect(master.spec.outputs[0].settings.stereoImage && master.spec.outputs[1].settings.isPassThrough)
      #expect(master.admitted.writes.count == 2 && master.admitted.deadline != nil)
    }
  }

  @Test func onComplete_isStoredTyped_inBothForms() throws {
    let operation = DiagnoseOperation(transfers: Self.transfers, tools: Self.tools)
    let withValues = try roundTrip(
      operation,
      #"{"input": "dlb://a.wav", "on_complete": {"url": "https://h/cb", "headers": {"Authorization": "Bearer x"}, "body": {"n": 1.5, "s": "t", "l": [true, null]}}}"#
    )
    let callback = try #require(withValues.decoded.onComplete)
    #expect(withValues.admitted.hasOnComplete && withValues.legacy.onComplete == callback)
    #expect(callback.headers.map(\.name) == ["Authorization"] && callback.headers.map(\.value) == [.text("Bearer x")])
    #expect(callback.body == .object(["n": .double(1.5), "s": "t", "l": .array([true, .null])]))
    #expect(try StoredRequestFormat.onComplete(withValues.admitted.payload) == callback)

    let listed = try roundTrip(
      operation, #"{"input": "dlb://a.wav", "on_complete": {"url": "https://h/cb", "headers": ["x-job-id"]}}"#)
    #expect(listed.decoded.onComplete?.headers.map(\.value) == [.jobID])
    let none = try roundTrip(operation, #"{"input": "dlb://a.wav"}"#)
    #expect(!none.admitted.hasOnComplete && none.decoded.onComplete == nil)
    #expect(try StoredRequestFormat.onComplete(none.admitted.payload) == nil)
  }

  @Test func aSpecFromANewerRelease_orUnreadableBytes_endTheJobAsAnInternalError() throws {
    let operation = DiagnoseOperation(transfers: Self.transfers, tools: Self.tools)
    let validate = { (request: JSONValue) throws(InvalidRequest) -> DiagnoseSpec in try operation.validate(request) }
    var payload = try operation.admit(try JSONValue.parse(Data(#"{"input": "dlb://a.wav"}"#.utf8))).payload
    let text = String(decoding: payload[2...], as: UTF8.self)
    #expect(text.contains(#""spec_version":1"#))
    payload =
      Array(payload[..<2]) + Array(text.replacingOccurrences(of: #""spec_version":1"#, with: #""spec_version":9"#).utf8)
    let reshaped = [0, 2] + Array(#"{"spec_version": 2, "spec": {"inputs": ["dlb://a.wav"]}}"#.utf8)
    for (bytes, says) in [
      (payload, "newer release of Ferry"), ([0, 2] + Array("{oops".utf8), "cannot be decoded"),
      (reshaped, "newer release of Ferry (spec version 2"), ([0, 3] + Array("{}".utf8), "stored format 3"),
      (Array("not json".utf8), "neither a typed spec nor JSON"),
      (Array(#"{"input": "ftp://x"}"#.utf8), "earlier release no longer passes: input"),
    ] {
      #expect {
        _ = try StoredRequest<DiagnoseSpec>.decode(bytes, legacy: validate)
      } throws: { error in
        guard let failure = error as? JobFailure else { return false }
        return failure.kind == .final && failure.error.type == "/problems/internal-error"
          && failure.error.detail.contains(says)
      }
    }
  }

  @Test func aBadOnCompleteInARequestFrom010_failsItsDelivery_notTheJob() throws {
    let operation = DiagnoseOperation(transfers: Self.transfers, tools: Self.tools)
    let validate = { (request: JSONValue) throws(InvalidRequest) -> DiagnoseSpec in try operation.validate(request) }
    let body = Array(#"{"input": "dlb://a.wav", "on_complete": {"url": "ftp://h/cb"}}"#.utf8)
    let stored = try StoredRequest<DiagnoseSpec>.decode(body, legacy: validate)
    #expect(stored.spec.input.target == .dlb(key: "a.wav") && stored.onComplete == nil)
    #expect {
      _ = try StoredRequestFormat.onComplete(body)
    } throws: { error in
      (error as? JobFailure)?.error.detail.contains("on_complete.url") == true
    }
  }

  @Test func aRegisteredWebhooksCallback_isSealedTyped_andOnesRegisteredBy010StillRead() throws {
    let callback = try Callback.parse(
      try JSONValue.parse(Data(#"{"url": "https://h/hook", "headers": {"X-Token": "t"}}"#.utf8)), field: "callback",
      allowBody: false)
    let stored = try callback.storedBytes()
    #expect(stored.starts(with: [0, 2]))
    #expect(try Callback(storedBytes: stored) == callback)
    // 0.1.0 sealed the callback's JSON: `{"url", "headers"}` with sorted keys.
    let legacy = Array(#"{"headers":{"X-Token":"t"},"url":"https://h/hook"}"#.utf8)
    #expect(try Callback(storedBytes: legacy) == callback)
    #expect(throws: InvalidRequest.self) { try Callback(storedBytes: Array(#"{"url": "ftp://h"}"#.utf8)) }
  }
}
