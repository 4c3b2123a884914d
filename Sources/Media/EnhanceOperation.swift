import AudioAnalysis
import CSpawn
import Foundation
import JSON
import Jobs
import Locations
import Problems

/// `POST /media/enhance`: fetch the input, clean and level it with ffmpeg, deliver it to the output.
public struct EnhanceOperation: JobOperation {
  public let path = "/media/enhance"
  let work: EnhanceWork

  public init(transfers: JobTransfers, tools: MediaTools) {
    work = EnhanceWork(transfers: transfers, tools: tools)
  }

  public func validate(_ request: JSONValue) throws(InvalidRequest) -> EnhanceSpec {
    let (input, output) = try MediaRequest.inputAndOutput(request)
    return EnhanceSpec(input: input, output: output, settings: try EnhanceSettings(request: request))
  }

  public func run(_ spec: EnhanceSpec, context: JobContext) throws -> String {
    try work.run(spec, context: context)
  }
}

struct EnhanceWork {
  let transfers: JobTransfers
  let tools: MediaTools

  /// How close to the target a result must land, LU.
  static let tolerance = 0.4

  func run(_ spec: EnhanceSpec, context: JobContext) throws -> String {
    let (input, output, settings) = (spec.input, spec.output, spec.settings)

    let inputFile = context.workDirectory + "/input"
    try transfers.fetch(input, field: "input", to: inputFile, context: context, share: 0...30)
    let info = try MediaSteps.probe(inputFile, tools: tools, context: context)
    let format = OutputFormat.choose(outputName: JobTransfers.fileName(of: output), inputFormat: info.formatName)
    let rate = EnhanceCommand.sampleRate(info: info, format: format)
    let span = Self.span(settings.region, info: info)
    let denoiser: EnhanceCommand.Denoiser? =
      settings.attenuationLimit == nil ? nil : tools.denoiser == nil ? .afftdn : .neural

    // The input's noise floor, speech level and hum, when a stage needs them (the neural denoiser's limit
    // over 20 dB follows the noise floor).
    var analysis: EnhanceAnalysis?
    if settings.humReduction || denoiser == .afftdn || settings.plosiveReduction != nil || settings.dynamicEQ == true
      || (denoiser == .neural && (settings.attenuationLimit ?? 0) > 20)
    {
      analysis = try analyze(inputFile, span: span, context: context)
    }
    let limit = EnhanceCommand.attenuationLimit(settings, analysis: analysis)

    // Speech, music and the rest (the classifier analyze uses), for music detection and dialog intelligence.
    var content: ContentAnalysis?
    if settings.musicDetection == true || settings.dialogIntelligence == true, let end = span.end,
      end - span.start >= ContentClassifier.hopSeconds
    {
      content = try ContentAnalysis.run(
        inputFile, from: span.start, to: end, tools: tools, context: context, share: 30...30, reports: false)
    }
    defer { content?.discard() }
    var musicSections = settings.musicDetection == true ? content?.sections(.music) ?? [] : []
    if denoiser == .neural, let model = tools.denoiser, !musicSections.isEmpty {
      musicSections = try heldMusic(musicSections, input: inputFile, from: span.start, model: model, context: context)
    }
    let music = musicSections.map { (span.start + $0.start)...(span.start + $0.end) }
    // Dialog intelligence: loudness over the speech only (times in the span's), when there is enough of it.
    // A momentary block counts when speech lies `speechMargin` either side of its middle: a section's edge
    // can be a hop off, and a block half in louder music would weigh in.
    var speech: (@Sendable (Double) -> Bool)?
    if settings.dialogIntelligence == true, let content, !content.sections(.speech).isEmpty,
      content.percentage(.speech) >= settings.speechThreshold ?? 15
    {
      let margin = Self.speechMargin
      speech = { t in content.isSpeech(at: t) && content.isSpeech(at: t - margin) && content.isSpeech(at: t + margin) }
    }

    // Pass 1: clean and measure, in pieces on all cores for long inputs.
    // A region is read as cut; without one the input is read to its end, whatever its header claims.
    let (cleans, before) = try clean(
      inputFile, info: info,
      chain: .enhance(settings, analysis: analysis, denoiser: denoiser, limit: limit, music: music),
      from: span.start, to: settings.region == nil ? nil : span.end, rate: rate, speech: speech, context: context)

    // Pass 2, checked: gain and limiter, measuring the encoded result as it is written; corrected once or
    // twice when it missed.
    let outputName = "output." + format.fileExtension
    let outputFile = context.workDirectory + "/" + outputName
    var (gain, ceiling) = EnhanceCommand.plan(measured: before, settings: settings)
    var after = before
    // The gain correction follows the measured slope (loudness per dB of gain): with the compressor before the
    // limiter a dB of gain brings less than a dB of loudness, and a plain step would stop short.
    var previous: (gain: Double, integrated: Double)?
    for round in 0..<4 {
      after = try finish(
        cleans: cleans, input: inputFile, output: outputName, gain: gain, ceiling: ceiling, info: info, format: format,
        span: span, speech: speech, context: context, share: round == 0 ? 60...80 : 80...84)
      let peak = settings.peakReference == .sample ? after.samplePeak : after.truePeak
      let peakOK = peak <= settings.peakLimit + 0.05
      let loudnessOK = settings.targetLevel.map { abs(after.integrated - $0) <= Self.tolerance } ?? true
      if peakOK && (loudnessOK || before.integrated <= -70) { break }
      if !peakOK { ceiling = (ceiling ?? settings.peakLimit) - (peak - settings.peakLimit) - 0.2 }
      if !loudnessOK, let target = settings.targetLevel {
        var slope = 1.0
        if let previous, abs(gain - previous.gain) > 0.05 {
          slope = min(max((after.integrated - previous.integrated) / (gain - previous.gain), 0.3), 1)
        }
        previous = (gain, after.integrated)
        gain += (target - after.integrated) / slope
      }
    }
    for clean in cleans { try? FileManager.default.removeItem(atPath: context.workDirectory + "/" + clean) }

    try transfers.deliver(
      file: outputFile, to: output, field: "output", contentType: format.contentType, context: context, share: 85...99)
    return Self.result(
      settings: settings, before: before, after: after, gain: gain, version: tools.version, denoiser: denoiser,
      analysis: analysis, span: span, limit: limit, musicConfidence: musicSections.map(\.confidence),
      music: music.map { $0.lowerBound - span.start...$0.upperBound - span.start },
      speechGated: speech != nil)
  }

