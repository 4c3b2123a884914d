import Foundation
import HTTPServer
import Jobs
import Synchronization

/// Counters for `GET /metrics` (Prometheus text format). Labels are fixed sets (routes, statuses): nothing a
/// client sends becomes a label, and no app key or secret appears.
public final class Metrics: Sendable {
  private struct State {
    /// Requests by route index (`routeNames`) and status, as `index * 1000 + status`: an integer key, so the
    /// count on every request hashes no string.
    var requests: [Int: Int] = [:]
    var refusals = 0
    var jobsEnded: [String: Int] = [:]
    var runSeconds = 0.0
    var runs = 0
    var phaseSeconds: [JobPhase: Double] = [:]
    var bytesMoved: Int64 = 0
    var webhookAttempts: [DeliveryOutcome: Int] = [:]
  }

  private let state = Mutex(State())
  /// Where the TLS file-body counts come from (the HTTP server, once it exists and when it serves TLS).
  private let tlsFileBodies = Mutex<(@Sendable () -> (kernel: Int, buffered: Int))?>(nil)
  /// The paths counted by name, then `/storage/v1` and `other` (unknown paths cannot grow the label set).
  private let routeNames: [String]
  private let routeIndex: [Substring: Int]

  public init(routes: [String]) {
    routeNames = Array(Set(routes).subtracting(["/storage/v1", "other"])).sorted() + ["/storage/v1", "other"]
    routeIndex = Dictionary(uniqueKeysWithValues: routeNames.enumerated().map { (Substring($0.element), $0.offset) })
  }

  /// The label a request to `path` (or a route with that pattern) is counted under: its own, `/storage/v1`, or
  /// `other`.
  public func label(forPath path: some StringProtocol) -> Int {
    path.hasPrefix("/storage/v1/") ? routeNames.count - 2 : routeIndex[Substring(path)] ?? routeNames.count - 1
  }

  /// Counts a finished request under `label` (from `label(forPath:)`).
  public func request(label: Int, status: Int) {
    let key = label * 1000 + min(max(status, 0), 999)
    state.withLock { $0.requests[key, default: 0] += 1 }
  }

  /// Counts a job refused by admission control (output URL expiring too soon).
  public func admissionRefused() {
    state.withLock { $0.refusals += 1 }
  }

  /// Counts a job run that ended here: its status, time, time per phase and bytes moved.
  public func jobEnded(_ run: RunSummary) {
    state.withLock { state in
      state.jobsEnded[run.status.rawValue, default: 0] += 1
      state.runSeconds += run.duration.seconds
      state.runs += 1
      for (phase, seconds) in run.phaseSeconds { state.phaseSeconds[phase, default: 0] += seconds }
      state.bytesMoved += run.bytesMoved
    }
  }

  /// Counts a webhook delivery attempt by how it ended.
  public func webhookAttempt(_ outcome: DeliveryOutcome) {
    state.withLock { $0.webhookAttempts[outcome, default: 0] += 1 }
  }

  /// Reports, from now on, the file bodies sent over TLS by path (`HTTPServer.tlsFileBodies`).
  public func countTLSFileBodies(from source: @escaping @Sendable () -> (kernel: Int, buffered: Int)) {
    tlsFileBodies.withLock { $0 = source }
  }

  /// The exposition text; `jobs` are the store's counts by status right now.
  public func render(jobs: [JobStatus: Int]) -> String {
    let snapshot = state.withLock { $0 }
    var out = ""
    // One family: its HELP and TYPE lines, then a line per sample; a sample's name is the family's with
    // `suffix` (labels `{status="Pending"}` or `_sum`), or the family's alone.
    func family(_ name: String, _ type: String, _ help: String, _ samples: [(suffix: String, value: String)]) {
      out += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n"
      for sample in samples { out += "\(name)\(sample.suffix) \(sample.value)\n" }
    }
    family(
      "ferry_http_requests_total", "counter", "HTTP requests answered, by route and status.",
      snapshot.requests.keys.sorted().map {
        ("{route=\"\(routeNames[$0 / 1000])\",status=\"\($0 % 1000)\"}", "\(snapshot.requests[$0]!)")
      })
    family(
      "ferry_jobs", "gauge", "Jobs in the store, by status.",
      JobStatus.allCases.map { ("{status=\"\($0.rawValue)\"}", "\(jobs[$0] ?? 0)") })
    family("ferry_queue_depth", "gauge", "Jobs waiting to run.", [("", "\(jobs[.pending] ?? 0)")])
    family(
      "ferry_job_runs_total", "counter", "Job runs that ended here, by the status they ended in.",
      snapshot.jobsEnded.keys.sorted().map { ("{status=\"\($0)\"}", "\(snapshot.jobsEnded[$0]!)") })
    family(
      "ferry_job_run_seconds", "summary", "Time job runs took.",
      [("_sum", "\(snapshot.runSeconds)"), ("_count", "\(snapshot.runs)")])
    family(
      "ferry_job_phase_seconds_total", "counter", "Time job runs spent in each phase (queued: waiting to be taken).",
      JobPhase.allCases.map { ("{phase=\"\($0.rawValue)\"}", "\(snapshot.phaseSeconds[$0] ?? 0)") })
    family(
      "ferry_transfer_bytes_total", "counter", "Bytes job runs downloaded and uploaded.",
      [("", "\(snapshot.bytesMoved)")])
    family(
      "ferry_admission_refusals_total", "counter", "Jobs refused because an output URL would expire too soon.",
      [("", "\(snapshot.refusals)")])
    family(
      "ferry_webhook_attempts_total", "counter", "Webhook delivery attempts, by outcome.",
      DeliveryOutcome.allCases.map { ("{outcome=\"\($0.rawValue)\"}", "\(snapshot.webhookAttempts[$0] ?? 0)") })
    if let source = tlsFileBodies.withLock({ $0 }) {
      let counts = source()
      family(
        "ferry_tls_file_bodies_total", "counter",
        "File bodies sent over TLS, by path: kernel (kernel TLS and SSL_sendfile) or buffered (encrypted by "
          + "OpenSSL in user space).",
        [("{path=\"kernel\"}", "\(counts.kernel)"), ("{path=\"buffered\"}", "\(counts.buffered)")])
    }
    return out
  }
}
