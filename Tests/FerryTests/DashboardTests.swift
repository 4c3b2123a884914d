import API
import Foundation
import TestSupport
import Testing

/// `/dashboard`: the page's headers, and the page itself in headless Chromium against a real `ferry serve` with
/// a running, a finished and a failed job (scripts/dashboard-browser.py drives the browser). The browser test
/// takes the screenshots docs/dashboard-*.png (rewritten with FERRY_UPDATE_SCREENSHOTS=1); their pixels are
/// not compared.
@Suite(.serialized) struct DashboardTests {
  @Test func dashboard_isServedWithStrictHeaders_andNoInlineCode() async throws {
    let server = try APITestServer()
    defer { Task { await server.stop() } }
    for (path, type) in [
      ("/dashboard", "text/html"), ("/dashboard/app.js", "text/javascript"), ("/dashboard/app.css", "text/css"),
    ] {
      let response = try await server.request("GET", path)
      #expect(response.status == 200, "\(path)")
      #expect(response.header("Content-Type")?.hasPrefix(type) == true, "\(path)")
      #expect(response.header("Content-Security-Policy") == DashboardController.contentSecurityPolicy)
      #expect(response.header("X-Frame-Options") == "DENY")
      #expect(response.header("Referrer-Policy") == "no-referrer")
      #expect(response.header("Cache-Control") == "no-store")
      #expect(response.header("X-Content-Type-Options") == "nosniff")
    }
    let csp = DashboardController.contentSecurityPolicy
    #expect(csp.hasPrefix("default-src 'none';") && !csp.contains("unsafe") && !csp.contains("http"))
    // The policy forbids inline code; the page must not need any, nor parse API data as HTML.
    let page = try await server.request("GET", "/dashboard").text
    #expect(!page.contains("<script>") && !page.contains("<style") && !page.contains(" style="))
    #expect(page.range(of: #"\son[a-z]+\s*="#, options: .regularExpression) == nil, "no inline event handlers")
    #expect(!page.contains("://"), "the page loads nothing from another origin")
    let script = try await server.request("GET", "/dashboard/app.js").text
    for forbidden in ["innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "localStorage"] {
      #expect(!script.contains(forbidden), "app.js uses \(forbidden)")
    }
    // The credential inputs have no name: a form submitted without the script sends nothing.
    #expect(page.range(of: #"<input[^>]*\sname="#, options: .regularExpression) == nil)
    // HEAD answers like GET, and the page needs no credentials (it shows none without them).
    let port = server.port
    let head = try await blocking {
      let client = try RawHTTPClient(port: port)
      try client.send("HEAD /dashboard HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
      return try client.readResponse(head: true)
    }
    #expect(head.status == 200 && head.header("Content-Security-Policy") != nil)
  }

  @Test func dashboard_servesItsFilesAsWritten_andTheScriptParses() async throws {
    let server = try APITestServer()
    defer { Task { await server.stop() } }
    let directory = S3Peers.packageRoot + "/Sources/API/Dashboard/"
    for (path, file) in [
      ("/dashboard", "dashboard.html"), ("/dashboard/app.js", "dashboard.js"), ("/dashboard/app.css", "dashboard.css"),
    ] {
      let written = try Data(contentsOf: URL(fileURLWithPath: directory + file))
      let served = try await server.request("GET", path).body
      #expect(!written.isEmpty && served == Array(written), "\(path)")
    }
    // A syntax error would only show in a browser; node (when installed) finds it here.
    guard let node = Self.findExecutable("node") else {
      print("note: node is not on PATH; dashboard.js was not syntax-checked")
      return
    }
    let check = Process()
    check.executableURL = URL(fileURLWithPath: node)
    check.arguments = ["--check", directory + "dashboard.js"]
    try check.run()
    check.waitUntilExit()
    #expect(check.terminationStatus == 0, "node --check dashboard.js")
  }

  @Test(.timeLimit(.minutes(2)))
  func dashboard_inChromium_showsTheKeysJobsAsTheAPIAnswers_cancelsAndCharts() async throws {
    guard ["chromium", "chromium-browser"].contains(where: { Self.findExecutable($0) != nil }) else {
      Issue.record("chromium is not installed: `make test` installs it (scripts/install-deps.sh chromium)")
      return
    }
    let secret = "dash-secret-\(UUID().uuidString)"
    let ferry = try FerryProcess(
      ["serve"],
      environment: [
        "FERRY_SERVER_PORT": "0", "FERRY_NETWORK_ALLOW": #"["127.0.0.0/8"]"#, "FERRY_WORKERS_CONCURRENCY": "3",
        "FERRY_AUTH_APPS": #"[{"key": "dash-app", "secret": "\#(secret)"}, {"key": "other-app", "secret": "other"}]"#,
      ])
    defer { ferry.terminate() }
    let input = testBytes(count: 1 << 20)
    let peer = try FaultServer { request, _ in
      request.target.hasPrefix("/slow")
        ? .stall(body: input, seconds: 60, sentFirst: 300_000) : .status(404, body: "no such file")
    }
    defer { peer.stop() }
    // Blocking work (sockets, ffmpeg, the browser) runs off the concurrency pool, which other suites' servers need.
    let setup = try await blocking { try Self.makeJobs(ferry: ferry, secret: secret, peer: peer.base) }
    let (api, token, settled) = (setup.api, setup.token, setup.settled)
    let (finished, failed, running) = (setup.finished, setup.failed, setup.running)
    #expect(setup.uploadStatus == 200)
    #expect(settled[running]?.status == "Running")
    #expect(settled.count == 3 && settled[setup.foreign] == nil)

    // The screenshots are checked in under docs/; a run rewrites them only when asked
    // (FERRY_UPDATE_SCREENSHOTS=1), so the suite leaves the checkout clean.
    let update = ProcessInfo.processInfo.environment["FERRY_UPDATE_SCREENSHOTS"] == "1"
    let docs = update ? S3Peers.packageRoot + "/docs" : try makeTemporaryDirectory("ferry-shots")
    try FileManager.default.createDirectory(atPath: docs, withIntermediateDirectories: true)
    let config = try JSONSerialization.data(withJSONObject: [
      "url": "http://127.0.0.1:\(api.port)/dashboard", "key": "dash-app", "secret": secret,
      "expect": settled.map { ["job_id": $0.key, "status": $0.value.status] }, "chart_job": finished,
      "cancel_job": running, "out_dir": docs,
    ])
    let printed = try await blocking { try Self.runBrowser(config: config) }
    let report = try #require(
      try? JSONSerialization.jsonObject(with: printed) as? [String: Any],
      "the browser script printed no report: \(String(decoding: printed, as: UTF8.self))")
    #expect(report["error"] == nil, "\(report["error"] ?? "")")

    // Nothing before sign-in.
    let before = report["before_sign_in"] as? [String: Any] ?? [:]
    #expect(report["loaded"] as? Bool == true)
    #expect(
      before["rows"] as? Int == 0 && before["jobs_hidden"] as? Bool == true && before["login_shown"] as? Bool == true)

