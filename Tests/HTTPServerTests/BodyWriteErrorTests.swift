import Foundation
import Testing

@testable import HTTPServer

/// A body the server cannot write down (a full disk) is its own trouble: 503 with the cause, not a 500.
@Suite struct BodyWriteErrorTests {
  @Test func aFullDisk_isAnsweredNotReady_sayingSo() throws {
    // /dev/full fails every write with ENOSPC. The sink's path is a name that does not exist, so nothing real
    // is ever removed.
    let descriptor = open("/dev/full", O_WRONLY | O_CLOEXEC)
    try #require(descriptor >= 0)
    let sink = FileBodySink(descriptor: descriptor, path: NSTemporaryDirectory() + "/ferry-no-such-\(UUID())")
    #expect(throws: BodyWriteError(code: ENOSPC)) {
      try [UInt8](repeating: 1, count: 4096).withUnsafeBytes { try sink.write($0) }
    }
    let answer = Response.problem(BodyWriteError(code: ENOSPC))
    let body = String(decoding: answer.body, as: UTF8.self)
    #expect(answer.status.code == 503 && body.contains(#""type":"/problems/not-ready""#))
    #expect(body.contains("the server's disk is full; nothing was stored"), "\(body)")
    #expect(BodyWriteError(code: EIO).detail.contains("could not write the upload (Input/output error)"))
  }
}
