import Foundation
import JSON

/// Readable renderings of job results and listings for a terminal: the analyze loudness report, the diagnose
/// summary, and the jobs table.
public enum ResultReport {
  /// The analyze result (COMPAT.md's shape) as aligned lines: media, integrated loudness, range, peaks,
  /// clipping, silence, noise and the validation verdict when one was asked.
  public static func analyze(_ result: JSONValue, source: String) -> String {
    let audio = result["processed_region"]["audio"]
    let loudness = audio["loudness"]
    var rows: [(String, String)] = [
      ("Integrated loudness", number(loudness["measured"], "LUFS")),
      ("Loudness range", number(loudness["range"], "LU")),
      ("True peak", number(loudness["true_peak"], "dBTP")),
      ("Sample peak", number(loudness["sample_peak"], "dBFS")),
      ("Clipping", sections(audio["clipping"], noun: "section")),
      ("Silence", silence(audio["silence"])),
    ]
    if audio["noise"]["level_average"].number != nil {
      rows.append(
        (
          "Noise",
          number(audio["noise"]["level_average"], "dB") + " (SNR " + number(audio["noise"]["snr_average"], "dB") + ")"
        ))
    }
    if let pass = audio["validation"]["loudness"]["pass"].bool {
      rows.append(("Validation", (pass ? "pass" : "FAIL") + detail(audio["validation"]["loudness"]["detail"])))
    }
    return ([heading(result["media_info"], source: source)] + table(rows)).joined(separator: "\n") + "\n"
  }

  /// The diagnose result as aligned lines: quality and noise scores, clipping, loudness and silence.
  public static func diagnose(_ result: JSONValue, source: String) -> String {
    let audio = result["audio"]
    let loudness = audio["loudness"]
    var worst = ""
    if let start = audio["noise_score"]["worst_segment"]["start"].number {
      worst = " (worst at \(seconds(start)))"
    }
    let silence = audio["silence"]
    var silenceText = number(silence["percentage"], "%", space: false)
    if let begin = silence["at_beginning"].number, let end = silence["at_end"].number {
      silenceText += ", \(seconds(begin)) at the beginning, \(seconds(end)) at the end"
    }
    let rows: [(String, String)] = [
      ("Quality score", number(audio["quality_score"]["average"], "/ 10")),
      ("Noise score", number(audio["noise_score"]["average"], "/ 10") + worst),
      ("Clipping", countText(audio["clipping"]["events"].number.map { Int($0) } ?? 0, noun: "event")),
      (
        "Loudness",
        number(loudness["measured"], "LUFS") + ", range " + number(loudness["range"], "LU") + ", true peak "
          + number(loudness["true_peak"], "dBTP")
      ),
      ("Silence", silenceText),
    ]
    return ([heading(result["media_info"], source: source)] + table(rows)).joined(separator: "\n") + "\n"
  }

  /// `GET /media/jobs`'s items as a table, newest first as the server lists them.
  public static func jobs(_ items: [JSONValue]) -> String {
    guard !items.isEmpty else { return "no jobs\n" }
    var rows = [["JOB ID", "OPERATION", "STATUS", "PROGRESS", "SUBMITTED", "MEDIA"]]
    for item in items {
      // The path after /media/: `master/preview` stays apart from `master`.
      let path = item["path"].string ?? ""
      let operation = path.hasPrefix("/media/") ? String(path.dropFirst(7)) : path
      rows.append([
        item["job_id"].string ?? "", operation, item["status"].string ?? "",
        item["progress"].number.map { "\(Int($0))%" } ?? "", item["time_submitted"].string ?? "",
        item["duration"].number.map { $0 > 0 ? seconds($0) : "-" } ?? "-",
      ])
    }
    let widths = (0..<rows[0].count).map { column in rows.map { $0[column].count }.max() ?? 0 }
    return rows.map { row in
      row.enumerated().map { index, cell in
        index == row.count - 1 ? cell : cell + String(repeating: " ", count: widths[index] - cell.count)
      }.joined(separator: "  ")
    }.joined(separator: "\n") + "\n"
  }

  // MARK: Pieces

  static func heading(_ info: JSONValue, source: String) -> String {
    var parts: [String] = []
    if let duration = info["container"]["duration"].number ?? info["audio"]["duration"].number {
      parts.append(seconds(duration))
    }
    let audio = info["audio"]
    var audioParts: [String] = []
    if let codec = audio["codec"].string { audioParts.append(codec) }
    if let rate = audio["sample_rate"].number { audioParts.append("\(Int(rate)) Hz") }
    if let channels = audio["channels"].number {
      audioParts.append(channels == 1 ? "mono" : channels == 2 ? "stereo" : "\(Int(channels)) channels")
    }
    if !audioParts.isEmpty { parts.append(audioParts.joined(separator: " ")) }
    if let codec = info["video"]["codec"].string {
      let width = info["video"]["width"].number.map { String(Int($0)) } ?? "?"
      let height = info["video"]["height"].number.map { String(Int($0)) } ?? "?"
      parts.append("video \(codec) \(width)x\(height)")
    }
    return parts.isEmpty ? source : "\(source): " + parts.joined(separator: ", ")
  }

  static func table(_ rows: [(String, String)]) -> [String] {
    let width = rows.map(\.0.count).max() ?? 0
    return rows.map { "  " + $0.0 + String(repeating: " ", count: width - $0.0.count + 2) + $0.1 }
  }

  /// `-23.1 LUFS`; `n/a` when the value is missing (loudness of digital silence is -inf, sent as null).
  static func number(_ value: JSONValue, _ unit: String, space: Bool = true) -> String {
    guard let number = value.number else { return "n/a" }
    return String(format: "%.1f", number) + (space ? " " : "") + unit
  }

  static func sections(_ value: JSONValue, noun: String) -> String {
    let count = value["num_sections"].number.map { Int($0) } ?? 0
    var text = countText(count, noun: noun)
    if count > 0, let start = value["sections"][0]["start"].number { text += " (first at \(seconds(start)))" }
    return text
  }

  static func silence(_ value: JSONValue) -> String {
    let count = value["num_sections"].number.map { Int($0) } ?? 0
    guard count > 0 else { return "none" }
    return number(value["percentage"], "%", space: false) + " in " + countText(count, noun: "section")
  }

  static func countText(_ count: Int, noun: String) -> String {
    count == 0 ? "none" : "\(count) \(noun)\(count == 1 ? "" : "s")"
  }

  static func detail(_ value: JSONValue) -> String {
    guard let text = value.string, !text.isEmpty else { return "" }
    return " (\(text))"
  }

  /// `12.3 s`, `2 min 05 s`.
  static func seconds(_ value: Double) -> String {
    guard value >= 60 else { return String(format: "%.1f s", value) }
    let total = Int(value.rounded())
    let minutes = total / 60
    let secondsPart = total % 60
    return "\(minutes) min \(secondsPart < 10 ? "0" : "")\(secondsPart) s"
  }
}

extension JSONValue {
  /// The member `name` of an object, `.null` for anything else: lets reports walk optional paths.
  subscript(_ name: String) -> JSONValue { object?[name] ?? .null }

  /// The element at `index` of an array, `.null` otherwise.
  subscript(_ index: Int) -> JSONValue {
    if case .array(let items) = self, items.indices.contains(index) { return items[index] }
    return .null
  }

  /// The Boolean, if the value is one.
  var bool: Bool? {
    if case .bool(let b) = self { return b }
    return nil
  }
}
