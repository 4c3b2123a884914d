import Foundation

/// One moment of a client run as the progress display shows it.
public struct ProgressSnapshot: Equatable, Sendable {
  /// The part of the run: sending IN, the job on the server, receiving OUT. A new stage starts a new line.
  public enum Stage: String, Sendable {
    case upload, job, download
  }

  public var stage: Stage
  /// What is happening, as shown: `upload talk.wav`, `queued`, `processing`, `download out.mp3`.
  public var phase: String
  public var percent: Int?
  public var bytesDone: Int64?
  public var bytesTotal: Int64?
  /// Bytes per second over the phase so far.
  public var rate: Double?
  /// Seconds since the command started.
  public var elapsed: Double

  public init(
    stage: Stage, phase: String, percent: Int? = nil, bytesDone: Int64? = nil, bytesTotal: Int64? = nil,
    rate: Double? = nil, elapsed: Double = 0
  ) {
    self.stage = stage
    self.phase = phase
    self.percent = percent
    self.bytesDone = bytesDone
    self.bytesTotal = bytesTotal
    self.rate = rate
    self.elapsed = elapsed
  }
}

/// The two renderings of a snapshot: a single-line bar for terminals and a plain line for logs and pipes.
public enum ProgressFormat {
  /// `upload talk.wav   [########------------]  40%  12.5 MB/s  0:03`, fitted to `width` columns.
  public static func bar(_ snapshot: ProgressSnapshot, width: Int) -> String {
    let columns = max(20, width) - 1  // the last column would wrap on some terminals
    let percent = snapshot.percent.map { String(min(100, max(0, $0))) + "%" } ?? "?"
    var right = " " + String(repeating: " ", count: max(0, 4 - percent.count)) + percent
    // The rate has a column of its own, blank without one, so that the bars of one run line up.
    let rate = snapshot.rate.map { Self.rate($0) } ?? ""
    right += "  " + String(repeating: " ", count: max(0, 10 - rate.count)) + rate + "  " + clock(snapshot.elapsed)
    var phase = snapshot.phase
    let phaseRoom = max(8, columns / 3)
    if phase.count > phaseRoom { phase = String(phase.prefix(phaseRoom - 1)) + "~" }
    // Padded so that the bars of one run (upload, job, download) line up for ordinary file names.
    phase += String(repeating: " ", count: max(0, min(20, phaseRoom) - phase.count))
    let barRoom = min(40, columns - phase.count - right.count - 3)
    guard barRoom >= 5 else { return String((phase + right).prefix(columns)) }
    let filled = (snapshot.percent.map { min(100, max(0, $0)) } ?? 0) * barRoom / 100
    let bar = String(repeating: "#", count: filled) + String(repeating: "-", count: barRoom - filled)
    return phase + " [" + bar + "]" + right
  }

  /// `[0:03] upload talk.wav 40% (0.8 of 2.0 MB, 12.5 MB/s)`.
  public static func line(_ snapshot: ProgressSnapshot) -> String {
    var text = "[\(clock(snapshot.elapsed))] \(snapshot.phase)"
    if let percent = snapshot.percent { text += " \(percent)%" }
    var details: [String] = []
    if let done = snapshot.bytesDone {
      if let total = snapshot.bytesTotal, total > 0, done < total {
        details.append("\(bytes(done)) of \(bytes(total))")
      } else {
        details.append(bytes(done))
      }
    }
    if let rate = snapshot.rate { details.append(Self.rate(rate)) }
    if !details.isEmpty { text += " (" + details.joined(separator: ", ") + ")" }
    return text
  }

  /// Decimal units, one decimal below 100 (`950 B`, `1.5 kB`, `12.3 MB`, `120 MB`).
  public static func bytes(_ count: Int64) -> String {
    let units = ["B", "kB", "MB", "GB", "TB"]
    var value = Double(max(0, count))
    var unit = 0
    while value >= 1000 && unit < units.count - 1 {
      value /= 1000
      unit += 1
    }
    if unit == 0 { return "\(Int(value)) B" }
    return (value < 100 ? String(format: "%.1f", value) : String(Int(value.rounded()))) + " " + units[unit]
  }

  /// `12.3 MB/s`.
  public static func rate(_ bytesPerSecond: Double) -> String {
    bytes(Int64(bytesPerSecond.isFinite ? bytesPerSecond : 0)) + "/s"
  }

  /// `0:07`, `12:34`, `1:02:03`.
  public static func clock(_ seconds: Double) -> String {
    let total = Int(max(0, seconds.isFinite ? seconds : 0))
    let (h, m, s) = (total / 3600, total / 60 % 60, total % 60)
    let mm = h > 0 && m < 10 ? "0\(m)" : "\(m)"
    let ss = s < 10 ? "0\(s)" : "\(s)"
    return h > 0 ? "\(h):\(mm):\(ss)" : "\(mm):\(ss)"
  }
}
