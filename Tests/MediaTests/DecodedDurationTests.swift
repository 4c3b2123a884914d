import Foundation
import Testing

@testable import Media

/// A header's duration against what decodes, from literals: the WAV header reader and `MediaInfo.reconciled`.
@Suite struct DecodedDurationTests {
  /// A little-endian chunk: four-letter id, 32-bit size, body (padded to an even length, as RIFF has it).
  static func chunk(_ id: String, size: UInt32? = nil, _ body: [UInt8]) -> [UInt8] {
    let length = size ?? UInt32(body.count)
    return Array(id.utf8) + le32(length) + body + (body.count % 2 == 1 ? [0] : [])
  }

  static func le32(_ value: UInt32) -> [UInt8] { (0..<4).map { UInt8(truncatingIfNeeded: value >> (8 * $0)) } }
  static func le64(_ value: UInt64) -> [UInt8] { (0..<8).map { UInt8(truncatingIfNeeded: value >> (8 * $0)) } }

  /// `fmt ` of 16-bit PCM: 48 kHz stereo is 192,000 bytes a second.
  static let fmt = chunk(
    "fmt ", [1, 0, 2, 0] + le32(48000) + le32(192_000) + [4, 0, 16, 0])

  @Test func aWAVHeader_declaresItsDataSizeInSeconds() throws {
    // 30 s declared; a LIST chunk of odd length (padded) before the data.
    let bytes =
      Array("RIFF".utf8) + Self.le32(0) + Array("WAVE".utf8) + Self.fmt + Self.chunk("LIST", Array("INFOabc".utf8))
      + Self.chunk("data", size: 5_760_000, [1, 2, 3, 4])
    let header = try #require(WAVHeader(bytes: bytes))
    #expect(header.byteRate == 192_000 && header.dataSize == 5_760_000 && header.duration == 30)
  }

  @Test func anRF64Header_takesItsDataSizeFromDs64() throws {
    let ds64 = Self.chunk("ds64", Self.le64(0) + Self.le64(192_000 * 3600 * 5) + Self.le64(0))
    let bytes =
      Array("RF64".utf8) + Self.le32(0xFFFF_FFFF) + Array("WAVE".utf8) + ds64 + Self.fmt
      + Self.chunk("data", size: 0xFFFF_FFFF, [])
    #expect(WAVHeader(bytes: bytes)?.duration == 18000)  // 5 h
  }

  @Test func placeholdersAndOtherFiles_declareNothing() {
    let riff = Array("RIFF".utf8) + Self.le32(0) + Array("WAVE".utf8)
    // A recorder that streamed and never came back to write the size.
    #expect(WAVHeader(bytes: riff + Self.fmt + Self.chunk("data", size: 0xFFFF_FFFF, [])) == nil)
    #expect(WAVHeader(bytes: riff + Self.fmt + Self.chunk("data", size: 0, [])) == nil)
    // No fmt before data, no data at all, not a WAV.
    #expect(WAVHeader(bytes: riff + Self.chunk("data", size: 100, [])) == nil)
    #expect(WAVHeader(bytes: riff + Self.fmt) == nil)
    #expect(WAVHeader(bytes: Array("ID3\u{4}".utf8) + [UInt8](repeating: 0, count: 40)) == nil)
    #expect(WAVHeader(bytes: []) == nil)
  }

  static func info(duration: Double?, audio: Double? = nil, video: Double? = nil) -> MediaInfo {
    var info = MediaInfo(
      formatName: "mp3", duration: duration, audioCodec: "mp3", sampleRate: 44100, channels: 2,
      hasVideo: video != nil, videoCodec: video == nil ? nil : "h264")
    info.audioDuration = audio
    info.videoDuration = video
    return info
  }

  @Test func aTruncatedFile_takesTheDecodedLength_andSaysSo() {
    let info = Self.info(duration: 30.04, audio: 30.04).reconciled(decoded: 9.98)
    #expect(info.duration == 9.98 && info.audioDuration == 9.98 && info.claimedDuration == 30.04)
    #expect(
      info.durationWarning
        == "input: the header says 30.0 s but only 10.0 s of audio decodes; the file looks truncated")
    // A WAV header's own claim counts as a claim (ffprobe already reports what is there).
    var wav = Self.info(duration: 3, audio: 3)
    wav.formatName = "wav"
    let checked = wav.reconciled(decoded: 3, declared: 30)
    #expect(checked.duration == 3 && checked.claimedDuration == 30)
    #expect(checked.durationWarning?.hasPrefix("input: the header says 30.0 s but only 3.0 s of audio decodes") == true)
  }

  @Test func aHealthyFile_keepsItsHeadersFigures() {
    // A last packet ends within a frame of the header's figure: nothing to say, the header's figure stays.
    let info = Self.info(duration: 30.024, audio: 30.024)
    #expect(info.reconciled(decoded: 30.0009) == info)
    #expect(info.reconciled(decoded: nil) == info && info.durationWarning == nil)
    // An unknown length becomes the decoded one, without a warning.
    let unknown = Self.info(duration: nil).reconciled(decoded: 12.5)
    #expect(unknown.duration == 12.5 && unknown.durationWarning == nil)
  }

  @Test func moreThanTheHeaderSays_isUsedWhole() {
    let info = Self.info(duration: 10, audio: 10).reconciled(decoded: 20)
    #expect(info.duration == 20 && info.audioDuration == 20)
    #expect(info.durationWarning == "input: the header says 10.0 s but 20.0 s of audio decodes; all of it is used")
  }

  @Test func aTruncatedVideo_endsEachStreamAtTheDecodedEndAtTheLatest() {
    let info = Self.info(duration: 30, audio: 30, video: 30).reconciled(decoded: 9.6)
    #expect(info.duration == 9.6 && info.audioDuration == 9.6 && info.videoDuration == 9.6)
    #expect(info.durationWarning?.contains("only 9.6 s of media decodes") == true)
  }

  @Test func containersThatMeasureTheirData_areNotReadTwice() {
    var wav = Self.info(duration: 3)
    (wav.formatName, wav.audioCodec) = ("wav", "pcm_s16le")
    #expect(wav.durationComesFromData)
    wav.audioCodec = "adpcm_ms"
    #expect(!wav.durationComesFromData)
    #expect(!Self.info(duration: 3).durationComesFromData)  // mp3: its header may claim more
  }
}
