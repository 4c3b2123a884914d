import Foundation
import Log
import Testing

/// Whether `s` looks like `2021-08-10T05:16:31.494Z` (UTC, milliseconds).
private func isISO8601Millis(_ s: String) -> Bool {
  s.wholeMatch(of: #/\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z/#) != nil
}

private func object(_ bytes: [UInt8]) throws -> [String: Any] {
  #expect(bytes.last == UInt8(ascii: "\n"))
  return try #require(try JSONSerialization.jsonObject(with: Data(bytes.dropLast())) as? [String: Any])
}

@Suite struct LogLineTests {
  @Test func linesAreJSONWithTimeLevelMessageAndFields() throws {
    var line = LogLine(
      level: .warning, msg: "quote \" backslash \\ newline \n tab \t bell \u{7}",
      now: Date(timeIntervalSince1970: 1_628_572_591.494))
    line.field("request_id", "abc")
    line.field("count", 42)
    line.field("ok", .bool(true))
    line.field("ratio", .double(0.5))
    line.field("duration_ms", milliseconds: 1_234_567)
    let fields = try object(line.finish())
    #expect(fields["time"] as? String == "2021-08-10T05:16:31.494Z")
    #expect(fields["level"] as? String == "warning")
    #expect(fields["msg"] as? String == "quote \" backslash \\ newline \n tab \t bell \u{7}")
    #expect(fields["request_id"] as? String == "abc")
    #expect(fields["count"] as? Int == 42)
    #expect(fields["ok"] as? Bool == true)
    #expect(fields["duration_ms"] as? Double == 1.234)
  }

  @Test func keysAreEscapedOnceAndWrittenAsGiven() throws {
    let key = LogKey("odd \"key\"")
    var line = LogLine(level: .info, msg: "m", now: Date())
    line.field(key, "v")
    line.field(key, 7)
    let text = String(decoding: line.finish(), as: UTF8.self)
    #expect(text.contains(#","odd \"key\"":"v","odd \"key\"":7}"#), "\(text)")
  }

  @Test func cachedTimestampsHaveTheSameFormat() throws {
    let cache = TimestampCache()
    var batch: [UInt8] = []
    for i in 0..<3 {
      var line = LogLine(level: .info, msg: "request", timestamps: cache, batch: batch)
      line.field("i", i)
      batch = line.finish()
    }
    let lines = batch.split(separator: UInt8(ascii: "\n")).map { Array($0) + [UInt8(ascii: "\n")] }
    #expect(lines.count == 3)
    for (i, line) in lines.enumerated() {
      let fields = try object(line)
      let time = try #require(fields["time"] as? String)
      #expect(isISO8601Millis(time), "bad time \(time)")
      #expect(fields["i"] as? Int == i)
    }
  }

  @Test func loggerAddsItsFieldsAndHonoursTheLevel() throws {
    let sink = MemoryLogSink()
    let logger = Logger(level: .info, sink: sink).with("job_id", "j-1")
    logger.debug("hidden")
    logger.info("shown", ["n": 1])
    #expect(sink.all.count == 1)
    let fields = try object(Array((sink.all[0] + "\n").utf8))
    #expect(fields["job_id"] as? String == "j-1")
    #expect(fields["n"] as? Int == 1)
    #expect(LogLevel(name: "warning") == .warning)
    #expect(LogLevel(name: "loud") == nil)
  }

  @Test func bufferedSinkWritesEveryLineToItsDescriptor() throws {
    var fds: [Int32] = [0, 0]
    #expect(pipe(&fds) == 0)
    defer { close(fds[0]) }
    let sink = BufferedFileLogSink(fd: fds[1], flushInterval: .milliseconds(10))
    let logger = Logger(level: .info, sink: sink)
    for i in 0..<100 { logger.info("line", ["i": .int(i)]) }
    logger.error("urgent")
    logger.flush()
    close(fds[1])
    let data = FileHandle(fileDescriptor: fds[0]).readDataToEndOfFile()
    let lines = String(decoding: data, as: UTF8.self).split(separator: "\n")
    #expect(lines.count == 101)
    #expect(lines.last?.contains("urgent") == true)
  }

  /// A warning first (written at once), then info lines: they reach the descriptor within the flush interval,
  /// without a flush or another warning. (The writer used to start only with a first line that was not urgent.)
  @Test func infoLinesAfterAFirstWarning_arriveWithinTheInterval() throws {
    var fds: [Int32] = [0, 0]
    #expect(pipe(&fds) == 0)
    defer { close(fds[0]) }
    defer { close(fds[1]) }
    _ = fcntl(fds[0], F_SETFL, O_NONBLOCK)
    let sink = BufferedFileLogSink(fd: fds[1], flushInterval: .milliseconds(10))
    let logger = Logger(level: .info, sink: sink)
    logger.warning("first")
    logger.info("second")
    var received = ""
    for _ in 0..<200 where !received.contains("second") {
      usleep(10_000)
      var buffer = [UInt8](repeating: 0, count: 4096)
      let n = read(fds[0], &buffer, buffer.count)
      if n > 0 { received += String(decoding: buffer[..<n], as: UTF8.self) }
    }
    #expect(received.contains("first") && received.contains("second"), "\(received)")
  }
}
