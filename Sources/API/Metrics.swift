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
    out += "# HELP ferry_http_requests_total HTTP requests answered, by route and status.\n"
    out += "# TYPE ferry_http_requests_total counter\n"
    for key in snapshot.requests.keys.sorted() {
      out +=
        "ferry_http_requests_total{route=\"\(routeNames[key / 1000])\",status=\"\(key % 1000)\"} \(snapshot.requests[key]!)\n"
    }
    out += "# HELP ferry_jobs Jobs in the store, by status.\n# TYPE ferry_jobs gauge\n"
    for status in JobStatus.allCases {
      out += "ferry_jobs{status=\"\(status.rawValue)\"} \(jobs[status] ?? 0)\n"
    }
    out += "# HELP ferry_queue_depth Jobs waiting to run.\n# TYPE ferry_queue_depth gauge\n"
    out += "ferry_queue_depth \(jobs[.pending] ?? 0)\n"
    out += "# HELP ferry_job_runs_total Job runs that ended here, by the status they ended in.\n"
    out += "# TYPE ferry_job_runs_total counter\n"
    for status in snapshot.jobsEnded.keys.sorted() {
      out += "ferry_job_runs_total{status=\"\(status)\"} \(snapshot.jobsEnded[status]!)\n"
    }
    out += "# HELP ferry_job_run_seconds Time job runs took.\n# TYPE ferry_job_run_seconds summary\n"
    out += "ferry_job_run_seconds_sum \(snapshot.runSeconds)\nferry_job_run_seconds_count \(snapshot.runs)\n"
    out += "# HELP ferry_job_phase_seconds_total Time job runs spent in each phase (queued: waiting to be taken).\n"
    out += "# TYPE ferry_job_phase_seconds_total counter\n"
    for phase in JobPhase.allCases {
      out += "ferry_job_phase_seconds_total{phase=\"\(phase.rawValue)\"} \(snapshot.phaseSeconds[phase] ?? 0)\n"
    }
    out += "# HELP ferry_transfer_bytes_total Bytes job runs downloaded and uploaded.\n"
    out += "# TYPE ferry_transfer_bytes_total counter\nferry_transfer_bytes_total \(snapshot.bytesMoved)\n"
    out += "# HELP ferry_admission_refusals_total Jobs refused because an output URL would expire too soon.\n"
    out += "# TYPE ferry_admission_refusals_total counter\nferry_admission_refusals_total \(snapshot.refusals)\n"
    out += "# HELP ferry_webhook_attempts_total Webhook delivery attempts, by outcome.\n"
    out += "# TYPE ferry_webhook_attempts_total counter\n"
    for outcome in DeliveryOutcome.allCases {
      out += "ferry_webhook_attempts_total{outcome=\"\(outcome.rawValue)\"} \(snapshot.webhookAttempts[outcome] ?? 0)\n"
    }
    if let source = tlsFileBodies.withLock({ $0 }) {
      let counts = source()
      out += "# HELP ferry_tls_file_bodies_total File bodies sent over TLS, by path: kernel (kernel TLS and "
      out += "SSL_sendfile) or buffered (encrypted by OpenSSL in user space).\n"
      out += "# TYPE ferry_tls_file_bodies_total counter\n"
      out += "ferry_tls_file_bodies_total{path=\"kernel\"} \(counts.kernel)\n"
      out += "ferry_tls_file_bodies_total{path=\"buffered\"} \(counts.buffered)\n"
    }
    return out
  }
}
