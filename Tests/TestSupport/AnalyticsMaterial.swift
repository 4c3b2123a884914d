import Foundation

/// Labelled audio for the analytics tests, made once per test process in a temporary directory from what
/// Debian packages ship (the Makefile's TEST_PACKAGES):
/// - speech: `espeak-ng` (its own voices and variants) and `festival` with `festvox-kallpc16k` (KAL diphone
///   voice) and `festvox-us-slt-hts` (CMU ARCTIC SLT, HTS);
/// - music: `hyperrogue-music` (the game's OGG soundtrack, GPL-2+), and MIDI files written here at known
///   tempos and keys, rendered by `fluidsynth` with `fluid-soundfont-gm` (FluidR3_GM.sf2);
/// - silence and noise from ffmpeg's `anullsrc` and `anoisesrc`.
/// Every clip is 16 kHz mono float, the rate the analytics work at. The files are kept in one cache directory
/// shared by test runs (named by a hash of what made them, written under a temporary name and renamed into
/// place, so runs side by side never read a half-written file), which keeps its size to one set.
public enum AnalyticsMaterial {
  public static let sampleRate = 16000

  /// A failure to make material, with the command's own words.
  public struct MaterialError: Error, CustomStringConvertible {
    public var description: String
  }

  /// The cache directory the material lives in.
  public static let directory: String = {
    let path = NSTemporaryDirectory() + "ferry-analytics-material"
    try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
  }()

  /// Makes `path` with `make` (given a temporary path with the same extension) unless it exists, then renames
  /// it into place.
  static func cached(_ path: String, _ make: (String) throws -> Void) throws {
    guard !FileManager.default.fileExists(atPath: path) else { return }
    let name = (path as NSString).lastPathComponent
    let temporary = directory + "/tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))-" + name
    defer { try? FileManager.default.removeItem(atPath: temporary) }
    try make(temporary)
    guard rename(temporary, path) == 0 else {
      throw MaterialError(description: "cannot rename \(temporary) to \(path): errno \(errno)")
    }
  }

  /// A short stable name for `text`.
  static func digest(_ text: String) -> String { String(sha256Hex(Array(text.utf8)).prefix(16)) }

  /// Runs `tool` with `arguments`, waiting for it (bounded by the tool's own work).
  @discardableResult
  public static func run(_ tool: String, _ arguments: [String], stdin: String? = nil) throws -> String {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = [tool] + arguments
    let output = Pipe()
    let errors = Pipe()
    process.standardOutput = output
    process.standardError = errors
    let input = Pipe()
    process.standardInput = input
    try process.run()
    if let stdin { input.fileHandleForWriting.write(Data(stdin.utf8)) }
    try input.fileHandleForWriting.close()
    let out = output.fileHandleForReading.readDataToEndOfFile()
    let err = errors.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    guard process.terminationStatus == 0 else {
      throw MaterialError(
        description: "\(tool) \(arguments.joined(separator: " ")) failed: \(String(decoding: err, as: UTF8.self))")
    }
    return String(decoding: out, as: UTF8.self)
  }

  /// The samples of any audio file, as 16 kHz mono float, from `start` for `length` seconds.
  public static func decode(_ path: String, start: Double = 0, length: Double? = nil) throws -> [Float] {
    let name = (path as NSString).lastPathComponent
    let raw = directory + "/\(name).\(Int(start * 1000))-\(Int((length ?? 0) * 1000)).f32"
    try cached(raw) { temporary in
      var arguments = ["-hide_banner", "-loglevel", "error", "-y", "-ss", "\(start)"]
      if let length { arguments += ["-t", "\(length)"] }
      arguments += ["-i", path, "-ac", "1", "-ar", "\(sampleRate)", "-f", "f32le", temporary]
      try run("ffmpeg", arguments)
    }
    let data = try Data(contentsOf: URL(fileURLWithPath: raw))
    return data.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
  }

  /// Writes float samples as a 16 kHz mono WAV (for jobs) through ffmpeg.
  public static func writeWAV(_ samples: [Float], to path: String, sampleRate: Int = 16000) throws {
    let raw = path + ".f32"
    try samples.withUnsafeBufferPointer { Data(buffer: $0) }.write(to: URL(fileURLWithPath: raw))
    try run(
      "ffmpeg",
      [
        "-hide_banner", "-loglevel", "error", "-y", "-f", "f32le", "-ar", "16000", "-ac", "1", "-i", raw,
        "-ar", "\(sampleRate)", "-c:a", "pcm_s16le", path,
      ])
    try? FileManager.default.removeItem(atPath: raw)
  }

  // MARK: Speech

