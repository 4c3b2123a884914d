import Foundation
import TestSupport
import Testing

/// The `ferry` client subcommands as users run them: the real binary against a real `ferry serve` on
/// loopback, with media made by ffmpeg. Output, exit statuses, progress on pipes and on a terminal.
@Suite(.serialized) struct ClientCommandTests {
  /// Fast polling: the jobs here take a fraction of a second.
  static let poll = ["--poll-interval", "0.1"]

  @Test(.timeLimit(.minutes(2)))
  func analyze_printsALoudnessReportOrJSONWithPlainProgressLinesOnAPipe() throws {
    let harness = try ClientHarness(environment: ["FERRY_NETWORK_ALLOW": #"["127.0.0.0/8"]"#])
    let tone = try harness.tone("tone.wav", seconds: 3)

    let report = try harness.run(["analyze", tone] + Self.poll)
    #expect(report.status == 0, "\(report.stderr)")
    #expect(report.stdout.hasPrefix("tone.wav: 3.0 s, pcm_s16le 48000 Hz mono\n"), "\(report.stdout)")
    for row in [
      "Integrated loudness  -", "Loudness range", "True peak            -", "dBTP", "Clipping             none",
    ] {
      #expect(report.stdout.contains(row), "\(row) in \(report.stdout)")
    }
    #expect(report.stdout.contains("Silence              none"))
    // Not a terminal: plain lines, one per phase, no carriage returns or escape sequences.
    let lines = report.stderr.split(separator: "\n").map(String.init)
    #expect(
      lines.first?.range(of: #"^\[0:0\d\] upload tone\.wav 0% \(0 B\)$"#, options: .regularExpression) != nil,
      "\(lines)")
    #expect(
      lines.contains { $0.hasPrefix("[0:0") && $0.contains("upload tone.wav 100% (288 kB, ") && $0.hasSuffix("B/s)") })
    #expect(lines.contains { $0.range(of: #"^job [0-9a-f-]{36} submitted$"#, options: .regularExpression) != nil })
    #expect(lines.last?.hasSuffix("] done 100%") == true, "\(lines)")
    #expect(!report.stderr.contains("\r") && !report.stderr.contains("\u{1B}"))

    // --json prints the result; OUT receives it too.
    let out = harness.work + "/analysis.json"
    let json = try harness.run(["analyze", tone, out, "--json", "--quiet"] + Self.poll)
    #expect(json.status == 0, "\(json.stderr)")
    #expect(json.stderr.isEmpty, "--quiet: \(json.stderr)")
    let printed = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
    let region = try #require(printed["processed_region"] as? [String: Any])
    let loudness = try #require((region["audio"] as? [String: Any])?["loudness"] as? [String: Any])
    #expect((loudness["measured"] as? Double).map { $0 < -10 && $0 > -40 } == true)
    let written = try #require(FileManager.default.contents(atPath: out))
    #expect((try JSONSerialization.jsonObject(with: written) as? [String: Any])?["processed_region"] != nil)

    // A URL input is handed to the server as it is.
    let peer = try FaultServer { _, _ in .serve(body: Array(FileManager.default.contents(atPath: tone)!)) }
    defer { peer.stop() }
    let remote = try harness.run(["analyze", peer.base + "/media/tone.wav?v=feedface", "-q"] + Self.poll)
    #expect(remote.status == 0, "\(remote.stderr)")
    #expect(remote.stdout.hasPrefix("tone.wav: 3.0 s"))
    #expect(peer.requests.first?.target == "/media/tone.wav?v=feedface")
    #expect(!remote.all.contains("feedface"))
  }

  @Test(.timeLimit(.minutes(2)))
  func enhanceAndTranscode_writeTheirOutputToLocalFiles() throws {
    let harness = try ClientHarness()
    let tone = try harness.tone("talk.wav", seconds: 2)

    let mp3 = harness.work + "/talk-enhanced.mp3"
    let enhanced = try harness.run(
      ["enhance", tone, mp3, "--content-type", "podcast", "--target-level", "-16", "--noise-reduction", "low"]
        + Self.poll)
    #expect(enhanced.status == 0, "\(enhanced.stderr)")
    #expect(
      enhanced.stdout.range(
        of: #"^job [0-9a-f-]{36} succeeded: wrote .*/talk-enhanced\.mp3 \([0-9.]+ kB\)\n$"#, options: .regularExpression
      )
        != nil, "\(enhanced.stdout)")
    #expect(try ClientHarness.codec(of: mp3) == "mp3")
    let mode = try FileManager.default.attributesOfItem(atPath: mp3)[.posixPermissions] as? Int
    #expect(mode.map { $0 & 0o044 != 0 } == true, "an ordinary file, not the 0600 download")
    #expect(enhanced.stderr.contains("] download talk-enhanced.mp3 100% ("))
    #expect(
      try FileManager.default.contentsOfDirectory(atPath: harness.work).allSatisfy { !$0.hasSuffix(".part") },
      "the partial download was renamed into place")