    // The page's rows are the API's jobs: the same ids, statuses and progress, with the phase and error details.
    #expect(report["rows_matched_in_time"] as? Bool == true)
    let rows = Self.rows(report["rows"])
    #expect(Dictionary(uniqueKeysWithValues: rows.map { ($0.id, $0.status) }) == settled.mapValues(\.status))
    #expect(Dictionary(uniqueKeysWithValues: rows.map { ($0.id, $0.progress) }) == settled.mapValues(\.progress))
    let shown = Dictionary(uniqueKeysWithValues: rows.map { ($0.id, $0) })
    #expect(shown[running]?.phase == "downloading" && shown[running]?.cancel == true)
    #expect(shown[failed]?.error.contains("404") == true && shown[failed]?.cancel == false)
    #expect(shown[finished]?.error == "" && shown[setup.foreign] == nil)

    // The secret is nowhere in the page or its storage once signed in.
    let secretCheck = report["secret"] as? [String: Any] ?? [:]
    #expect(secretCheck["in_html"] as? Bool == false && secretCheck["in_text"] as? Bool == false)
    #expect(secretCheck["field_length"] as? Int == 0 && secretCheck["local_storage"] as? Int == 0)
    #expect(secretCheck["session_storage"] as? Int == 0 && secretCheck["cookies"] as? Int == 0)

    // The analyze job's chart: one point a second of the 12 s file, and the integrated loudness line.
    let chart = report["chart"] as? [String: Any] ?? [:]
    #expect(chart["points"] as? Int == 12 && chart["integrated"] as? Bool == true, "\(chart)")
    #expect((chart["summary"] as? String)?.contains("LKFS") == true)

    // The cancel button cancelled the running job, and the page and the API agree again afterwards.
    #expect(report["cancelled_row"] as? String == "Cancelled")
    let after = try await blocking { try api.jobs(token: token) }
    #expect(after[running]?.status == "Cancelled")
    let rowsAfter = Self.rows(report["rows_after_cancel"])
    #expect(Dictionary(uniqueKeysWithValues: rowsAfter.map { ($0.id, $0.status) }) == after.mapValues(\.status))