  /// A synthetic voice: which program and settings speak.
  public struct Voice: Sendable, Hashable, CustomStringConvertible {
    public var program: String
    public var name: String
    public var pitch: Int
    public var description: String { "\(program):\(name)\(program == "espeak-ng" ? " pitch \(pitch)" : "")" }

    public static func espeak(_ name: String, pitch: Int = 50) -> Voice {
      Voice(program: "espeak-ng", name: name, pitch: pitch)
    }
    public static func festival(_ name: String) -> Voice { Voice(program: "festival", name: name, pitch: 0) }
  }

  /// Distinct voices: espeak-ng's male and female variants at other pitches and accents, and festival's two.
  public static let voices: [Voice] = [
    .espeak("en-us+m3", pitch: 35), .espeak("en-gb+f3", pitch: 70), .festival("voice_kal_diphone"),
    .festival("voice_cmu_us_slt_arctic_hts"), .espeak("en-gb-scotland+m7", pitch: 50),
    .espeak("en-us+f4", pitch: 85),
  ]

  /// Sentences for the voices to read (written for these tests).
  public static let sentences = [
    "The ferry leaves the harbour at seven, and the first passengers are already waiting on the pier.",
    "Please check the loudness of every file before you send the final mix to the broadcaster.",
    "We measured the tempo of each song twice, once by hand and once with the new tool.",
    "Nobody expected the storm to arrive so early, so the market closed before noon.",
    "Her grandfather built the small wooden boat that still sails across the lake every summer.",
    "If the microphone is too far away, the room itself starts to sound louder than the voice.",
    "They talked about the schedule for an hour and then decided to meet again on Thursday.",
    "A good recording starts with a quiet room, a steady hand and a little patience.",
  ]

  /// `text` spoken by `voice`, trimmed of the silence the synthesizer adds at either end.
  public static func speech(_ text: String, voice: Voice) throws -> [Float] {
    let key = digest("\(voice)|\(text)")
    let wav = directory + "/speech-\(key).wav"
    try cached(wav) { temporary in
      if voice.program == "espeak-ng" {
        try run("espeak-ng", ["-v", voice.name, "-p", "\(voice.pitch)", "-s", "165", "-w", temporary, text])
      } else {
        let textFile = temporary + ".txt"
        defer { try? FileManager.default.removeItem(atPath: textFile) }
        try Data(text.utf8).write(to: URL(fileURLWithPath: textFile))
        try run("text2wave", ["-eval", "(\(voice.name))", "-o", temporary, textFile])
      }
    }
    return trimmed(try decode(wav))
  }

  /// `samples` without leading and trailing stretches under -50 dBFS (10 ms frames).
  public static func trimmed(_ samples: [Float]) -> [Float] {
    let frame = 160
    let count = samples.count / frame
    func loud(_ f: Int) -> Bool {
      var energy: Float = 0
      for i in (f * frame)..<((f + 1) * frame) { energy += samples[i] * samples[i] }
      return energy / Float(frame) > 1e-5
    }
    guard let first = (0..<count).first(where: loud), let last = (0..<count).last(where: loud) else { return [] }
    return Array(samples[(first * frame)..<min(samples.count, (last + 1) * frame)])
  }

  // MARK: Music

  /// The soundtrack files of `hyperrogue-music`.
  public static func soundtrack() throws -> [String] {
    let folder = "/usr/share/hyperrogue/music"
    guard let names = try? FileManager.default.contentsOfDirectory(atPath: folder), !names.isEmpty else {
      throw MaterialError(description: "\(folder) is missing: install hyperrogue-music (make test does)")
    }
    return names.filter { $0.hasSuffix(".ogg") }.sorted().map { folder + "/" + $0 }
  }

  /// The General MIDI soundfont of `fluid-soundfont-gm`.
  public static let soundfont = "/usr/share/sounds/sf2/FluidR3_GM.sf2"

  /// A note of a MIDI file, in beats.
  public struct Note: Sendable {
    public var channel: UInt8
    public var pitch: UInt8
    public var velocity: UInt8
    public var start: Double
    public var length: Double
    public init(channel: UInt8, pitch: UInt8, velocity: UInt8, start: Double, length: Double) {
      (self.channel, self.pitch, self.velocity, self.start, self.length) = (channel, pitch, velocity, start, length)
    }
  }

