/// A master's output container (`outputs[i].kind`), with the codec, sample rate and bit rate Dolby's
/// "How to Specify the Output File Format of your Music Master" sets for it: WAV is PCM at the input's rate
/// (the input's bit depth when it is lossless, 16-bit when it is lossy); OGG is Vorbis and MP3 is MPEG audio,
/// both at 48 kHz (256 and 320 kb/s); MP4 is AAC LC at the input's rate. Dolby's page gives no bit rate for
/// MP4 or AAC that Ferry could read: Ferry encodes both at 256 kb/s, and AAC as ADTS (`.aac`).
public enum MasterKind: String, Sendable, Codable, CaseIterable {
  case wav, ogg, mp3, mp4, aac

  /// The kind a destination's file name implies (`song.mp3`), WAV when it implies none.
  public static func named(_ fileName: String) -> MasterKind {
    guard let dot = fileName.lastIndex(of: ".") else { return .wav }
    let ext = fileName[fileName.index(after: dot)...].lowercased()
    return ext == "m4a" ? .mp4 : MasterKind(rawValue: ext) ?? .wav
  }

  /// The output rate for an input at `inputRate` Hz.
  public func sampleRate(input inputRate: Int?) -> Int {
    let rate = inputRate ?? 48000
    switch self {
    case .ogg, .mp3: return 48000
    case .wav: return rate
    // The AAC encoder's rates up to 96 kHz.
    case .mp4, .aac:
      return [96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000].contains(rate) ? rate : 48000
    }
  }

  /// How the output is written, for an input with `codec` (ffprobe's name) and `bitDepth`.
  public func format(inputCodec codec: String?, bitDepth: Int?) -> OutputFormat {
    switch self {
    case .wav:
      // Lossless in, the same depth out; lossy in, 16-bit (Dolby's 1536 kb/s for 48 kHz stereo).
      let lossless =
        codec.map { $0.hasPrefix("pcm_") || ["flac", "alac", "wavpack", "ape", "tta"].contains($0) } ?? false
      let pcm: String
      switch (lossless, codec, bitDepth) {
      case (true, "pcm_f32le", _), (true, "pcm_f64le", _): pcm = "pcm_f32le"
      case (true, _, .some(let bits)) where bits > 24: pcm = "pcm_s32le"
      case (true, _, .some(let bits)) where bits > 16: pcm = "pcm_s24le"
      default: pcm = "pcm_s16le"
      }
      return OutputFormat("wav", "wav", ["-c:a", pcm], false, nil, "audio/wav")
    case .ogg: return OutputFormat("ogg", "ogg", ["-c:a", "libvorbis", "-b:a", "256k"], false, [48000], "audio/ogg")
    case .mp3: return OutputFormat("mp3", "mp3", ["-c:a", "libmp3lame", "-b:a", "320k"], false, [48000], "audio/mpeg")
    case .mp4: return OutputFormat("mp4", "mp4", ["-c:a", "aac", "-b:a", "256k"], false, nil, "audio/mp4")
    case .aac: return OutputFormat("aac", "adts", ["-c:a", "aac", "-b:a", "256k"], false, nil, "audio/aac")
    }
  }
}
