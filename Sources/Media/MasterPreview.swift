import Foundation
import Jobs
import Problems

/// A preview's outputs made together, in as few ffmpeg processes as the cores allow: a 30 s segment's work is
/// small, and on this machine each ffmpeg costs about 0.07 CPU-s just to start. Pass 1 runs every output's
/// profile in one ffmpeg per core (the segment decoded once per process, `asplit` into the chains, outputs with
/// the same dynamics at the same intensity sharing the multiband compressor, each measured as in
/// `EnhanceWork.clean`); pass 2 runs gain, limiter and encoder with the result measured in the same process
/// when the output is PCM (one process per core; the measured samples are the ones written: the graph
/// converts to the encoder's sample format before the split), and through enhance's streamed check otherwise
/// (a lossy output is measured as decoded).
extension MasterWork {
  /// One output's pass-1 plan in a shared process.
  struct PreviewChain: Sendable {
    var index: Int
    var filters: [String]
    var rate: Int
    var clean: String
    var log: String
  }

  /// The outputs, and the input segment's true peak when `inputTruePeak` asks for it (measured beside pass 1,
  /// off the serial path: the loudness before it only needs the segment's integrated loudness).
  func makePreview(
    _ spec: MasterSpec, input: String, info: MediaInfo, from: Double, to: Double?, span: Double, staging: Double,
    inputTruePeak: Bool, context: JobContext
  ) throws(JobFailure) -> (made: [Made], inputTruePeak: Double?) {
    let outputs = spec.outputs
    let channels = info.channels ?? 2
    let chains = outputs.enumerated().map { index, output in
      PreviewChain(
        index: index, filters: MasterCommand.filters(output.settings, staging: staging, channels: channels),
        rate: output.kind.sampleRate(input: info.sampleRate), clean: "master-\(index)-0.wav",
        log: "master-\(index)-0.txt")
    }
    // Pass 1: one process per core. Outputs whose chains begin alike (the same dynamics at the same intensity)
    // go together and share that part (`MasterCommand.sharedPrefix`); the clusters are dealt out by cost,
    // the largest first, to the process with the least work.
    var clusters: [[PreviewChain]] = []
    for chain in chains {
      let key = MasterCommand.sharedPrefix(chain.filters)
      if let key, let at = clusters.firstIndex(where: { MasterCommand.sharedPrefix($0[0].filters) == key }) {
        clusters[at].append(chain)
      } else {
        clusters.append([chain])
      }
    }
    // A multiband stage costs about twice what an output's equaliser and measurement cost.
    func cost(_ cluster: [PreviewChain]) -> Int {
      (MasterCommand.sharedPrefix(cluster[0].filters) == nil ? 0 : 2) + cluster.count
    }
    let groups = min(MediaPieces.maxPieces, clusters.count)
    var assigned = [[PreviewChain]](repeating: [], count: groups)
    var load = [Int](repeating: 0, count: groups)
    for cluster in clusters.sorted(by: { cost($0) > cost($1) }) {
      let lightest = load.indices.min { load[$0] < load[$1] } ?? 0
      assigned[lightest] += cluster
      load[lightest] += cost(cluster)
    }
    // The lightest process last: the input's true peak goes with it.
    let grouped = assigned.indices.sorted { load[$0] > load[$1] }.map { assigned[$0] }
    let pieces = grouped.indices.map { MediaPiece(index: $0, from: 0, keepFrom: 0, to: 0, isLast: $0 == groups - 1) }
    let measuredGroups = try MediaPieces.run(pieces) { [self] piece throws(JobFailure) -> [(Int, LoudnessSummary)] in
      let group = grouped[piece.index]
      let withPeak = inputTruePeak && piece.isLast
      let arguments = MasterCommand.previewCleanArguments(
        input: input, start: from > 0 ? from : nil, length: to.map { $0 - from }, chains: group,
        truePeak: withPeak)
      let exit = try MediaSteps.ffmpeg(
        arguments, tools: tools, duration: span, context: context, share: 22...60, reports: piece.index == 0,
        in: context.workDirectory)
      var results: [(Int, LoudnessSummary)] = []
      if withPeak {
        guard let peak = MasterCommand.summary(exit.stderr, instance: "ebur128@in")?.truePeak else {
          throw JobFailure(.processingFailed, "the input's true peak could not be measured")
        }
        results.append((-1, LoudnessSummary(integrated: -70, range: 0, samplePeak: peak, truePeak: peak)))
      }
      return try results
        + group.map { chain throws(JobFailure) -> (Int, LoudnessSummary) in
          var momentary: [Double] = []
          var shortTerm: [Double] = []
          let log = context.workDirectory + "/" + chain.log
          MetadataLog.forEachFrame(inFile: log) { frame in
            if let m = frame.values["lavfi.r128.M"] { momentary.append(m) }
            if let s = frame.values["lavfi.r128.S"] { shortTerm.append(s) }
          }
          try? FileManager.default.removeItem(atPath: log)
          // No peaks in pass 1: pass 2 always limits (when there is a chain) and measures what it wrote.
          return (
            chain.index,
            LoudnessSummary(
              integrated: LoudnessMath.integrated(momentary), range: LoudnessMath.range(shortTerm),
              samplePeak: -.infinity, truePeak: -.infinity)
          )
        }
    }
    var byIndex = [LoudnessSummary](
      repeating: LoudnessSummary(integrated: -70, range: 0, samplePeak: -.infinity, truePeak: -.infinity),
      count: chains.count)
    var truePeak: Double?
    for (index, summary) in measuredGroups.joined() {
      if index < 0 { truePeak = summary.truePeak } else { byIndex[index] = summary }
    }
    let measured = byIndex

    // Pass 2 with its check, corrected as `make` does: in each round the PCM outputs still to make share one
    // process per core, and every other output has its own (with enhance's streamed check).
    struct Plan {
      var format: OutputFormat
      var name: String
      var limiter: LimiterTiming
      var gain = 0.0
      var ceiling: Double?
      var after: LoudnessSummary
    }
    var plans = outputs.indices.map { index -> Plan in
      let output = outputs[index]
      let settings = output.settings
      let format = output.kind.format(inputCodec: info.audioCodec, bitDepth: info.audioBitDepth)
      var plan = Plan(
        format: format, name: "output-\(index).\(format.fileExtension)",
        limiter: settings.profile?.dynamics.limiter ?? .enhance, after: measured[index])
      if !chains[index].filters.isEmpty {
        let gain =
          settings.loudness
          ? (measured[index].integrated > -70 ? settings.targetLevel - measured[index].integrated : 0) : -staging
        plan.gain = min(max(gain, -40), 40)
        plan.ceiling = MasterCommand.peakLimit - 1
      }
      return plan
    }
    var pending = Array(outputs.indices)
    for round in 0..<3 where !pending.isEmpty {
      let pcm = pending.filter { MasterCommand.pcmSampleFormat(plans[$0].format) != nil }
      let pcmGroups = min(MediaPieces.maxPieces, pcm.count)
      let units: [[Int]] =
        (0..<pcmGroups).map { g in pcm.enumerated().filter { $0.offset % pcmGroups == g }.map(\.element) }
        + pending.filter { MasterCommand.pcmSampleFormat(plans[$0].format) == nil }.map { [$0] }
      let current = plans
      let unitPieces = units.indices.map {
        MediaPiece(index: $0, from: 0, keepFrom: 0, to: 0, isLast: $0 == units.count - 1)
      }
      let finished = try MediaPieces.run(unitPieces) { [self] piece throws(JobFailure) -> [(Int, LoudnessSummary)] in
        let unit = units[piece.index]
        let reports = piece.index == 0 && round == 0
        if unit.count == 1, MasterCommand.pcmSampleFormat(current[unit[0]].format) == nil {
          let index = unit[0]
          let plan = current[index]
          let after = try passes.finish(
            cleans: [chains[index].clean], input: input, output: plan.name, gain: plan.gain, ceiling: plan.ceiling,
            info: info, format: plan.format, span: (from, from + span), limiter: plan.limiter, compress: false,
            reports: reports, streamPCMCheck: true, context: context, share: 60...90)
          return [(index, after)]
        }
        let arguments = MasterCommand.previewFinishArguments(
          unit.map { index in
            let plan = current[index]
            return MasterCommand.PreviewFinish(
              index: index, clean: chains[index].clean, output: plan.name, gain: plan.gain, ceiling: plan.ceiling,
              format: plan.format, sampleFormat: MasterCommand.pcmSampleFormat(plan.format) ?? "s16",
              limiter: plan.limiter)
          })
        let exit = try MediaSteps.ffmpeg(
          arguments, tools: tools, duration: span, context: context, share: 60...90, reports: reports,
          in: context.workDirectory)
        return try unit.map { index throws(JobFailure) -> (Int, LoudnessSummary) in
          guard let summary = MasterCommand.summary(exit.stderr, instance: "ebur128@o\(index)") else {
            throw JobFailure(.processingFailed, "outputs[\(index)]: the result's loudness could not be measured")
          }
          return (index, summary)
        }
      }
      var next: [Int] = []
      for (index, after) in finished.joined() {
        plans[index].after = after
        let settings = outputs[index].settings
        if chains[index].filters.isEmpty { continue }
        let peakOK = after.truePeak <= MasterCommand.peakLimit + 0.05
        let loudnessOK = !settings.loudness || abs(after.integrated - settings.targetLevel) <= Self.tolerance
        if peakOK && (loudnessOK || measured[index].integrated <= -70) { continue }
        if !peakOK {
          plans[index].ceiling =
            (plans[index].ceiling ?? MasterCommand.peakLimit) - (after.truePeak - MasterCommand.peakLimit) - 0.2
        }
        if !loudnessOK { plans[index].gain += settings.targetLevel - after.integrated }
        next.append(index)
      }
      pending = next.sorted()
    }
    let made = outputs.indices.map { index -> Made in
      let plan = plans[index]
      let settings = outputs[index].settings
      try? FileManager.default.removeItem(atPath: context.workDirectory + "/" + chains[index].clean)
      if settings.loudness && !chains[index].filters.isEmpty && measured[index].integrated > -70
        && abs(plan.after.integrated - settings.targetLevel) > Self.tolerance
      {
        context.warn(
          "outputs[\(index)]: \(EnhanceCommand.number((plan.after.integrated * 10).rounded() / 10)) LUFS reached, not "
            + "the target \(EnhanceCommand.number(settings.targetLevel)) LUFS: louder would take the true peak past "
            + "\(EnhanceCommand.number(MasterCommand.peakLimit)) dBTP")
      }
      return Made(
        file: context.workDirectory + "/" + plan.name, format: plan.format, after: plan.after, gain: plan.gain)
    }
    return (made, truePeak)
  }
}