  /// The span of the input processed (`input.region`, within the input), seconds; `end` nil: to the end of an
  /// input of unknown length.
  static func span(_ region: MediaRegion?, info: MediaInfo) -> (start: Double, end: Double?) {
    let total = info.duration ?? info.audioDuration
    guard let region else { return (0, total) }
    let end = [region.end, total].compactMap { $0 }.min()
    let start = min(region.start, end ?? region.start)
    return (start, end)
  }

  /// The analysis pass: a mono 48 kHz decode of the span streamed through `EnhanceAnalysis` (bounded memory).
  func analyze(_ input: String, span: (start: Double, end: Double?), context: JobContext) throws(JobFailure)
    -> EnhanceAnalysis
  {
    var arguments = ["-hide_banner", "-nostdin", "-nostats", "-loglevel", "error"]
    if span.start > 0 { arguments += ["-ss", EnhanceCommand.number(span.start)] }
    if let end = span.end { arguments += ["-t", EnhanceCommand.number(end - span.start)] }
    arguments +=
      MediaTools.safeInput + [
        "-i", input, "-map", "0:a:0", "-ac", "1", "-ar", "48000", "-c:a", "pcm_f32le", "-f", "f32le", "pipe:3",
      ]
    let decode = arguments
    let pipe = try PCMStream.pipe()
    let accumulator = EnhanceAnalysis.Accumulator(expectedSeconds: (span.end ?? 600) - span.start)
    let outcome = LockedBox<Result<ProcessRunner.Exit, JobFailure>?>(nil)
    let done = DispatchSemaphore(value: 0)
    Thread.detachNewThread { [tools] in
      defer { done.signal() }
      do throws(JobFailure) {
        let exit = try MediaSteps.ffmpeg(
          decode, tools: tools, duration: nil, context: context, share: 30...30, reports: false, fd3: pipe.write)
        outcome.withLock { $0 = .success(exit) }
      } catch {
        outcome.withLock { $0 = .failure(error) }
      }
    }
    PCMStream.read(pipe.read) { block in
      accumulator.feed(block)
      return true
    }
    done.wait()
    if case .failure(let error)? = outcome.withLock({ $0 }) { throw error }
    return accumulator.result()
  }