    #expect(report["console_errors"] as? [String] == [], "\(report["console_errors"] ?? "")")
    for name in ["dashboard-sign-in.png", "dashboard-jobs.png", "dashboard-chart.png"] {
      let bytes = FileManager.default.contents(atPath: docs + "/" + name) ?? Data()
      #expect(bytes.starts(with: [0x89, 0x50, 0x4E, 0x47]) && bytes.count < 400_000, "\(name): \(bytes.count) bytes")
    }
    // The secret went to Ferry once, in the token request, and Ferry did not log it.
    #expect(!ferry.logLines.joined().contains(secret))
  }

  // MARK: Helpers

  struct Row {
    var id: String
    var status: String
    var progress: Int
    var phase: String
    var error: String
    var cancel: Bool
  }

  static func rows(_ value: Any?) -> [Row] {
    (value as? [[String: Any]] ?? []).map {
      Row(
        id: $0["job_id"] as? String ?? "", status: $0["status"] as? String ?? "",
        progress: $0["progress"] as? Int ?? -1,
        phase: $0["phase"] as? String ?? "", error: $0["error"] as? String ?? "", cancel: $0["cancel"] as? Bool ?? false
      )
    }
  }

  struct Setup: Sendable {
    var api: LiveAPI
    var token: String
    var uploadStatus: Int
    var finished, failed, running, foreign: String
    var settled: [String: LiveAPI.Listed]
  }

  /// A finished analyze of a 12 s file uploaded through dlb:// (the chart), a failed one (404 input), one whose
  /// input arrives in part and then stalls (running, in its download phase), and another app's job.
  static func makeJobs(ferry: FerryProcess, secret: String, peer: String) throws -> Setup {
    let api = LiveAPI(port: try ferry.waitForPort())
    let token = try api.token(key: "dash-app", secret: secret)
    let work = try makeTemporaryDirectory("ferry-dash")
    defer { try? FileManager.default.removeItem(atPath: work) }
    try ffmpeg([
      "-f", "lavfi", "-i", "anoisesrc=color=pink:duration=12:amplitude=0.5:seed=7:sample_rate=48000",
      "-af", "volume='0.15+0.85*abs(sin(PI*t/7))':eval=frame", work + "/speech.wav",
    ])
    let handed = try api.call("POST", "/media/input", token: token, json: #"{"url": "dlb://in/speech.wav"}"#)
    guard let upload = handed.json["url"] as? String,
      let file = FileManager.default.contents(atPath: work + "/speech.wav")
    else { throw RawHTTPClient.ClientError(description: "no upload URL: \(handed.status) \(handed.text)") }
    let uploaded = try api.call("PUT", LiveAPI.target(upload), body: Array(file))
    let finished = try api.submit("/media/analyze", token: token, input: "dlb://in/speech.wav")
    let failed = try api.submit("/media/analyze", token: token, input: peer + "/missing.wav")
    let running = try api.submit("/media/analyze", token: token, input: peer + "/slow.wav")
    let foreign = try api.submit(
      "/media/analyze", token: try api.token(key: "other-app", secret: "other"), input: peer + "/missing.wav")
    _ = try api.waitForJobs(token: token) { jobs in
      jobs[finished]?.status == "Success" && jobs[failed]?.status == "Failed" && jobs[running]?.status == "Running"
        && (jobs[running]?.progress ?? 0) > 0
    }
    // The stalled download's progress is stored a moment after the bytes arrive: read the listing once it rests.
    usleep(700_000)
    return Setup(
      api: api, token: token, uploadStatus: uploaded.status, finished: finished, failed: failed, running: running,
      foreign: foreign, settled: try api.jobs(token: token))
  }

  /// Runs scripts/`name` (dashboard-browser.py by default) with `config` on its stdin (the secret never goes in
  /// argv) and returns what it printed: its JSON report. The script stops Chromium itself; it is stopped by its
  /// PID if it overruns.
  static func runBrowser(config: Data, script name: String = "dashboard-browser.py") throws -> Data {
    let script = Process()
    script.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    script.arguments = ["python3", S3Peers.packageRoot + "/scripts/" + name]
    let input = Pipe()
    let output = Pipe()
    script.standardInput = input
    script.standardOutput = output
    try script.run()
    input.fileHandleForWriting.write(config)
    try input.fileHandleForWriting.close()
    // Read on another thread so a chatty script cannot block on a full pipe while this one waits.
    let collected = LockedData()
    let reader = Thread {
      collected.set(output.fileHandleForReading.readDataToEndOfFile())
    }
    reader.start()
    let deadline = Date() + 120
    while script.isRunning && Date() < deadline { usleep(50_000) }
    if script.isRunning {
      kill(script.processIdentifier, SIGTERM)
      let grace = Date() + 10
      while script.isRunning && Date() < grace { usleep(50_000) }
      if script.isRunning { kill(script.processIdentifier, SIGKILL) }
      script.waitUntilExit()
      throw RawHTTPClient.ClientError(description: "the browser script did not finish in 120 s")
    }
    let readDeadline = Date() + 5
    while collected.get() == nil && Date() < readDeadline { usleep(10_000) }
    return collected.get() ?? Data()
  }

  static func ffmpeg(_ arguments: [String]) throws {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["ffmpeg", "-loglevel", "error", "-y"] + arguments
    try process.run()
    process.waitUntilExit()
    guard process.terminationStatus == 0 else { throw RawHTTPClient.ClientError(description: "ffmpeg failed") }
  }

  static func findExecutable(_ name: String) -> String? {
    let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
    return path.split(separator: ":").map { "\($0)/\(name)" }.first { FileManager.default.isExecutableFile(atPath: $0) }
  }
}

