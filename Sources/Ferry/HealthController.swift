import Foundation
import HTTPServer
import Jobs
import Media

/// `GET /health` (the process serves) and `GET /ready` (it can do work: data dir usable, ffmpeg present).
struct HealthController: Sendable {
  let configuration: FerryConfiguration
  let store: any JobStore
  /// Which noise reducer enhance uses (`deepfilternet3` or `afftdn`), and why not the neural one.
  var denoiser = "afftdn"
  var denoiserProblem: String?
  /// Below this many free bytes in the data dir, the server is not ready.
  static let minimumFreeBytes: Int64 = 512 * 1024 * 1024

  // /health is polled by load balancers and benchmarks: its answer is built once.
  private static let healthBody: [UInt8] = Array(#"{"status":"ok","version":"\#(FerryVersion.current)"}"#.utf8)

  func register(in router: inout Router) {
    router.get("/health") { _ in .json(bytes: HealthController.healthBody) }
    router.get("/ready") { [self] _ in
      let reasons = notReadyReasons()
      guard reasons.isEmpty else {
        return try .json(NotReady(status: "not_ready", reasons: reasons), status: .serviceUnavailable)
      }
      return try .json(Ready(status: "ready", denoiser: denoiser, denoiserProblem: denoiserProblem))
    }
  }

  private struct Ready: Encodable {
    var status: String
    var denoiser: String
    var denoiserProblem: String?
    enum CodingKeys: String, CodingKey {
      case status, denoiser
      case denoiserProblem = "denoiser_problem"
    }
  }

  private struct NotReady: Encodable {
    var status: String
    var reasons: [String]
  }

  /// Why the server cannot take work now; empty when it can.
  func notReadyReasons() -> [String] {
    var reasons: [String] = []
    do {
      _ = try store.queueAhead(of: nil, atMost: 1)
    } catch {
      reasons.append("the job store is unreachable")
    }
    let dir = configuration.dataDirectory
    if access(dir, W_OK | X_OK) != 0 {
      reasons.append("data_dir \(dir) is not writable")
    } else {
      var stats = statvfs()
      if statvfs(dir, &stats) == 0 {
        let free = Int64(stats.f_bavail) * Int64(stats.f_frsize)
        if free < Self.minimumFreeBytes {
          reasons.append("data_dir \(dir) has only \(free / 1_048_576) MiB free")
        }
      }
    }
    for (key, executable) in [
      ("media.ffmpeg", configuration.media.ffmpeg), ("media.ffprobe", configuration.media.ffprobe),
    ]
    where ExecutableLookup.find(executable) == nil {
      reasons.append("\(key) \"\(executable)\" was not found or is not executable")
    }
    return reasons
  }
}