extension MasterCommand {
  /// A preview's pass 1 for several outputs in one ffmpeg: the input (from `start` for `length` seconds)
  /// decoded once and split into each output's chain (chains that begin alike share that beginning,
  /// `sharedPrefix`), each measured (momentary and short-term loudness to its metadata log) and written as a
  /// float WAV at its rate. No peaks: pass 2 limits and measures what it writes. Names are plain (ffmpeg runs
  /// in the work directory). With `truePeak`, the input's true peak too (`ebur128@in`, as the whole input's
  /// measurement reports it).
  static func previewCleanArguments(
    input: String, start: Double?, length: Double?, chains: [MasterWork.PreviewChain], truePeak: Bool = false
  ) -> [String] {
    var arguments = ["-hide_banner", "-nostdin", "-y", "-nostats", "-loglevel", "info", "-progress", "pipe:1"]
    if let start { arguments += ["-ss", EnhanceCommand.number(start)] }
    if let length { arguments += ["-t", EnhanceCommand.number(length)] }
    arguments += MediaTools.safeInput + ["-i", input]
    // Chains that begin alike run that beginning once and split after it.
    var shared: [(prefix: [String], members: [MasterWork.PreviewChain])] = []
    for chain in chains {
      if let prefix = sharedPrefix(chain.filters), let at = shared.firstIndex(where: { $0.prefix == prefix }) {
        shared[at].members.append(chain)
      } else {
        shared.append((sharedPrefix(chain.filters) ?? [], [chain]))
      }
    }
    var branches: [String] = []
    var graph: [String] = []
    for (prefix, members) in shared {
      if members.count > 1 {
        let head = "g\(members[0].index)"
        branches.append("[\(head)]")
        graph.append(
          "[\(head)]" + prefix.joined(separator: ",") + ",asplit=\(members.count)"
            + members.map { "[i\($0.index)]" }.joined())
      } else {
        branches.append("[i\(members[0].index)]")
      }
    }
    if truePeak { branches.append("[tp]") }
    graph.insert("[0:a:0]asplit=\(branches.count)" + branches.joined(), at: 0)
    if truePeak { graph.append("[tp]ebur128@in=peak=true:framelog=verbose,anullsink") }
    for (prefix, members) in shared {
      for chain in members {
        let k = chain.index
        let rest = members.count > 1 ? Array(chain.filters.dropFirst(prefix.count)) : chain.filters
        let measured =
          rest + ["ebur128=metadata=1", "ametadata=mode=print:file=\(AnalyzeCommand.quoted(chain.log))[w\(k)]"]
        graph.append("[i\(k)]" + measured.joined(separator: ","))
      }
    }
    arguments += ["-filter_complex", graph.joined(separator: ";")]
    for chain in chains {
      arguments += [
        "-map", "[w\(chain.index)]", "-ar", String(chain.rate), "-c:a", "pcm_f32le", "-f", "wav", chain.clean,
      ]
    }
    return arguments
  }

