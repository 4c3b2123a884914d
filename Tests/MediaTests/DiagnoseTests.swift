import Foundation
import Jobs
import Testing

@testable import Media

@Suite(.serialized) struct DiagnoseJobTests {
  let harness = try! MediaHarness("diagnose") { [DiagnoseOperation(transfers: $0, tools: $1)] }

  @Test func aFlawedRecording_isDiagnosed() async throws {
    defer { harness.pool.stop() }
    // 12 s: 2 s of silence, a tone over a faint noise floor clipped between 5 and 6 s, 2 s of silence; the
    // right channel is silent throughout.
    try await harness.fixture(
      "in/flawed.wav",
      [
        "-f", "lavfi", "-i", "sine=f=440:d=12:sample_rate=48000", "-f", "lavfi", "-i",
        "anoisesrc=d=12:a=0.001:r=48000", "-filter_complex",
        "[0][1]amix=inputs=2:normalize=0,volume='if(between(t,2,10),if(between(t,5,6),30,1),0)':eval=frame,"
          + "alimiter=limit=1:level=false:attack=0.1,volume=if(between(t\\,5\\,6)\\,2\\,1):eval=frame,"
          + "pan=stereo|c0=c0|c1=0*c0",
      ])
    let job = try await harness.run("/media/diagnose", #"{"input": "dlb://in/flawed.wav"}"#)
    #expect(job.status == .success, "\(String(describing: job.error))")
    let result = try #require(try JSONSerialization.jsonObject(with: Data((job.result ?? "{}").utf8)) as? [String: Any])
    let audio = try #require(result["audio"] as? [String: Any])
    let silence = try #require(audio["silence"] as? [String: Any])
    #expect(silence["silent_channels"] as? [Int] == [1])
    #expect(
      abs((silence["at_beginning"] as? Double ?? 0) - 2) < 0.2 && abs((silence["at_end"] as? Double ?? 0) - 2) < 0.2,
      "\(silence)")
    #expect(((audio["clipping"] as? [String: Any])?["events"] as? Int ?? 0) >= 1)
    let quality = try #require(audio["quality_score"] as? [String: Any])
    let average = try #require(quality["average"] as? Double)
    #expect(average > 0 && average < 10)
    #expect(((audio["noise_score"] as? [String: Any])?["worst_segment"] as? [String: Any]) != nil)
    #expect((audio["loudness"] as? [String: Any])?["measured"] is Double)
    #expect(DiagnoseWork.noiseScore(snr: 5) == 0 && DiagnoseWork.noiseScore(snr: 40) == 10)
  }
}
