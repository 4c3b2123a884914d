import CSpawn
import Foundation
import Jobs
import Problems

/// 32-bit float PCM between ffmpeg and Swift through pipes, a bounded block at a time (never a whole file in
/// memory): a decoding ffmpeg writes to its descriptor 3, Swift reads, and (for a filter) writes to the stdin
/// of an encoding ffmpeg.
enum PCMStream {
  /// Bytes read per block (a third of a second of 48 kHz stereo).
  static let blockBytes = 1 << 17

  /// A close-on-exec pipe (read end, write end).
  static func pipe() throws(JobFailure) -> (read: Int32, write: Int32) {
    var fds: [Int32] = [-1, -1]
    guard ferry_pipe_cloexec(&fds) == 0 else {
      throw JobFailure(.internalError, "cannot create a pipe: \(String(cString: strerror(errno)))", retry: true)
    }
    return (fds[0], fds[1])
  }

  /// Reads `fd` to its end in blocks of whole samples, handing each block of floats to `body`; `body` returns
  /// false to stop early. Closes `fd`.
  static func read(_ fd: Int32, _ body: ([Float]) -> Bool) {
    defer { close(fd) }
    var bytes = [UInt8](repeating: 0, count: blockBytes)
    var held = 0
    while true {
      let n = bytes.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress! + held, blockBytes - held) }
      if n < 0 && errno == EINTR { continue }
      if n <= 0 { break }
      held += n
      let whole = held / 4 * 4
      guard whole > 0 else { continue }
      let floats = bytes.withUnsafeBytes { raw in
        Array(UnsafeBufferPointer(start: raw.baseAddress!.assumingMemoryBound(to: Float.self), count: whole / 4))
      }
      if held > whole {
        for k in 0..<(held - whole) { bytes[k] = bytes[whole + k] }
      }
      held -= whole
      if !body(floats) { return }
    }
  }

  /// Writes all of `samples` to `fd`; false when the reader has gone (EPIPE) or another error stopped it.
  static func write(_ fd: Int32, _ samples: [Float]) -> Bool {
    samples.withUnsafeBytes { raw in
      var offset = 0
      while offset < raw.count {
        let n = Glibc.write(fd, raw.baseAddress! + offset, raw.count - offset)
        if n < 0 && errno == EINTR { continue }
        if n <= 0 { return false }
        offset += n
      }
      return true
    }
  }

  /// A write to a pipe whose reader died must fail with EPIPE, not end the process.
  static let ignoreBrokenPipes: Void = { signal(SIGPIPE, SIG_IGN) }()
}