  /// A standard MIDI file (format 0, 480 ticks a beat) at `bpm` with `programs` per channel.
  public static func midiFile(bpm: Double, programs: [UInt8: UInt8], notes: [Note]) -> [UInt8] {
    func variable(_ value: Int) -> [UInt8] {
      var bytes = [UInt8(value & 0x7F)]
      var rest = value >> 7
      while rest > 0 {
        bytes.insert(UInt8(rest & 0x7F) | 0x80, at: 0)
        rest >>= 7
      }
      return bytes
    }
    var events: [(tick: Int, order: Int, bytes: [UInt8])] = []
    let micros = Int((60_000_000 / bpm).rounded())
    events.append(
      (0, 0, [0xFF, 0x51, 0x03, UInt8(micros >> 16 & 0xFF), UInt8(micros >> 8 & 0xFF), UInt8(micros & 0xFF)]))
    for (channel, program) in programs.sorted(by: { $0.key < $1.key }) {
      events.append((0, 1, [0xC0 | channel, program]))
    }
    for note in notes {
      let on = Int((note.start * 480).rounded())
      let off = Int(((note.start + note.length) * 480).rounded())
      events.append((on, 3, [0x90 | note.channel, note.pitch, note.velocity]))
      events.append((off, 2, [0x80 | note.channel, note.pitch, 0]))
    }
    events.sort { ($0.tick, $0.order) < ($1.tick, $1.order) }
    var track: [UInt8] = []
    var last = 0
    for event in events {
      track += variable(event.tick - last) + event.bytes
      last = event.tick
    }
    track += [0x00, 0xFF, 0x2F, 0x00]
    func be32(_ v: Int) -> [UInt8] {
      [UInt8(v >> 24 & 0xFF), UInt8(v >> 16 & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v & 0xFF)]
    }
    return Array("MThd".utf8) + be32(6) + [0, 0, 0, 1, 0x01, 0xE0] + Array("MTrk".utf8) + be32(track.count) + track
  }

  /// `notes` rendered by fluidsynth with the General MIDI soundfont, as 16 kHz mono float.
  public static func render(name: String, bpm: Double, programs: [UInt8: UInt8], notes: [Note]) throws -> [Float] {
    let midi = midiFile(bpm: bpm, programs: programs, notes: notes)
    let wav = directory + "/\(name)-\(String(sha256Hex(midi).prefix(16))).wav"
    try cached(wav) { temporary in
      let mid = temporary + ".mid"
      defer { try? FileManager.default.removeItem(atPath: mid) }
      try Data(midi).write(to: URL(fileURLWithPath: mid))
      try run("fluidsynth", ["-ni", "-g", "0.8", "-r", "22050", "-F", temporary, soundfont, mid])
    }
    return try decode(wav)
  }

  /// A groove at `bpm`: drums on every beat (kick on 1 and 3, snare on 2 and 4, hi-hat on each beat), a bass
  /// on each beat and chords a bar long, I-vi-IV-V in C major, for `bars` bars.
  public static func groove(bpm: Double, bars: Int, chordProgram: UInt8 = 0, name: String? = nil) throws -> [Float] {
    try render(
      name: name ?? "groove-\(Int(bpm))-\(chordProgram)", bpm: bpm, programs: [0: chordProgram, 1: 33],
      notes: grooveNotes(bars: bars))
  }

  /// The notes of `groove`, in beats; with `eighths`, the hi-hat also plays between the beats, softer.
  public static func grooveNotes(bars: Int, eighths: Bool = false) -> [Note] {
    var notes: [Note] = []
    let roots: [UInt8] = [48, 45, 41, 43]
    let qualities: [[UInt8]] = [[0, 4, 7], [0, 3, 7], [0, 4, 7], [0, 4, 7]]
    for bar in 0..<bars {
      let t = Double(bar * 4)
      let root = roots[bar % 4]
      for pitch in qualities[bar % 4] {
        notes.append(Note(channel: 0, pitch: root + 12 + pitch, velocity: 70, start: t, length: 3.9))
      }
      for beat in 0..<4 {
        let b = t + Double(beat)
        notes.append(Note(channel: 1, pitch: root - 12, velocity: 90, start: b, length: 0.8))
        notes.append(Note(channel: 9, pitch: beat % 2 == 0 ? 36 : 38, velocity: 110, start: b, length: 0.2))
        notes.append(Note(channel: 9, pitch: 42, velocity: 70, start: b, length: 0.1))
        if eighths { notes.append(Note(channel: 9, pitch: 42, velocity: 50, start: b + 0.5, length: 0.1)) }
      }
    }
    return notes
  }

  /// Pitch-class names as `/media/analyze/music` spells keys.
  public static let pitchNames = ["C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B"]

  /// A cadence in a key: I-IV-V7-I (minor: i-iv-V7-i, harmonic minor) as piano chords over a bass, then the
  /// scale up and the tonic chord, at 100 BPM.
  public static func cadence(tonic: Int, minor: Bool) throws -> [Float] {
    try render(
      name: "key-\(tonic)-\(minor ? "minor" : "major")", bpm: 100, programs: [0: 0, 1: 32],
      notes: cadenceNotes(tonic: tonic, minor: minor))
  }

