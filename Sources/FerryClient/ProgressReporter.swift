import Foundation

/// Shows a client run's progress on stderr: on a terminal a single line redrawn with `\r`, elsewhere a plain
/// line at each phase change and every few seconds while something moves. Rates and elapsed time are
/// computed here, from the clock it is given.
public final class ProgressReporter {
  public enum Mode: Sendable {
    /// A live bar, `width` columns wide.
    case bar(width: Int)
    /// Plain lines, at most one per `interval` seconds within a phase.
    case lines(interval: Double)
    /// Nothing (`--quiet`).
    case off
  }

  public let mode: Mode
  private let write: (String) -> Void
  private let now: () -> Double
  private let start: Double

  /// The snapshot last shown.
  private var shown: ProgressSnapshot?
  private var lastShown: Double = -.infinity
  private var barOnScreen = false
  /// Where the current phase's byte count started, for its rate.
  private var phaseStart: (phase: String, time: Double, bytes: Int64)?

  public init(
    mode: Mode, write: @escaping (String) -> Void,
    now: @escaping () -> Double = { ProcessInfo.processInfo.systemUptime }
  ) {
    self.mode = mode
    self.write = write
    self.now = now
    start = now()
  }

  /// The mode for stderr: a bar on a terminal (as wide as it is), plain lines elsewhere.
  public static func mode(quiet: Bool) -> Mode {
    if quiet { return .off }
    guard isatty(STDERR_FILENO) == 1 else { return .lines(interval: 5) }
    var size = winsize()
    if ioctl(STDERR_FILENO, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 0 { return .bar(width: Int(size.ws_col)) }
    if let columns = ProcessInfo.processInfo.environment["COLUMNS"].flatMap(Int.init), columns > 0 {
      return .bar(width: columns)
    }
    return .bar(width: 80)
  }

  /// Reports where the run is; the reporter decides whether and how to show it.
  public func update(
    stage: ProgressSnapshot.Stage, phase: String, percent: Int? = nil, bytesDone: Int64? = nil,
    bytesTotal: Int64? = nil
  ) {
    let time = now()
    var snapshot = ProgressSnapshot(
      stage: stage, phase: phase, percent: percent, bytesDone: bytesDone, bytesTotal: bytesTotal,
      elapsed: time - start)
    if let bytesDone {
      if phaseStart?.phase != phase || bytesDone < phaseStart!.bytes { phaseStart = (phase, time, bytesDone) }
      let seconds = time - phaseStart!.time
      // A rate over less than a moment is noise, except for the last report of a transfer.
      if seconds >= 0.2 || (percent == 100 && seconds > 0) {
        snapshot.rate = Double(bytesDone - phaseStart!.bytes) / seconds
      }
    } else {
      phaseStart = nil
    }
    switch mode {
    case .off: return
    case .bar(let width):
      // Redrawn at most ten times a second (curl reports far more often), and at once when something shows.
      let changed = shown?.phase != phase || shown?.percent != percent
      guard changed || time - lastShown >= 0.1 else { return }
      if let shown, shown.stage != stage, barOnScreen { write("\n") }
      write("\r" + ProgressFormat.bar(snapshot, width: width) + "\u{1B}[K")
      barOnScreen = true
    case .lines(let interval):
      let newPhase = shown?.phase != phase
      let finished = percent == 100 && shown?.percent != 100
      let moved = shown?.percent != percent || shown?.bytesDone != bytesDone
      guard newPhase || finished || (moved && time - lastShown >= interval) else { return }
      write(ProgressFormat.line(snapshot) + "\n")
    }
    shown = snapshot
    lastShown = time
  }

  /// A message on a line of its own (`job 7c1d... submitted`), below a bar already drawn; the next update
  /// starts a new bar.
  public func note(_ text: String) {
    if case .off = mode { return }
    finish()
    write(text + "\n")
  }

  /// Ends the bar's line, so what follows starts on a fresh one.
  public func finish() {
    if case .bar = mode, barOnScreen {
      write("\n")
      barOnScreen = false
    }
  }
}