    let ogg = harness.work + "/talk.ogg"
    let transcoded = try harness.run(
      ["transcode", tone, ogg, "--kind", "ogg", "--codec", "vorbis", "--bitrate", "96", "--channels", "1"] + Self.poll)
    #expect(transcoded.status == 0, "\(transcoded.stderr)")
    #expect(transcoded.stdout.contains("succeeded: wrote \(ogg) ("))
    #expect(try ClientHarness.codec(of: ogg) == "vorbis")
  }

  @Test(.timeLimit(.minutes(2)))
  func master_writesTheMasterAndPrintsTheLevels() throws {
    let harness = try ClientHarness()
    let tone = try harness.tone("song.wav", seconds: 2)
    let mp3 = harness.work + "/song-master.mp3"
    let mastered = try harness.run(["master", tone, mp3, "--preset", "d", "--intensity", "50"] + Self.poll)
    #expect(mastered.status == 0, "\(mastered.stderr)")
    #expect(mastered.stdout.contains("succeeded: wrote \(mp3) ("), "\(mastered.stdout)")
    #expect(mastered.stdout.contains("LUFS before, -14"), "\(mastered.stdout)")
    #expect(try ClientHarness.codec(of: mp3) == "mp3")
    let refused = try harness.run(["master", tone, mp3, "--preset", "z"])
    #expect(refused.status != 0 && refused.stderr.contains("--preset must be a letter from a to n"))
  }

  @Test(.timeLimit(.minutes(2)))
  func diagnoseAndJobs_printTheirTables() throws {
    let harness = try ClientHarness()
    let tone = try harness.tone("tone.wav", seconds: 2)

    let diagnosed = try harness.run(["diagnose", tone] + Self.poll)
    #expect(diagnosed.status == 0, "\(diagnosed.stderr)")
    for row in ["Quality score", "Noise score", "Clipping", "Loudness       -", "LUFS", "Silence"] {
      #expect(diagnosed.stdout.contains(row), "\(row) in \(diagnosed.stdout)")
    }
    let id = try #require(
      diagnosed.stderr.firstMatch(of: /job ([0-9a-f-]{36}) submitted/).map { String($0.1) })

    let listed = try harness.run(["jobs"])
    #expect(listed.status == 0, "\(listed.stderr)")
    let rows = listed.stdout.split(separator: "\n")
    #expect(rows.first?.hasPrefix("JOB ID ") == true)
    #expect(
      rows.contains { $0.hasPrefix(id) && $0.contains("diagnose") && $0.contains("Success") && $0.contains("100%") })

    let json = try harness.run(["jobs", "--json", "--status", "Success"])
    #expect(json.status == 0, "\(json.stderr)")
    let items = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [[String: Any]])
    #expect(items.map { $0["job_id"] as? String } == [id])
    let none = try harness.run(["jobs", "--status", "Failed"])
    #expect(none.stdout == "no jobs\n")
  }

  @Test(.timeLimit(.minutes(2)))
  func noWaitPrintsTheJobId_cancelEndsAWaitingClientWithStatus3_andCtrlCOnlyStopsWaiting() throws {
    // One worker, held by a long job: the waiting client's job stays queued until it is cancelled.
    let harness = try ClientHarness(environment: ["FERRY_WORKERS_CONCURRENCY": "1"])
    let long = try harness.tone("long.wav", seconds: 600, sampleRate: 8000)
    let short = try harness.tone("short.wav", seconds: 2)

    let submitted = try harness.run(["enhance", long, harness.work + "/long-out.wav", "--no-wait", "-q"])
    #expect(submitted.status == 0, "\(submitted.stderr)")
    let longID = submitted.stdout.trimmingCharacters(in: .newlines)
    #expect(longID.range(of: #"^[0-9a-f-]{36}$"#, options: .regularExpression) != nil, "\(submitted.stdout)")
    // The local OUT is not downloaded without waiting: stderr says where the result goes, even with -q.
    #expect(
      submitted.stderr.contains("will not be written; the result goes to dlb://ferry-cli/"), "\(submitted.stderr)")

    let waiting = try harness.start(["analyze", short] + Self.poll)
    defer { waiting.terminate() }
    let id = try Self.submittedID(waiting)
    let cancelled = try harness.run(["cancel", id])
    #expect(cancelled.status == 0, "\(cancelled.stderr)")
    #expect(cancelled.stdout == "job \(id): Cancelled\n")
    #expect(waiting.waitForExit(timeout: 20) == 3)
    #expect(ClientHarness.read(waiting.logPath).contains("ferry: job \(id) was cancelled"))
    #expect(waiting.output.isEmpty)

    // Ctrl-C stops waiting, not the job, and says how to stop it and where the local OUT's result goes.
    let interrupted = try harness.start(["enhance", short, harness.work + "/interrupted.wav"] + Self.poll)
    defer { interrupted.terminate() }
    let queuedID = try Self.submittedID(interrupted)
    interrupted.send(SIGINT)
    #expect(interrupted.waitForExit(timeout: 20) == 130)
    #expect(
      ClientHarness.read(interrupted.logPath).contains(
        "ferry: stopped waiting; job \(queuedID) keeps running (ferry cancel \(queuedID) stops it)\nthe result goes to dlb://ferry-cli/"
      ), "\(ClientHarness.read(interrupted.logPath))")
    #expect(try harness.run(["cancel", queuedID]).stdout == "job \(queuedID): Cancelled\n")

    let stopped = try harness.run(["cancel", longID])
    #expect(stopped.status == 0, "\(stopped.stderr)")
    #expect(stopped.stdout.hasPrefix("job \(longID): "))
  }

  /// The job id a waiting client announced on stderr (within 15 s).
  static func submittedID(_ client: FerryProcess) throws -> String {
    for _ in 0..<300 {
      if let id = ClientHarness.read(client.logPath).firstMatch(of: /job ([0-9a-f-]{36}) submitted/) {
        return String(id.1)
      }
      usleep(50_000)
    }
    throw RawHTTPClient.ClientError(description: "no job submitted: \(ClientHarness.read(client.logPath))")
  }

  @Test(.timeLimit(.minutes(2)))
  func exitStatuses_tellScriptsWhatWentWrong_andNoSecretIsPrinted() throws {
    let harness = try ClientHarness()
    let tone = try harness.tone("tone.wav", seconds: 2)
    let garbage = harness.work + "/not-media.wav"
    try Data("hello, not a wav".utf8).write(to: URL(fileURLWithPath: garbage))
    var runs: [ClientRun] = []
    func check(_ arguments: [String], _ status: Int32, _ message: String, environment: [String: String] = [:]) throws {
      let job = !["cancel", "jobs"].contains(arguments[0])
      let run = try harness.run(arguments + (job ? Self.poll : []), environment: environment)
      #expect(run.status == status, "\(arguments): \(run.stderr)")
      #expect(run.stderr.contains(message), "\(arguments): \(run.stderr)")
      runs.append(run)
    }

    try check(["enhance", garbage, harness.work + "/o.wav"], 2, "ended Failed: /problems/unsupported-media")
    try check(["analyze", tone], 64, "no app key", environment: ["FERRY_APP_KEY": ""])
    try check(["analyze", tone, "--secret", "wrong-secret"], 77, "the server refused the credentials")
    let closed = "http://127.0.0.1:\(ClientHarness.closedPort())"
    try check(["analyze", tone, "--server", closed], 69, "cannot reach the server")
    try check(["analyze", harness.work + "/missing.wav"], 66, "missing.wav: no such file")
    try check(["transcode", tone, harness.work + "/o.mp3", "--codec", "opus"], 4, #"outputs[0].audio.codec: "opus""#)
    try check(["transcode", tone, harness.work + "/o.xyz"], 64, "pass --kind")
    try check(["enhance", tone, harness.work + "/o.wav", "--noise-reduction", "loud"], 64, "--noise-reduction")
    try check(["cancel", "00000000-0000-0000-0000-000000000000"], 4, "no such job")
    try check(["analyze", tone, "--timeout", "0.001"], 5, "keeps running")
    try check(
      ["enhance", tone, harness.work + "/late.wav", "--timeout", "0.001"], 5, "; the result goes to dlb://ferry-cli/")

    let help = try harness.run(["help", "analyze"])
    #expect(help.status == 0)
    for line in ["FERRY_APP_SECRET", "69  the server cannot be reached", "77  the app key or secret was refused"] {
      #expect(help.stdout.contains(line), "\(line) in \(help.stdout)")
    }
    for run in runs + [help] {
      #expect(!run.all.contains(ClientHarness.secret))
      #expect(!run.all.contains("/storage/v1/"), "no pre-signed URL")
      #expect(!run.all.contains("Bearer") && !run.all.contains("eyJ"), "no token")
    }
  }

  @Test(
    .timeLimit(.minutes(2)),
    .enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/script"), "util-linux script gives the pty"))
  func onATerminal_aSingleLineBarIsRedrawnInPlace() throws {
    let harness = try ClientHarness()
    let tone = try harness.tone("tone.wav", seconds: 2)
    let out = harness.work + "/out.wav"
    let command = ([FerryProcess.binary, "enhance", tone, out] + Self.poll).map { "'\($0)'" }.joined(separator: " ")
    let captured = harness.work + "/terminal.txt"
    FileManager.default.createFile(atPath: captured, contents: nil)
    let script = Process()
    script.executableURL = URL(fileURLWithPath: "/usr/bin/script")
    script.arguments = ["-q", "-e", "-c", command, "/dev/null"]
    var environment = harness.environment
    environment["PATH"] = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
    environment["COLUMNS"] = "100"
    environment["TERM"] = "xterm"
    script.environment = environment
    script.standardInput = FileHandle.nullDevice
    script.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: captured))
    script.standardError = FileHandle.nullDevice
    try script.run()
    let deadline = Date().addingTimeInterval(60)
    while script.isRunning && Date() < deadline { usleep(20_000) }
    if script.isRunning {
      kill(script.processIdentifier, SIGKILL)
      script.waitUntilExit()
      Issue.record("ferry under script did not end")
    }
    #expect(script.terminationStatus == 0)
    let screen = ClientHarness.read(captured)
    // Redrawn in place: carriage returns and erase-to-end-of-line, a bar per stage, no plain progress lines.
    // (A pty turns "\n" into "\r\n", which Swift reads as one Character.)
    let draws = screen.replacingOccurrences(of: "\u{1B}[K", with: "")
      .split(whereSeparator: { $0 == "\r" || $0 == "\n" || $0 == "\r\n" }).map(String.init)
    #expect(screen.components(separatedBy: "\u{1B}[K").count > 4, "\(screen.debugDescription)")
    #expect(draws.contains { $0.hasPrefix("upload tone.wav") && $0.contains("[########") && $0.contains("100%") })
    #expect(
      draws.contains {
        $0.range(of: #"^upload tone\.wav +\[#+\] 100% +[0-9.]+ [kM]?B/s  0:0\d$"#, options: .regularExpression) != nil
      },
      "phase, bar, percent, rate and elapsed: \(draws)")
    #expect(draws.contains { $0.hasPrefix("queued ") || $0.hasPrefix("processing ") || $0.hasPrefix("starting ") })
    #expect(draws.contains { $0.hasPrefix("done ") && $0.contains("100%") })
    #expect(draws.contains { $0.hasPrefix("download out.wav") && $0.contains("100%") })
    #expect(draws.allSatisfy { $0.count < 100 }, "fits COLUMNS=100")
    #expect(!screen.contains("[0:0"), "no plain lines on a terminal")
    #expect(screen.contains("succeeded: wrote \(out) ("))
    #expect(FileManager.default.fileExists(atPath: out))
    #expect(!screen.contains(ClientHarness.secret))
  }
}