  /// The beginning of a pass-1 chain that other outputs can share: the staging gain and the multiband
  /// compressor (the same profile dynamics at the same intensity give the same filters, so the same samples);
  /// nil for a chain without a profile.
  static func sharedPrefix(_ filters: [String]) -> [String]? {
    guard filters.count >= 2, filters[1].hasPrefix("acrossover") else { return nil }
    return Array(filters.prefix(2))
  }

  /// The sample format a PCM output's encoder takes without converting (nil for other codecs).
  static func pcmSampleFormat(_ format: OutputFormat) -> String? {
    guard let codec = format.audioArguments.drop(while: { $0 != "-c:a" }).dropFirst().first else { return nil }
    switch codec {
    case "pcm_s16le": return "s16"
    case "pcm_s24le", "pcm_s32le": return "s32"
    case "pcm_f32le": return "flt"
    default: return nil
    }
  }

  /// One PCM output's pass 2 in a shared process.
  struct PreviewFinish: Sendable {
    var index: Int
    var clean: String
    var output: String
    var gain: Double
    var ceiling: Double?
    var format: OutputFormat
    var sampleFormat: String
    var limiter: LimiterTiming
  }

  /// A preview's pass 2 for PCM outputs, each measured in the same process: gain, limiter, conversion to the
  /// encoder's sample format, then a split to the encoder and to `ebur128@o<index>` (loudness and true peak,
  /// its summary on stderr). The encoder receives the measured samples as they are (24-bit keeps the top three
  /// bytes of the 32 measured).
  static func previewFinishArguments(_ finishes: [PreviewFinish]) -> [String] {
    var arguments = ["-hide_banner", "-nostdin", "-y", "-nostats", "-loglevel", "info", "-progress", "pipe:1"]
    for finish in finishes { arguments += MediaTools.safeInput + ["-i", finish.clean] }
    var graph: [String] = []
    for (input, finish) in finishes.enumerated() {
      let k = finish.index
      var chain = ["volume=\(EnhanceCommand.number(finish.gain))dB"]
      if let ceiling = finish.ceiling {
        chain.append(
          "alimiter=limit=\(EnhanceCommand.number(pow(10, ceiling / 20))):level=false:"
            + "attack=\(EnhanceCommand.number(finish.limiter.attack)):"
            + "release=\(EnhanceCommand.number(finish.limiter.release)):latency=1")
      }
      chain += ["aformat=sample_fmts=\(finish.sampleFormat)", "asplit=2[a\(k)][m\(k)]"]
      graph.append("[\(input):a:0]" + chain.joined(separator: ","))
      graph.append("[m\(k)]ebur128@o\(k)=peak=true+sample:framelog=verbose,anullsink")
    }
    arguments += ["-filter_complex", graph.joined(separator: ";")]
    for finish in finishes {
      arguments +=
        ["-map", "[a\(finish.index)]"] + finish.format.audioArguments + [
          "-vn", "-map_metadata", "-1", "-f", finish.format.muxer, finish.output,
        ]
    }
    return arguments
  }

  /// The summary of the `ebur128` instance named `instance` (`ebur128@name`) from ffmpeg's stderr: its last
  /// log block (ffmpeg may log an empty summary first, from a graph it configured and dropped).
  static func summary(_ stderr: String, instance: String) -> LoudnessSummary? {
    guard let marker = stderr.range(of: "[\(instance) @", options: .backwards) else { return nil }
    let rest = stderr[marker.upperBound...]
    let end = rest.range(of: "\n[")?.lowerBound ?? rest.endIndex
    return LoudnessSummary.parse(String(rest[..<end]))
  }
}
