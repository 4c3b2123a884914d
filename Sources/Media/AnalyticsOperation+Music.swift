import Foundation
import JSON
import Jobs

extension AnalyticsOperation {
  /// `POST /media/analyze/music`: where the input holds music, and for each music section its loudness, tempo
  /// (`bpm`) and key; `genre`, `instrument` and `era` are empty lists (no offline model estimates them here).
  /// The result is `processed_region.audio.music {percentage, num_sections, sections}` as Dolby's clients read it.
  public static func music(transfers: JobTransfers, tools: MediaTools) -> AnalyticsOperation {
    AnalyticsOperation(path: "/media/analyze/music", transfers: transfers, tools: tools) {
      ["music": $0.musicBlock()]
    }
  }
}