  /// The denoiser's check of the classifier's music sections: a second of music is left unprocessed only when
  /// the model takes at least `musicRemoval` dB out of it, as it does to music (10-59 dB on almost every half
  /// second of six soundtrack excerpts; a few at 4-6) and not to speech under noise (0.4-6 dB on the half
  /// seconds with speech in them, at 0-10 dB SNR). The classifier takes speech under loud pink noise for
  /// music, and music detection would leave it noisy: each section is trimmed from both ends, a second at a
  /// time, while its end second sounds like speech to the model, and dropped when nothing is left. At most
  /// `musicCheckBudget` seconds are checked per job (the sections after that are taken as classified).
  func heldMusic(
    _ sections: [ContentSection], input: String, from start: Double, model: DeepFilter, context: JobContext
  ) throws(JobFailure) -> [ContentSection] {
    let name = "music-check.f32"
    defer { try? FileManager.default.removeItem(atPath: context.workDirectory + "/" + name) }
    var budget = Self.musicCheckBudget
    // The dB the model takes out of `length` seconds from `from` (the span's time); nil past the budget.
    func removed(_ from: Double, _ length: Double) throws(JobFailure) -> Double? {
      guard budget > 0 else { return nil }
      budget -= length
      try MediaSteps.ffmpeg(
        [
          "-hide_banner", "-nostdin", "-y", "-nostats", "-loglevel", "error", "-ss",
          EnhanceCommand.number(start + from),
        ]
          + ["-t", EnhanceCommand.number(length)] + MediaTools.safeInput + [
            "-i", input, "-map", "0:a:0", "-ac", "1", "-ar", String(DeepFilter.sampleRate), "-c:a", "pcm_f32le", "-f",
            "f32le", name,
          ], tools: tools, duration: nil, context: context, share: 30...30, reports: false, in: context.workDirectory)
      let data = FileManager.default.contents(atPath: context.workDirectory + "/" + name) ?? Data()
      let removed: Double
      do {
        removed = try Self.removedDecibels(data.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }, model: model)
      } catch {
        throw JobFailure(.internalError, "the denoiser could not start: \(error)", retry: true)
      }
      try context.checkCancelled()
      return removed
    }
    var kept: [ContentSection] = []
    for section in sections {
      guard budget > 0 else {
        kept.append(section)
        continue
      }
      if let trimmed = try Self.trimmed(section, removed: removed) { kept.append(trimmed) }
    }
    return kept
  }

  /// `section` trimmed a second at a time from either end while `removed(from, 1)` (the dB the denoiser
  /// takes out of that second; nil: no more checking) is under `musicRemoval`; nil when under a second is left
  /// (too short to tell, and to crossfade).
  static func trimmed<E: Error>(
    _ section: ContentSection, removed: (Double, Double) throws(E) -> Double?
  ) throws(E) -> ContentSection? {
    var low = section.start
    var high = section.end
    while high - low >= 1, let r = try removed(low, 1), r < musicRemoval { low += 1 }
    while high - low >= 1, let r = try removed(high - 1, 1), r < musicRemoval { high -= 1 }
    guard high - low >= 1 else { return nil }
    var trimmed = section
    trimmed.start = low
    trimmed.duration = high - low
    return trimmed
  }

  /// The dB the neural denoiser (no limit) takes out of `samples` (48 kHz mono); infinity for digital silence
  /// (nothing to clean: as good as music).
  static func removedDecibels(_ samples: [Float], model: DeepFilter) throws(DeepFilter.LoadError) -> Double {
    let channel = try DeepFilterChannel(model, limit: 100)
    var out: [Float] = []
    out.reserveCapacity(samples.count)
    for sample in samples { channel.feed(sample, into: &out) }
    channel.finish(into: &out)
    let before = samples.reduce(0.0) { $0 + Double($1) * Double($1) }
    let after = out.reduce(0.0) { $0 + Double($1) * Double($1) }
    guard before > 1e-9 else { return .infinity }
    return 10 * log10(before / max(after, 1e-12))
  }

  /// Seconds of the classifier's music `heldMusic` checks per job, at most.
  static let musicCheckBudget = 120.0

  /// How much (dB) the denoiser must take out of a section the classifier calls music for it to be left
  /// unprocessed (`heldMusic`).
  static let musicRemoval = 8.0

  /// How far speech must reach either side of a momentary block's middle for dialog intelligence to count it,
  /// seconds: a classifier hop (a section's edge can be that far off) and half the 400 ms block.
  static let speechMargin = ContentClassifier.hopSeconds + 0.2

  /// Later pieces of pass 1 start this much early: the noise reduction's estimate, the high-pass and the 3 s
  /// short-term loudness window settle before their own part begins.
  static let warmUp = 3.0

  /// Pass 1: the cleaned audio as float WAVs (plain names in the work directory, in order) and its loudness,
  /// combined exactly from the pieces' series and peaks.
  /// What pass 1 runs: enhance's chain (its settings, the input's analysis, the denoiser: the neural one runs
  /// in Ferry, between a decoding ffmpeg and the measuring one), or any filter chain in one ffmpeg
  /// (mastering's profiles; an empty chain only measures and converts).
  /// (`limit`: the denoiser's attenuation limit for this input; `music`: the sections, in the input's time,
  /// that skip the pre-filters and the denoiser.)
  enum CleanChain {
    case enhance(
      EnhanceSettings, analysis: EnhanceAnalysis?, denoiser: EnhanceCommand.Denoiser?, limit: Double? = nil,
      music: [ClosedRange<Double>] = [])
    case filters([String])
  }

  /// Pass 1 over the input from `from` to `to` seconds (nil: to its end, read whole whatever its header
  /// claims), its work files named `<prefix>-<piece>.wav`; progress goes to `share` (nil: none, for passes run
  /// side by side). Without `truePeak` the sample peak stands in for the true peak (the caller checks what it
  /// encoded instead). With `speech` (dialog intelligence: true for a time from `from` that lies in speech), the
  /// integrated loudness is the speech's alone.
  func clean(
    _ input: String, info: MediaInfo, chain: CleanChain, from: Double = 0, to: Double? = nil, rate: Int,
    prefix: String = "clean", share: ClosedRange<Int>? = 30...60, truePeak: Bool = true,
    speech: ((Double) -> Bool)? = nil, context: JobContext
  ) throws(JobFailure) -> (cleans: [String], measured: LoudnessSummary) {
    // An input of unknown length is one piece (from to from: `whole` reads it to its end).
    let end = to ?? max(from, info.duration ?? info.audioDuration ?? 0)
    let pieces = MediaPieces.split(from: from, to: end, warmUp: Self.warmUp)
    let inputRate = info.sampleRate ?? 48000
    let channels = min(max(info.channels ?? 2, 1), MediaTools.maxChannels)
    let outputs = try MediaPieces.run(pieces) { piece throws(JobFailure) -> (String, String, Double, Double) in
      let clean = "\(prefix)-\(piece.index).wav"
      let log = "\(prefix)-\(piece.index).txt"
      // The whole input in one piece is read to its end, whatever its header claims.
      let whole = pieces.count == 1 && to == nil
      let start = piece.from == 0 ? nil : piece.from
      let length = whole ? nil : piece.to - piece.from
      let duration = whole ? info.duration : piece.to - piece.from
      // Only the first piece reports progress (they run at the same pace).
      let reports = piece.index == 0 && share != nil
      let exit: ProcessRunner.Exit
      switch chain {
      case .enhance(let settings, let analysis, let denoiser, let limit, let music)
      where denoiser == .neural || !music.isEmpty:
        var filter: DeepFilter?
        if denoiser == .neural {
          guard let model = tools.denoiser, limit != nil else {
            throw JobFailure(.internalError, "the neural denoiser was chosen without a model or a limit")
          }
          filter = model
        }
        // afftdn, with music to skip, runs in the decoding ffmpeg (before the music is mixed back).
        exit = try denoise(
          input, start: start, length: length, channels: channels, filter: filter, limit: limit ?? 100,
          settings: settings, analysis: analysis, music: music, afftdn: denoiser == .afftdn, duration: duration,
          reports: reports, context: context,
          measure: EnhanceCommand.cleanArguments(
            input: input, start: nil, length: nil, warm: piece.warm, inputRate: inputRate, clean: clean, log: log,
            settings: settings, rate: rate, analysis: analysis, denoiser: nil, raw: channels))
      case .enhance(let settings, let analysis, let denoiser, _, _):
        exit = try MediaSteps.ffmpeg(
          EnhanceCommand.cleanArguments(
            input: input, start: start, length: length, warm: piece.warm, inputRate: inputRate, clean: clean,
            log: log, settings: settings, rate: rate, analysis: analysis, denoiser: denoiser),
          tools: tools, duration: duration, context: context, share: reports ? share! : 0...0, reports: reports,
          in: context.workDirectory)
      case .filters(let filters):
        exit = try MediaSteps.ffmpeg(
          EnhanceCommand.cleanArguments(
            input: input, start: start, length: length, warm: piece.warm, inputRate: inputRate, clean: clean,
            log: log, filters: filters, rate: rate, truePeak: truePeak),
          tools: tools, duration: duration, context: context, share: reports ? share! : 0...0, reports: reports,
          in: context.workDirectory)
      }
      guard let samplePeak = EnhanceCommand.reportedPeak(exit.stderr, filter: "sp"),
        let truePeak = truePeak ? EnhanceCommand.reportedPeak(exit.stderr, filter: "tp") : samplePeak
      else {
        throw JobFailure(.processingFailed, "the input's loudness could not be measured")
      }
      return (clean, context.workDirectory + "/" + log, samplePeak, truePeak)
    }
    // The logs stream from their files (a long input's are tens of megabytes: never held whole).
    var momentary: [Double] = []
    var speechMomentary: [Double] = []
    var shortTerm: [Double] = []
    for (piece, output) in zip(pieces, outputs) {
      MetadataLog.forEachFrame(inFile: output.1) { frame in
        guard piece.keeps(piece.from + frame.time) else { return }
        if let m = frame.values["lavfi.r128.M"] {
          momentary.append(m)
          // As analyze gates: the block's middle, 200 ms before its end.
          if let speech, speech(piece.from + frame.time - 0.2 - from) { speechMomentary.append(m) }
        }
        if let s = frame.values["lavfi.r128.S"] { shortTerm.append(s) }
      }
      try? FileManager.default.removeItem(atPath: output.1)
    }
    let measured = LoudnessSummary(
      integrated: LoudnessMath.integrated(speechMomentary.isEmpty ? momentary : speechMomentary),
      range: LoudnessMath.range(shortTerm),
      samplePeak: outputs.map(\.2).max() ?? -.infinity, truePeak: outputs.map(\.3).max() ?? -.infinity)
    return (outputs.map(\.0), measured)
  }

  /// One piece through the neural denoiser: a decoding ffmpeg (`decodeArguments`) writes 48 kHz float PCM to
  /// a pipe, each channel runs through its own DeepFilterNet3 state here (latency trimmed, so sample n out is
  /// sample n in), and the measuring ffmpeg (`measure`, `cleanArguments` with `raw`) reads the result on stdin.
  /// A block at a time: memory stays bounded whatever the length.
  ///
  /// Without `filter` the denoiser is not neural (afftdn, when `afftdn`, runs in the decoding ffmpeg) and this
  /// only mixes the music back: with `music` sections (music detection) the decoder sends each channel twice,
  /// processed and untouched, and the music sections take the untouched samples (`MusicBypass`).
  func denoise(
    _ input: String, start: Double?, length: Double?, channels: Int, filter: DeepFilter?, limit: Double,
    settings: EnhanceSettings, analysis: EnhanceAnalysis?, music: [ClosedRange<Double>] = [], afftdn: Bool = false,
    duration: Double?, reports: Bool, context: JobContext, measure: [String]
  ) throws(JobFailure) -> ProcessRunner.Exit {
    _ = PCMStream.ignoreBrokenPipes
    var states: [DeepFilterChannel] = []
    if let filter {
      do {
        for _ in 0..<channels {
          states.append(try DeepFilterChannel(filter, limit: limit, isolation: settings.speechIsolation))
        }
      } catch {
        throw JobFailure(.internalError, "the denoiser could not start: \(error)", retry: true)
      }
    }
    let bypass = !music.isEmpty
    // Samples per frame on the decoder's pipe.
    let width = bypass ? channels * 2 : channels
    let decoded = try PCMStream.pipe()
    let cleaned: (read: Int32, write: Int32)
    do {
      cleaned = try PCMStream.pipe()
    } catch {
      close(decoded.read)
      close(decoded.write)
      throw error
    }
    let decode = EnhanceCommand.decodeArguments(
      input: input, start: start, length: length, channels: channels, settings: settings, analysis: analysis,
      bypass: bypass, denoiser: afftdn ? .afftdn : nil)
    let outcomes = LockedBox<[Int: Result<ProcessRunner.Exit, JobFailure>]>([:])
    let group = DispatchGroup()
    for (index, arguments) in [decode, measure].enumerated() {
      group.enter()
      Thread.detachNewThread { [tools] in
        defer { group.leave() }
        do throws(JobFailure) {
          let exit = try MediaSteps.ffmpeg(
            arguments, tools: tools, duration: duration, context: context, share: 30...60,
            reports: reports && index == 0, in: context.workDirectory,
            fd3: index == 0 ? decoded.write : nil, stdin: index == 1 ? cleaned.read : nil)
          outcomes.withLock { $0[index] = .success(exit) }
        } catch {
          outcomes.withLock { $0[index] = .failure(error) }
        }
      }
    }
    var writing = true
    var out: [[Float]] = Array(repeating: [], count: channels)
    // The untouched samples (music detection), from the first not yet sent.
    var untouched: [[Float]] = Array(repeating: [], count: channels)
    var mixer = MusicBypass(music)
    var sent = 0
    let origin = start ?? 0
    func send() {
      let count = out.map(\.count).min() ?? 0
      guard count > 0 else { return }
      var interleaved = [Float](repeating: 0, count: count * channels)
      var shares: [Float] = []
      if bypass {
        shares = (0..<count).map {
          mixer.processedShare(at: origin + Double(sent + $0) / Double(DeepFilter.sampleRate))
        }
      }
      for c in 0..<channels {
        out[c].withUnsafeBufferPointer { channel in
          if bypass {
            untouched[c].withUnsafeBufferPointer { dry in
              for i in 0..<count { interleaved[i * channels + c] = shares[i] * channel[i] + (1 - shares[i]) * dry[i] }
            }
            untouched[c].removeFirst(count)
          } else {
            for i in 0..<count { interleaved[i * channels + c] = channel[i] }
          }
        }
        out[c].removeFirst(count)
      }
      sent += count
      if writing { writing = PCMStream.write(cleaned.write, interleaved) }
    }
    var held: [Float] = []
    PCMStream.read(decoded.read) { block in
      var samples = block
      if !held.isEmpty {
        samples = held + block
        held.removeAll()
      }
      let whole = samples.count / width * width
      if whole < samples.count { held = Array(samples[whole...]) }
      samples.withUnsafeBufferPointer { buffer in
        for c in 0..<channels {
          var i = c
          if states.isEmpty {
            while i < whole {
              out[c].append(buffer[i])
              i += width
            }
          } else {
            let state = states[c]
            while i < whole {
              state.feed(buffer[i], into: &out[c])
              i += width
            }
          }
          if bypass {
            i = c + channels
            while i < whole {
              untouched[c].append(buffer[i])
              i += width
            }
          }
        }
      }
      send()
      // The measuring ffmpeg gone (failed or cancelled): stop reading, so the decoder stops too.
      return writing
    }
    if writing {
      for (c, state) in states.enumerated() { state.finish(into: &out[c]) }
      send()
    }
    close(cleaned.write)
    group.wait()
    for index in [0, 1] {
      if case .failure(let error)? = outcomes.withLock({ $0[index] }) { throw error }
    }
    guard case .success(let exit)? = outcomes.withLock({ $0[1] }) else {
      throw JobFailure(.internalError, "the denoiser's ffmpeg did not report", retry: true)
    }
    return exit
  }

  /// Pass 2 and the measurement of what it wrote: while ffmpeg encodes, a second ffmpeg measures the encoded
  /// audio it streams down a pipe; formats without a streamable muxer are measured afterwards.
  func finish(
    cleans: [String], input: String, output: String, gain: Double, ceiling: Double?, info: MediaInfo,
    format: OutputFormat, span: (start: Double, end: Double?) = (0, nil), limiter: LimiterTiming = .enhance,
    compress: Bool = true, reports: Bool = true, streamPCMCheck: Bool = false,
    speech: (@Sendable (Double) -> Bool)? = nil, context: JobContext, share: ClosedRange<Int>
  ) throws(JobFailure) -> LoudnessSummary {
    let duration = span.end.map { $0 - span.start } ?? info.duration
    let outputFile = context.workDirectory + "/" + output
    guard let check = EnhanceCommand.checkMuxer(for: format, pcm: streamPCMCheck) else {
      try MediaSteps.ffmpeg(
        EnhanceCommand.finishArguments(
          cleans: cleans, input: input, output: output, gain: gain, ceiling: ceiling, info: info, format: format,
          video: span, limiter: limiter, compress: compress),
        tools: tools, duration: duration, context: context, share: share, reports: reports,
        in: context.workDirectory)
      guard let speech else { return try MediaSteps.measure(outputFile, tools: tools, context: context) }
      return try measureSpeech(outputFile, speech: speech, context: context)
    }
    var pipe: [Int32] = [-1, -1]
    guard ferry_pipe_cloexec(&pipe) == 0 else {
      throw JobFailure(.internalError, "cannot make a pipe", retry: true)
    }
    let checker = ProcessRunner()
    let registration = context.onCancel { checker.cancel() }
    defer { registration.cancel() }
    let measured = LockedBox<LoudnessSummary?>(nil)
    let checked = DispatchSemaphore(value: 0)
    let readEnd = pipe[0]
    let directory = context.workDirectory
    Thread.detachNewThread { [tools] in
      defer { checked.signal() }
      guard
        let exit = try? checker.run(
          tools.ffmpeg,
          EnhanceCommand.checkArguments(demuxer: check.demuxer, log: speech == nil ? nil : Self.speechLog),
          in: directory, stdin: readEnd),
        exit.status == 0
      else { return }
      measured.withLock { $0 = LoudnessSummary.parse(exit.stderr).map { Self.gated($0, directory, speech) } }
    }
    do throws(JobFailure) {
      try MediaSteps.ffmpeg(
        EnhanceCommand.finishArguments(
          cleans: cleans, input: input, output: output, gain: gain, ceiling: ceiling, info: info, format: format,
          video: span, check: check.muxer, limiter: limiter, compress: compress),
        tools: tools, duration: duration, context: context, share: share, reports: reports,
        in: context.workDirectory, fd3: pipe[1])
    } catch {
      checker.cancel()
      checked.wait()
      throw error
    }
    checked.wait()
    // A check that could not measure (it should not happen) is made again from the file.
    if let summary = measured.withLock({ $0 }) { return summary }
    context.logger.warning("the streamed check of an enhance result failed; measuring the file")
    guard let speech else { return try MediaSteps.measure(outputFile, tools: tools, context: context) }
    return try measureSpeech(outputFile, speech: speech, context: context)
  }

  /// A result's loudness with its integrated figure over the speech alone (dialog intelligence).
  func measureSpeech(_ path: String, speech: @escaping (Double) -> Bool, context: JobContext) throws(JobFailure)
    -> LoudnessSummary
  {
    let runner = ProcessRunner()
    let registration = context.onCancel { runner.cancel() }
    defer { registration.cancel() }
    let exit: ProcessRunner.Exit
    do {
      exit = try runner.run(
        tools.ffmpeg,
        ["-hide_banner", "-nostdin", "-nostats", "-loglevel", "info"] + MediaTools.safeInput + [
          "-i", path, "-map", "0:a:0", "-af", EnhanceCommand.speechLoudnessFilter(log: Self.speechLog), "-f", "null",
          "-",
        ], in: context.workDirectory)
    } catch {
      throw JobFailure(.internalError, "ffmpeg could not be run: \(error)", retry: true)
    }
    try context.checkCancelled()
    guard exit.status == 0, let summary = LoudnessSummary.parse(exit.stderr) else {
      throw JobFailure(.processingFailed, "the result's loudness could not be measured")
    }
    return Self.gated(summary, context.workDirectory, speech)
  }

  /// The momentary loudness log of a speech-gated check (a plain name in the work directory).
  static let speechLog = "speech-loudness.txt"

  /// `summary` with its integrated loudness over the momentary blocks (the `speechLog` in `directory`) whose
  /// middle (200 ms before their end, as analyze gates) lies in speech; unchanged without `speech` or without
  /// such blocks. The log is removed.
  static func gated(_ summary: LoudnessSummary, _ directory: String, _ speech: ((Double) -> Bool)?)
    -> LoudnessSummary
  {
    guard let speech else { return summary }
    let log = directory + "/" + speechLog
    defer { try? FileManager.default.removeItem(atPath: log) }
    var blocks: [Double] = []
    MetadataLog.forEachFrame(inFile: log) { frame in
      if let m = frame.values["lavfi.r128.M"], speech(frame.time - 0.2) { blocks.append(m) }
    }
    guard !blocks.isEmpty else { return summary }
    var gated = summary
    gated.integrated = LoudnessMath.integrated(blocks)
    return gated
  }

  static func result(
    settings: EnhanceSettings, before: LoudnessSummary, after: LoudnessSummary, gain: Double, version: String,
    denoiser: EnhanceCommand.Denoiser? = nil, analysis: EnhanceAnalysis? = nil,
    span: (start: Double, end: Double?) = (0, nil), limit: Double? = nil, musicConfidence: [Double] = [],
    music: [ClosedRange<Double>] = [],
    speechGated: Bool = false
  ) -> String {
    func figures(_ s: LoudnessSummary) -> JSONValue {
      func rounded(_ v: Double) -> JSONValue { v.isFinite ? .double((v * 10).rounded() / 10) : .null }
      return .object([
        "integrated": rounded(s.integrated), "range": rounded(s.range), "sample_peak": rounded(s.samplePeak),
        "true_peak": rounded(s.truePeak),
      ])
    }
    var applied: [String: JSONValue] = [
      "content_type": .string(settings.contentType), "gain_db": .double((gain * 10).rounded() / 10),
      "peak_limit": .double(settings.peakLimit), "peak_reference": .string(settings.peakReference.rawValue),
    ]
    if let target = settings.targetLevel { applied["target_level"] = .double(target) }
    if let reduction = settings.noiseReduction { applied["noise_reduction_db"] = .double(reduction) }
    if let frequency = settings.highPass { applied["high_pass_hz"] = .double(frequency) }
    if settings.humReduction {
      applied["hum_reduction"] = .bool(true)
      // What the analysis found: the mains frequency and the harmonics notched, or null (none found).
      applied["hum_hz"] = analysis?.humFundamental.map { .double($0) } ?? .null
      if let harmonics = analysis?.humHarmonics, analysis?.humFundamental != nil {
        applied["hum_harmonics"] = .array(harmonics.map { .int($0) })
      }
    }
    if let denoiser {
      applied["denoiser"] = .string(denoiser.rawValue)
      if let limit = limit ?? settings.attenuationLimit {
        applied["attenuation_limit_db"] = limit >= 100 ? .null : .double(limit)
      }
      if denoiser == .afftdn, let analysis { applied["noise_floor_db"] = .double(analysis.noiseFloor) }
    }
    if let isolation = settings.speechIsolation { applied["speech_isolation"] = .double(isolation) }
    if let amount = settings.clickReduction { applied["click_reduction"] = .double(amount) }
    if let amount = settings.plosiveReduction { applied["plosive_reduction"] = .double(amount) }
    if settings.dynamicEQ == true { applied["dynamic_eq"] = .bool(true) }
    if settings.musicDetection == true {
      // The music sections left unprocessed (seconds from the span's start).
      func r(_ v: Double) -> JSONValue { .double((v * 1000).rounded() / 1000) }
      applied["music_sections"] = .array(
        music.enumerated().map { index, section in
          var fields = ["start": r(section.lowerBound), "end": r(section.upperBound)]
          if index < musicConfidence.count {
            fields["confidence"] = .double((musicConfidence[index] * 100).rounded() / 100)
          }
          return .object(fields)
        })
    }
    if settings.dialogIntelligence == true {
      // Whose loudness the target was met on: the speech's, or the whole (too little speech found).
      applied["gating_mode"] = .string(speechGated ? "speech" : "level")
    }
    if settings.region != nil {
      func r(_ v: Double) -> JSONValue { .double((v * 1000).rounded() / 1000) }
      applied["region"] = .object(["start": r(span.start), "end": span.end.map(r) ?? .null])
    }
    return JSONValue.object([
      "processing": .object(applied),
      "loudness": .object(["before": figures(before), "after": figures(after)]),
      "version": .string(version),
    ]).description
  }
}
