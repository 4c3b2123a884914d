import Foundation

/// The lines `ametadata=mode=print` writes: `frame:N pts:P pts_time:T` followed by `key=value` lines.
public struct MetadataLog: Sendable {
  public struct Frame: Sendable, Equatable {
    public var time: Double
    public var values: [String: Double]
  }

  public var frames: [Frame] = []

  /// Parses the log text; unreadable lines are skipped.
  public init(_ text: String) {
    var parser = Parser()
    for line in text.split(separator: "\n") {
      if let frame = parser.feed(line) { frames.append(frame) }
    }
    if let frame = parser.finish() { frames.append(frame) }
  }

  /// Reads the log file at `path` a chunk at a time and hands each frame to `body` as it completes; a missing
  /// or unreadable file has no frames. A long input's log is never held whole: six hours of analyze's loudness
  /// log are 39 MB of text, and were about 200 MB more as frames kept at once.
  public static func forEachFrame(inFile path: String, _ body: (Frame) -> Void) {
    var parser = Parser()
    FileLines.forEach(inFile: path) { line in
      if let frame = parser.feed(line) { body(frame) }
    }
    if let frame = parser.finish() { body(frame) }
  }

  /// Frames from lines, one line at a time.
  struct Parser {
    private var current: Frame?

    /// Takes the next line; returns the frame it completed, if it began the next one.
    mutating func feed(_ line: Substring) -> Frame? {
      if line.hasPrefix("frame:") {
        let finished = current
        let time = line.split(separator: " ").first { $0.hasPrefix("pts_time:") }.flatMap {
          Double($0.dropFirst("pts_time:".count))
        }
        current = Frame(time: time ?? 0, values: [:])
        return finished
      }
      if let equals = line.firstIndex(of: "="), current != nil,
        let value = Double(line[line.index(after: equals)...])
      {
        current!.values[String(line[..<equals])] = value
      }
      return nil
    }

    /// The last frame, once the lines have ended.
    mutating func finish() -> Frame? {
      defer { current = nil }
      return current
    }
  }
}

/// Reading a text file line by line in fixed-size chunks.
enum FileLines {
  /// Calls `body` with each line of the file at `path` (without its newline; a last line without one counts);
  /// nothing when the file cannot be read. Memory stays at one chunk plus the longest line.
  static func forEach(inFile path: String, chunkSize: Int = 1 << 16, _ body: (Substring) -> Void) {
    guard let handle = FileHandle(forReadingAtPath: path) else { return }
    defer { try? handle.close() }
    var pending: [UInt8] = []
    while let chunk = try? handle.read(upToCount: chunkSize), !chunk.isEmpty {
      pending.append(contentsOf: chunk)
      var start = 0
      while let newline = pending[start...].firstIndex(of: 0x0A) {
        body(Substring(String(decoding: pending[start..<newline], as: UTF8.self)))
        start = newline + 1
      }
      pending.removeFirst(start)
    }
    if !pending.isEmpty { body(Substring(String(decoding: pending, as: UTF8.self))) }
  }
}