  /// The notes of `cadence`, in beats (14 beats).
  public static func cadenceNotes(tonic: Int, minor: Bool) -> [Note] {
    let scale = minor ? [0, 2, 3, 5, 7, 8, 11] : [0, 2, 4, 5, 7, 9, 11]
    let third: UInt8 = minor ? 3 : 4
    let chords: [[UInt8]] = [[0, third, 7], [5, 5 + (minor ? 3 : 4), 12], [7, 11, 14, 17], [0, third, 7]]
    let base = UInt8(60 + (tonic > 6 ? tonic - 12 : tonic))
    var notes: [Note] = []
    for (i, chord) in chords.enumerated() {
      for p in chord {
        notes.append(Note(channel: 0, pitch: base + p, velocity: 80, start: Double(i * 2), length: 1.9))
      }
      notes.append(Note(channel: 1, pitch: base - 24 + chord[0] % 12, velocity: 90, start: Double(i * 2), length: 1.9))
    }
    for (i, step) in (scale + [12]).enumerated() {
      notes.append(Note(channel: 0, pitch: base + UInt8(step), velocity: 85, start: 8 + Double(i) * 0.5, length: 0.5))
    }
    for p in [0, third, 7, 12] { notes.append(Note(channel: 0, pitch: base + p, velocity: 80, start: 12, length: 2)) }
    return notes
  }

  /// Pieces (notes in beats at their own tempo) rendered one after another in one fluidsynth run (the
  /// soundfont loads once), each starting on a whole second after the last one's end and a second's gap;
  /// answers each piece's samples.
  public static func renderBatch(
    name: String, programs: [UInt8: UInt8], pieces: [(bpm: Double, beats: Double, notes: [Note])]
  ) throws -> [[Float]] {
    // At 60 BPM a beat is a second: each piece's beats become seconds at its own tempo.
    var all: [Note] = []
    var starts: [(start: Double, length: Double)] = []
    var at = 0.0
    for piece in pieces {
      let scale = 60 / piece.bpm
      for note in piece.notes {
        all.append(
          Note(
            channel: note.channel, pitch: note.pitch, velocity: note.velocity, start: at + note.start * scale,
            length: note.length * scale))
      }
      let length = piece.beats * scale
      starts.append((at, length))
      at = (at + length + 1).rounded(.up)
    }
    let samples = try render(name: name, bpm: 60, programs: programs, notes: all)
    return starts.map { piece in
      let first = Int(piece.start * Double(sampleRate))
      let last = min(samples.count, Int((piece.start + piece.length) * Double(sampleRate)))
      return first < last ? Array(samples[first..<last]) : []
    }
  }

  // MARK: Mixing

  /// RMS level of `samples` in dBFS.
  public static func level(_ samples: [Float]) -> Double {
    guard !samples.isEmpty else { return -120 }
    let energy = samples.reduce(0.0) { $0 + Double($1) * Double($1) } / Double(samples.count)
    return 10 * log10(energy + 1e-12)
  }

  /// `samples` scaled to `dbfs` RMS.
  public static func scaled(_ samples: [Float], to dbfs: Double) -> [Float] {
    let gain = Float(pow(10, (dbfs - level(samples)) / 20))
    return samples.map { $0 * gain }
  }

  /// `samples` cut or padded with silence to a whole number of `unit` seconds.
  public static func padded(_ samples: [Float], toMultipleOf unit: Double) -> [Float] {
    let step = Int(unit * Double(sampleRate))
    let length = (samples.count + step - 1) / step * step
    return samples + [Float](repeating: 0, count: length - samples.count)
  }

  /// `a` + `b` sample by sample (the shorter padded with silence).
  public static func mixed(_ a: [Float], _ b: [Float]) -> [Float] {
    (0..<max(a.count, b.count)).map { (($0 < a.count) ? a[$0] : 0) + (($0 < b.count) ? b[$0] : 0) }
  }

  /// Pink noise (ffmpeg's anoisesrc) of `seconds`.
  public static func noise(seconds: Double, seed: Int = 1) throws -> [Float] {
    let wav = directory + "/noise-\(seed)-\(Int(seconds * 10)).wav"
    try cached(wav) { temporary in
      try run(
        "ffmpeg",
        [
          "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
          "anoisesrc=color=pink:seed=\(seed):amplitude=0.3:duration=\(seconds):sample_rate=16000", temporary,
        ])
    }
    return try decode(wav)
  }
}