/// Data handed from a reader thread to the test.
private final class LockedData: @unchecked Sendable {
  private let lock = NSLock()
  private var data: Data?
  func set(_ value: Data) { lock.withLock { data = value } }
  func get() -> Data? { lock.withLock { data } }
}

/// The JSON API of a `ferry serve` child, over plain HTTP/1.1 on loopback.
struct LiveAPI: Sendable {
  let port: Int

  struct Listed: Equatable, Sendable {
    var status: String
    var progress: Int
  }

  /// The path and query of one of Ferry's absolute URLs.
  static func target(_ url: String) -> String {
    let afterScheme = url.dropFirst("http://".count)
    return String(afterScheme[(afterScheme.firstIndex(of: "/") ?? afterScheme.endIndex)...])
  }

  func call(
    _ method: String, _ target: String, token: String? = nil, headers: [String: String] = [:], json: String? = nil,
    body: [UInt8] = []
  ) throws -> RawHTTPClient.Response {
    var fields = headers
    if let token { fields["Authorization"] = "Bearer \(token)" }
    var payload = body
    if let json {
      fields["Content-Type"] = "application/json"
      payload = Array(json.utf8)
    }
    var text = "\(method) \(target) HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
    for (name, value) in fields { text += "\(name): \(value)\r\n" }
    text += "Content-Length: \(payload.count)\r\n\r\n"
    let client = try RawHTTPClient(port: port)
    try client.send(text)
    if !payload.isEmpty { try client.send(payload) }
    return try client.readResponse()
  }

  func token(key: String, secret: String) throws -> String {
    let basic = Data("\(key):\(secret)".utf8).base64EncodedString()
    let response = try call(
      "POST", "/v1/auth/token",
      headers: ["Authorization": "Basic \(basic)", "Content-Type": "application/x-www-form-urlencoded"],
      body: Array("grant_type=client_credentials".utf8))
    guard let token = response.json["access_token"] as? String else {
      throw RawHTTPClient.ClientError(description: "no token: \(response.status)")
    }
    return token
  }

  func submit(_ path: String, token: String, input: String) throws -> String {
    let response = try call(
      "POST", path, token: token, json: #"{"input": "\#(input)", "output": "dlb://out/\#(UUID().uuidString).json"}"#)
    guard let id = response.json["job_id"] as? String else {
      throw RawHTTPClient.ClientError(description: "not accepted: \(response.status) \(response.text)")
    }
    return id
  }

  /// `GET /media/jobs`: each job's status and progress by id.
  func jobs(token: String) throws -> [String: Listed] {
    let listed = try call("GET", "/media/jobs", token: token).json["jobs"] as? [[String: Any]] ?? []
    var jobs: [String: Listed] = [:]
    for job in listed {
      guard let id = job["job_id"] as? String else { continue }
      jobs[id] = Listed(status: job["status"] as? String ?? "", progress: job["progress"] as? Int ?? -1)
    }
    return jobs
  }

  /// Polls the listing (at most 20 s) until `done` holds, and returns it.
  func waitForJobs(token: String, until done: ([String: Listed]) -> Bool) throws -> [String: Listed] {
    let deadline = Date() + 20
    var jobs = try self.jobs(token: token)
    while !done(jobs) {
      guard Date() < deadline else { throw RawHTTPClient.ClientError(description: "jobs did not settle: \(jobs)") }
      usleep(100_000)
      jobs = try self.jobs(token: token)
    }
    return jobs
  }
}
