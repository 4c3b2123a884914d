import Foundation
import Jobs
import Testing

@testable import Media

@Suite(.serialized) struct DiagnoseJobTests {
  let harness = try! MediaHarness("diagnose", tools: MediaTools(version: "1.2.3")) {
    [DiagnoseOperation(transfers: $0, tools: $1)]
  }

  @Test func aFlawedRecording_isDiagnosed() async throws {
    defer { harness.pool.stop() }
    // 12 s: 2 s of silence, a tone over a faint noise floor clipped between 5 and 6 s, 2 s of silence; the
    // right channel is silent throughout.
    try await harness.fixture(
      "in/flawed.wav",
      [
        "-f", "lavfi", "-i", "sine=f=440:d=12:sample_rate=48000", "-f", "lavfi", "-i",
        "anoisesrc=d=12:a=0.001:r=48000:seed=1", "-filter_complex",
        "[0][1]amix=inputs=2:normalize=0,volume='if(between(t,2,10),if(between(t,5,6),30,1),0)':eval=frame,"
          + "alimiter=limit=1:level=false:attack=0.1,volume=if(between(t\\,5\\,6)\\,2\\,1):eval=frame,"
          + "pan=stereo|c0=c0|c1=0*c0",
      ])
    let job = try await harness.run("/media/diagnose", #"{"input": "dlb://in/flawed.wav"}"#)
    #expect(job.status == .success, "\(String(describing: job.error))")
    let result = try #require(try JSONSerialization.jsonObject(with: Data((job.result ?? "{}").utf8)) as? [String: Any])
    let audio = try #require(result["audio"] as? [String: Any])
    let silence = try #require(audio["silence"] as? [String: Any])
    #expect(silence["silent_channels"] as? [String] == ["FR"], "Dolby names the channels")
    #expect(
      abs((silence["at_beginning"] as? Double ?? 0) - 2) < 0.2 && abs((silence["at_end"] as? Double ?? 0) - 2) < 0.2,
      "\(silence)")
    #expect(((audio["clipping"] as? [String: Any])?["events"] as? Int ?? 0) >= 1)
    // Dolby's shape: each score has its average, ten bins of the audible seconds and its worst 5 s.
    for name in ["quality_score", "noise_score"] {
      let score = try #require(audio[name] as? [String: Any])
      let average = try #require(score["average"] as? Double)
      #expect(average > 0 && average < 10, "\(name)")
      let bins = try #require(score["distribution"] as? [[String: Any]])
      #expect(bins.map { $0["lower_bound"] as? Int } == Array(0..<10).map { $0 }, "\(name)")
      #expect(bins.map { $0["upper_bound"] as? Int } == Array(1...10).map { $0 }, "\(name)")
      let seconds = bins.compactMap { $0["duration"] as? Int }.reduce(0, +)
      // The 8 s of tone, and the seconds on either side its 3 s short-term window reaches into.
      #expect(seconds >= 8 && seconds <= 12, "\(name): the audible seconds: \(seconds)")
      let percent = bins.compactMap { $0["percentage"] as? Double }.reduce(0, +)
      #expect(abs(percent - 100) < 1, "\(name): \(percent)")
      let worst = try #require(score["worst_segment"] as? [String: Any], "\(name)")
      #expect((worst["end"] as? Int ?? 0) - (worst["start"] as? Int ?? 0) == 5)
    }
    let loudness = try #require(audio["loudness"] as? [String: Any])
    #expect(loudness["measured"] is Double && loudness["gating_mode"] as? String == "level")
    #expect(result["version"] as? String == "1.2.3")
    #expect(DiagnoseWork.channelNames(layout: "5.1", count: 6).last == "BR")
    #expect(DiagnoseWork.channelNames(layout: nil, count: 3) == ["channel 1", "channel 2", "channel 3"])
    #expect(DiagnoseWork.noiseScore(snr: 5) == 0 && DiagnoseWork.noiseScore(snr: 40) == 10)
  }
}
