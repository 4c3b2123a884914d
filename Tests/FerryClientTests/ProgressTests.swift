import Testing

@testable import FerryClient

/// A clock the test moves by hand.
private final class ManualClock {
  var now = 100.0
}

@Suite struct ProgressFormatTests {
  @Test func barFitsTheTerminalAndShowsPhasePercentRateAndElapsed() {
    let snapshot = ProgressSnapshot(
      stage: .upload, phase: "upload talk.wav", percent: 40, bytesDone: 800_000, bytesTotal: 2_000_000,
      rate: 12_500_000, elapsed: 3.4)
    let bar = ProgressFormat.bar(snapshot, width: 80)
    #expect(bar == "upload talk.wav      [#############--------------------]  40%   12.5 MB/s  0:03")
    #expect(bar.count == 79, "the whole width but the last column, which would wrap")
    for width in [20, 40, 60, 100, 200] {
      #expect(ProgressFormat.bar(snapshot, width: width).count <= width - 1, "width \(width)")
    }
  }

  @Test func barClampsPercentAndShortensLongPhases() {
    let long = ProgressSnapshot(stage: .job, phase: String(repeating: "x", count: 60), percent: 130, elapsed: 61)
    let bar = ProgressFormat.bar(long, width: 60)
    #expect(bar.contains("~ ["))
    #expect(bar.hasSuffix("] 100%              1:01"), "a blank rate column")
    #expect(!bar.contains("-"), "over 100% fills the bar, no more")
  }

  @Test func plainLinesSayTheSameInWords() {
    #expect(
      ProgressFormat.line(ProgressSnapshot(stage: .job, phase: "queued", percent: 0, elapsed: 0.2))
        == "[0:00] queued 0%")
    let transfer = ProgressSnapshot(
      stage: .download, phase: "download out.mp3", percent: 50, bytesDone: 1_500, bytesTotal: 3_000, rate: 2_000,
      elapsed: 75)
    #expect(ProgressFormat.line(transfer) == "[1:15] download out.mp3 50% (1.5 kB of 3.0 kB, 2.0 kB/s)")
  }

  @Test func unitsAndClock() {
    #expect(ProgressFormat.bytes(950) == "950 B")
    #expect(ProgressFormat.bytes(1_234_567) == "1.2 MB")
    #expect(ProgressFormat.bytes(456_000_000) == "456 MB")
    #expect(ProgressFormat.rate(.infinity) == "0 B/s")
    #expect(ProgressFormat.clock(7) == "0:07")
    #expect(ProgressFormat.clock(754) == "12:34")
    #expect(ProgressFormat.clock(3723) == "1:02:03")
  }
}

@Suite struct ProgressReporterTests {
  @Test func linesAppearAtPhaseChangesAndAtMostEveryIntervalWithin() {
    let clock = ManualClock()
    var out: [String] = []
    let reporter = ProgressReporter(mode: .lines(interval: 5), write: { out.append($0) }, now: { clock.now })
    reporter.update(stage: .job, phase: "queued", percent: 0)
    clock.now += 1
    reporter.update(stage: .job, phase: "processing", percent: 10)
    clock.now += 1
    reporter.update(stage: .job, phase: "processing", percent: 20)
    clock.now += 5
    reporter.update(stage: .job, phase: "processing", percent: 60)
    clock.now += 6
    reporter.update(stage: .job, phase: "processing", percent: 60)
    reporter.update(stage: .job, phase: "done", percent: 100)
    #expect(out == ["[0:00] queued 0%\n", "[0:01] processing 10%\n", "[0:07] processing 60%\n", "[0:13] done 100%\n"])
  }

  @Test func aFinishedTransferGetsItsLineWithTheRate() {
    let clock = ManualClock()
    var out: [String] = []
    let reporter = ProgressReporter(mode: .lines(interval: 5), write: { out.append($0) }, now: { clock.now })
    reporter.update(stage: .upload, phase: "upload a.wav", percent: 0, bytesDone: 0, bytesTotal: 4_000_000)
    clock.now += 2
    reporter.update(stage: .upload, phase: "upload a.wav", percent: 100, bytesDone: 4_000_000, bytesTotal: 4_000_000)
    #expect(out.last == "[0:02] upload a.wav 100% (4.0 MB, 2.0 MB/s)\n")
  }

  @Test func theBarIsRedrawnInPlaceAtMostTenTimesASecond() {
    let clock = ManualClock()
    var out: [String] = []
    let reporter = ProgressReporter(mode: .bar(width: 60), write: { out.append($0) }, now: { clock.now })
    reporter.update(stage: .upload, phase: "upload a.wav", percent: 0, bytesDone: 0, bytesTotal: 100)
    clock.now += 0.01
    reporter.update(stage: .upload, phase: "upload a.wav", percent: 0, bytesDone: 1, bytesTotal: 100)
    #expect(out.count == 1, "nothing changed on screen within 0.1 s")
    reporter.update(stage: .upload, phase: "upload a.wav", percent: 100, bytesDone: 100, bytesTotal: 100)
    reporter.note("job j submitted")
    reporter.update(stage: .job, phase: "queued", percent: 0)
    reporter.finish()
    #expect(out.count == 6)
    #expect(out[0].hasPrefix("\rupload a.wav") && out[0].hasSuffix("\u{1B}[K"))
    #expect(out[1].contains("100%"))
    #expect(out[2] == "\n", "the note keeps the finished bar")
    #expect(out[3] == "job j submitted\n")
    #expect(out[4].hasPrefix("\rqueued"))
    #expect(out[5] == "\n")
  }

  @Test func quietShowsNothing() {
    var out: [String] = []
    let reporter = ProgressReporter(mode: .off, write: { out.append($0) })
    reporter.update(stage: .job, phase: "queued", percent: 0)
    reporter.note("job j submitted")
    reporter.finish()
    #expect(out.isEmpty)
  }
}
