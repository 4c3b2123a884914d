import Foundation
import JSON
import Jobs
import TestSupport
import Testing

@testable import Media

/// `/media/analyze/music`, `/media/analyze/speech` and analyze's content blocks through the engine with real
/// ffmpeg, on a fluidsynth groove (fluid-soundfont-gm) and a conversation of espeak-ng and festival voices.
@Suite(.serialized) struct AnalyticsJobTests {
  let harness = try! MediaHarness("analytics", tools: MediaTools(version: "test")) {
    [
      AnalyticsOperation.music(transfers: $0, tools: $1), AnalyticsOperation.speech(transfers: $0, tools: $1),
      AnalyzeOperation(transfers: $0, tools: $1),
    ]
  }

  /// Writes `samples` as `dlb://in/<name>` (48 kHz stereo WAV, as a user's file would be).
  func input(_ name: String, _ samples: [Float]) throws {
    let path = harness.storage.path(owner: "app", key: "in/\(name)")
    try FileManager.default.createDirectory(
      atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
    try AnalyticsMaterial.writeWAV(samples, to: path, sampleRate: 48000)
  }

  func run(_ path: String, _ body: String) async throws -> [String: Any] {
    let job = try await harness.run(path, body)
    #expect(job.status == .success, "\(String(describing: job.error))")
    let result = try job.result.map { try JSONSerialization.jsonObject(with: Data($0.utf8)) } as? [String: Any]
    return ((result?["processed_region"] as? [String: Any])?["audio"] as? [String: Any]) ?? [:]
  }

  @Test func music_hasSectionsWithTempoAndKey() async throws {
    defer { harness.pool.stop() }
    let groove = AnalyticsMaterial.scaled(try AnalyticsMaterial.groove(bpm: 120, bars: 6), to: -20)
    try input("groove.wav", [Float](repeating: 0, count: 32000) + groove)
    let audio = try await run(
      "/media/analyze/music", #"{"input": "dlb://in/groove.wav", "output": "dlb://out/m.json"}"#)
    let music = try #require(audio["music"] as? [String: Any])
    let sections = try #require(music["sections"] as? [[String: Any]])
    print("analyze/music: \(music["percentage"] ?? "-")% music, sections \(sections)")
    #expect((music["percentage"] as? Double ?? 0) > 60)
    #expect(music["num_sections"] as? Int == sections.count && !sections.isEmpty)
    let longest = try #require(sections.max { ($0["duration"] as? Double ?? 0) < ($1["duration"] as? Double ?? 0) })
    #expect(longest["section_id"] is String && longest["loudness"] is Double)
    #expect(abs((longest["bpm"] as? Double ?? 0) - 120) <= 2.4)
    #expect(((longest["key"] as? [[Any]])?.first?.first as? String) == "C major")
    #expect((longest["genre"] as? [Any])?.isEmpty == true && (longest["era"] as? [Any])?.isEmpty == true)
    #expect(FileManager.default.fileExists(atPath: harness.storage.path(owner: "app", key: "out/m.json")))
  }

  @Test func speech_findsTheTalkers_andDialogIntelligenceGatesOnSpeech() async throws {
    defer { harness.pool.stop() }
    var samples = [Float](repeating: 0, count: 8000)
    for turn in 0..<4 {
      let voice = AnalyticsMaterial.voices[turn % 2 == 0 ? 0 : 3]
      samples += AnalyticsMaterial.scaled(
        try AnalyticsMaterial.speech(AnalyticsMaterial.sentences[turn], voice: voice), to: -20)
      samples += [Float](repeating: 0, count: 9600)
    }
    try input("talk.wav", samples)
    let audio = try await run("/media/analyze/speech", #"{"input": "dlb://in/talk.wav"}"#)
    let speech = try #require(audio["speech"] as? [String: Any])
    let details = try #require(speech["details"] as? [[String: Any]])
    print("analyze/speech: \(speech["num_talkers"] ?? "-") talkers, \(speech["percentage"] ?? "-")% speech")
    #expect(speech["num_talkers"] as? Int == 2 && details.count == 2)
    for talker in details {
      #expect(talker["talker_id"] is Int && talker["talk_listen_ratio"] is Double)
      #expect((talker["loudness"] as? [String: Any])?["measured"] is Double && talker["quality_score"] is Double)
      let sections = try #require(talker["sections"] as? [[String: Any]])
      #expect(talker["num_sections"] as? Int == 2 && sections.count == 2)
      #expect((sections.first?["section_id"] as? String)?.hasPrefix("tk_") == true)
    }

    let analyzed = try await run(
      "/media/analyze", #"{"input": "dlb://in/talk.wav", "loudness": {"dialog_intelligence": true}}"#)
    #expect((analyzed["loudness"] as? [String: Any])?["gating_mode"] as? String == "speech")
    #expect(((analyzed["speech"] as? [String: Any])?["percentage"] as? Double ?? 0) > 60)
    for block in ["music", "other", "silence"] { #expect(analyzed[block] is [String: Any], "\(block)") }
  }
}
