import Foundation

/// What a WAV file's header says about its audio: the `fmt ` chunk's byte rate and the `data` chunk's size
/// (RIFF, or RF64's `ds64` size). ffprobe reports a truncated WAV's length from the bytes that are there and
/// never says what the header claimed, so the claim is read here.
public struct WAVHeader: Sendable, Equatable {
  /// Bytes of audio a second (`fmt ` chunk).
  public var byteRate: Int
  /// Bytes of audio the header declares (`data` chunk size).
  public var dataSize: UInt64

  /// Seconds of audio the header declares.
  public var duration: Double { Double(dataSize) / Double(byteRate) }

  /// The header of the file's first `prefix` bytes; nil when it is not a WAV header Ferry can read, or when
  /// the data size is a placeholder (0 or 0xFFFFFFFF: written by recorders that stream and never come back).
  public init?(bytes: [UInt8]) {
    func u32(_ at: Int) -> UInt64? {
      guard at >= 0, at + 4 <= bytes.count else { return nil }
      return (0..<4).reduce(UInt64(0)) { $0 | UInt64(bytes[at + $1]) << (8 * UInt64($1)) }
    }
    func u64(_ at: Int) -> UInt64? {
      guard let low = u32(at), let high = u32(at + 4) else { return nil }
      return low | high << 32
    }
    func tag(_ at: Int) -> String? {
      guard at >= 0, at + 4 <= bytes.count else { return nil }
      return String(decoding: bytes[at..<(at + 4)], as: UTF8.self)
    }
    guard let riff = tag(0), riff == "RIFF" || riff == "RF64", tag(8) == "WAVE" else { return nil }
    var byteRate: UInt64?
    var ds64DataSize: UInt64?
    var offset = 12
    while let id = tag(offset), let size = u32(offset + 4) {
      let body = offset + 8
      switch id {
      case "ds64": ds64DataSize = u64(body + 8)
      case "fmt ": byteRate = u32(body + 8)
      case "data":
        guard let rate = byteRate, rate > 0 else { return nil }
        // RF64 puts 0xFFFFFFFF here and the real size in ds64.
        let declared = riff == "RF64" && size == 0xFFFF_FFFF ? ds64DataSize : size
        guard let declared, declared > 0, declared != 0xFFFF_FFFF else { return nil }
        self.byteRate = Int(rate)
        self.dataSize = declared
        return
      default: break
      }
      // Chunks are padded to an even length.
      offset = body + Int(size) + Int(size & 1)
    }
    return nil
  }

  /// The header of the WAV file at `path` (its first 64 KiB: the chunks before `data` are small), or nil.
  public init?(file path: String) {
    guard let handle = FileHandle(forReadingAtPath: path) else { return nil }
    defer { try? handle.close() }
    guard let prefix = try? handle.read(upToCount: 1 << 16) else { return nil }
    self.init(bytes: Array(prefix))
  }
}
