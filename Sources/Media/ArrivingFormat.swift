/// Whether an input's container can be read front to back while it downloads, decided from its first bytes
/// (never from its name or Content-Type): WAV, FLAC, MP3, MPEG-TS, and MP4/MOV whose index (`moov`) comes
/// before the media (`mdat`). Everything else, and an MP4 whose index is at the end, waits for the last byte.
enum ArrivingFormat: Equatable, Sendable {
  /// Readable as it arrives with ffmpeg's demuxer `demuxer`, once the first `head` bytes are in (enough for
  /// ffprobe to name the streams, and for an MP4 its whole index).
  case readable(demuxer: String, head: Int64)
  /// Not readable before it is whole, and why.
  case whole(String)
  /// Undecided until the first `bytes` bytes are in.
  case needs(bytes: Int64)

  /// The head ffprobe reads for the formats whose first packets say what the streams are.
  static let audioHead: Int64 = 64 << 10
  /// MPEG-TS names its streams in tables repeated through the stream: a larger head finds them all.
  static let transportHead: Int64 = 1 << 20
  /// An MP4 index further in than this is not waited for (the input is then processed once whole).
  static let maxIndexEnd: Int64 = 64 << 20

  /// What the first bytes of an input of `total` bytes (nil when unknown) say. `head` holds at least the
  /// first 12 bytes unless the input is shorter.
  static func inspect(_ head: [UInt8], total: Int64?) -> ArrivingFormat {
    guard head.count >= 12 else {
      return total.map { Int64(head.count) >= $0 } == true ? .whole("too short") : .needs(bytes: 12)
    }
    func text(_ at: Int, _ count: Int) -> String { String(decoding: head[at..<(at + count)], as: UTF8.self) }
    func limited(_ bytes: Int64) -> Int64 { total.map { min($0, bytes) } ?? bytes }
    if text(0, 4) == "RIFF" && text(8, 4) == "WAVE" { return .readable(demuxer: "wav", head: limited(audioHead)) }
    if text(0, 4) == "fLaC" { return .readable(demuxer: "flac", head: limited(audioHead)) }
    if text(4, 4) == "ftyp" { return movie(head, total: total) }
    if head[0] == 0x47 {
      guard head.count > 376 else { return .needs(bytes: 377) }
      if head[188] == 0x47 && head[376] == 0x47 { return .readable(demuxer: "mpegts", head: limited(transportHead)) }
    }
    // An ID3v2 tag (synchsafe size) before MP3 frames, or FLAC (some taggers put one there).
    var start = 0
    if text(0, 3) == "ID3" {
      let size = head[6...9].reduce(0) { $0 << 7 | Int($1 & 0x7F) }
      start = 10 + size + (head[5] & 0x10 != 0 ? 10 : 0)
      guard head.count >= start + 4 else { return .needs(bytes: Int64(start + 4)) }
      if text(start, 4) == "fLaC" { return .readable(demuxer: "flac", head: limited(Int64(start) + audioHead)) }
    }
    // An MPEG audio frame header: 11 sync bits, then a layer other than "reserved" (ADTS AAC has layer 0).
    if head[start] == 0xFF && head[start + 1] & 0xE0 == 0xE0 && head[start + 1] & 0x06 != 0 {
      // A Xing/Info (LAME) or VBRI tag in the first frame, at most 36 bytes in: ffmpeg 5.1 trims the encoder's
      // padding at the end that the tag declares only from a file it can seek (from a socket the output would
      // be that many samples longer), so such an MP3 is read once whole.
      guard head.count >= start + 48 else { return .needs(bytes: Int64(start + 48)) }
      let frame = String(decoding: head[start..<(start + 48)].map { $0 < 0x20 || $0 > 0x7E ? 0x2E : $0 }, as: UTF8.self)
      if ["Xing", "Info", "VBRI"].contains(where: frame.contains) {
        return .whole("an MP3 with a Xing/Info tag (ffmpeg trims its end padding only from a file)")
      }
      return .readable(demuxer: "mp3", head: limited(Int64(start) + audioHead))
    }
    return .whole("the container is not one Ferry reads as it arrives")
  }

  /// An MP4/MOV: readable as it arrives when `moov` comes before `mdat`.
  private static func movie(_ head: [UInt8], total: Int64?) -> ArrivingFormat {
    var offset: Int64 = 0
    // Top-level boxes, each at least 8 bytes long: bounded by the head's length.
    while true {
      guard Int64(head.count) >= offset + 16 else {
        if let total, offset >= total { return .whole("an MP4 without an index") }
        return .needs(bytes: offset + 16)
      }
      let at = Int(offset)
      var size = head[at..<(at + 4)].reduce(Int64(0)) { $0 << 8 | Int64($1) }
      let type = String(decoding: head[(at + 4)..<(at + 8)], as: UTF8.self)
      if size == 1 { size = head[(at + 8)..<(at + 16)].reduce(Int64(0)) { $0 << 8 | Int64($1) } }
      if type == "moov" {
        let end = size == 0 ? (total ?? Int64.max) : offset + size
        guard end <= maxIndexEnd else { return .whole("the MP4's index is too large to wait for") }
        return .readable(demuxer: "mov", head: end)
      }
      if type == "mdat" || type == "moof" { return .whole("the MP4's index comes after its media") }
      guard size >= 8 else { return .whole("an MP4 box that does not say its size") }
      offset += size
      if offset > maxIndexEnd { return .whole("the MP4's index is too far in to wait for") }
    }
  }
}
