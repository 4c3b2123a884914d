// Renders a job's status envelope `count` times with the byte writer Ferry uses (`JobStatusView.envelope`) or
// with a generic one built from the same view (a `JSONValue` tree printed by `description`; a `Codable` value
// through `JSONEncoder`), to decide whether the byte writer earns its keep (BENCHMARKS.md, "The status
// envelope's writer"). Count instructions per envelope with callgrind at two counts and take the difference:
//   valgrind --tool=callgrind --callgrind-out-file=/dev/null .build-bench/release/EnvelopeBench bytes success 2000
// usage: EnvelopeBench bytes|jsonvalue|codable pending|running|success|failed COUNT
import API
import Foundation
import JSON
import Jobs
import Log

let arguments = CommandLine.arguments
guard arguments.count == 4, let count = Int(arguments[3]) else {
  FileHandle.standardError.write(
    Data("usage: EnvelopeBench bytes|jsonvalue|codable pending|running|success|failed COUNT\n".utf8))
  exit(2)
}

let start = Date(millisecondsSince1970: 1_786_012_345_678)
var job = Job(
  owner: "app", path: "/media/analyze", sealedRequest: [1], requestDigest: "d", submittedAt: start,
  retention: .seconds(86_400 * 7), deadline: nil)
var deliveries: [Delivery] = []
switch arguments[2] {
case "pending": break
case "running":
  try job.claim(worker: "w", now: start + 1, lease: .seconds(30))
  try job.report(
    worker: "w", now: start + 3, lease: .seconds(30), phase: .downloading, progress: 37, bytesDone: 1_048_576,
    bytesTotal: 4_194_304)
case "success":
  try job.claim(worker: "w", now: start + 1, lease: .seconds(30))
  // The shape of an analyze result (abridged), about 600 bytes.
  let result =
    #"{"media_info":{"container":{"bitrate":1411200,"duration":61.2,"kind":"wav","size":10795008},"audio":{"bit_depth":16,"channels":2,"codec":"pcm_s16le","sample_rate":44100}},"loudness":{"measured":-18.42,"range":6.1,"gate_index":-28.6,"sample_peak":-0.97,"true_peak":-0.91},"noise":{"snr_average":31.7,"level_average":-62.3},"clipping":{"num_sections":0},"music":{"percentage":12.5},"speech":{"percentage":83.1,"events":{"speaker_count":2}}}"#
  try job.finish(.success(result: result), worker: "w", now: start + 64, maxAttempts: 3)
  deliveries = [
    Delivery(
      jobID: job.id, owner: "app", target: .onComplete, createdAt: start + 64,
      attempts: [DeliveryAttempt(at: start + 64.5, url: "https://hooks.example/done?token=REDACTED", status: 204)])
  ]
case "failed":
  let error = JobError(
    type: "/problems/input-file-access", title: "Input file access",
    detail: "input.url: the source answered 404 for https://media.example/in/talk.wav")
  for attempt in 0..<2 {
    try job.claim(worker: "w", now: start + Double(attempt * 10), lease: .seconds(30))
    try job.finish(
      .retry(error, delay: .seconds(5)), worker: "w", now: start + Double(attempt * 10 + 2), maxAttempts: 2)
  }
  deliveries = [
    Delivery(
      jobID: job.id, owner: "app", target: .onComplete, createdAt: start + 12,
      attempts: [
        DeliveryAttempt(at: start + 13, url: "https://hooks.example/a", status: nil, error: "timed out after 15 s"),
        DeliveryAttempt(at: start + 20, url: "https://hooks.example/a", status: 200),
      ])
  ]
default:
  FileHandle.standardError.write(Data("unknown job \(arguments[2])\n".utf8))
  exit(2)
}

func timestamp(_ date: Date) -> JSONValue {
  var bytes: [UInt8] = []
  Timestamp.appendISO8601(date, to: &bytes)
  return .string(String(decoding: bytes, as: UTF8.self))
}

/// The envelope as a `JSONValue` tree: the same fields, the result parsed to be part of the tree.
func jsonValue(_ view: JobStatusView) -> [UInt8] {
  let job = view.job
  var fields: [String: JSONValue] = [
    "api_version": "v1.1.2",
    "attempts": .array(
      job.attempts.map {
        .object(["at": timestamp($0.at), "attempt": .int($0.attempt), "error": .string($0.error)])
      }),
    "bytes_done": .int(Int(job.bytesDone)), "bytes_total": job.bytesTotal.map { .int(Int($0)) } ?? .null,
    "job_id": .string(job.id.text), "path": .string(job.path), "phase": .string(job.phase.rawValue),
    "progress": .int(job.progress), "status": .string(job.status.rawValue),
  ]
  if let deliveries = view.deliveries {
    fields["deliveries"] = .array(
      deliveries.map { attempt in
        var item: [String: JSONValue] = [
          "at": timestamp(attempt.at), "status": attempt.status.map { .int($0) } ?? .null, "url": .string(attempt.url),
        ]
        if let error = attempt.error { item["error"] = .string(error) }
        return .object(item)
      })
  }
  if let error = job.error {
    fields["error"] = .object([
      "detail": .string(error.detail), "details": .string(error.detail), "title": .string(error.title),
      "type": .string(error.type),
    ])
  }
  if let result = job.result { fields["result"] = try! JSONValue.parse(Data(result.utf8)) }
  return Array(JSONValue.object(fields).description.utf8)
}

/// The envelope as a `Codable` value through `JSONEncoder` (sorted keys, slashes unescaped).
struct CodableEnvelope: Encodable {
  struct Attempt: Encodable {
    var at: String
    var attempt: Int
    var error: String
  }
  struct DeliveryItem: Encodable {
    var at: String
    var error: String?
    var status: Int?
    var url: String
    func encode(to encoder: any Encoder) throws {
      var container = encoder.container(keyedBy: CodingKeys.self)
      try container.encode(at, forKey: .at)
      try container.encodeIfPresent(error, forKey: .error)
      try container.encode(status, forKey: .status)
      try container.encode(url, forKey: .url)
    }
    enum CodingKeys: String, CodingKey { case at, error, status, url }
  }
  struct ErrorItem: Encodable {
    var detail, details, title, type: String
  }
  var api_version = "v1.1.2"
  var attempts: [Attempt]
  var bytes_done: Int
  var bytes_total: Int?
  var deliveries: [DeliveryItem]?
  var error: ErrorItem?
  var job_id, path, phase: String
  var progress: Int
  var result: JSONValue?
  var status: String

  func encode(to encoder: any Encoder) throws {
    var container = encoder.container(keyedBy: CodingKeys.self)
    try container.encode(api_version, forKey: .api_version)
    try container.encode(attempts, forKey: .attempts)
    try container.encode(bytes_done, forKey: .bytes_done)
    try container.encode(bytes_total, forKey: .bytes_total)
    try container.encodeIfPresent(deliveries, forKey: .deliveries)
    try container.encodeIfPresent(error, forKey: .error)
    try container.encode(job_id, forKey: .job_id)
    try container.encode(path, forKey: .path)
    try container.encode(phase, forKey: .phase)
    try container.encode(progress, forKey: .progress)
    try container.encodeIfPresent(result, forKey: .result)
    try container.encode(status, forKey: .status)
  }
  enum CodingKeys: String, CodingKey {
    case api_version, attempts, bytes_done, bytes_total, deliveries, error, job_id, path, phase, progress, result,
      status
  }
}

func codable(_ view: JobStatusView, encoder: JSONEncoder) -> [UInt8] {
  let job = view.job
  let envelope = CodableEnvelope(
    attempts: job.attempts.map { .init(at: timestamp($0.at).string!, attempt: $0.attempt, error: $0.error) },
    bytes_done: Int(job.bytesDone), bytes_total: job.bytesTotal.map(Int.init),
    deliveries: view.deliveries?.map {
      .init(at: timestamp($0.at).string!, error: $0.error, status: $0.status, url: $0.url)
    },
    error: job.error.map { .init(detail: $0.detail, details: $0.detail, title: $0.title, type: $0.type) },
    job_id: job.id.text, path: job.path, phase: job.phase.rawValue, progress: job.progress,
    result: try! job.result.map { try JSONValue.parse(Data($0.utf8)) }, status: job.status.rawValue)
  return Array(try! encoder.encode(envelope))
}

let encoder = JSONEncoder()
encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
var total = 0
for _ in 0..<count {
  // The view is made per render, as the status route makes it per request.
  let view = JobStatusView(job, deliveries: deliveries)
  switch arguments[1] {
  case "bytes": total &+= view.envelope.count
  case "jsonvalue": total &+= jsonValue(view).count
  case "codable": total &+= codable(view, encoder: encoder).count
  default:
    FileHandle.standardError.write(Data("unknown writer \(arguments[1])\n".utf8))
    exit(2)
  }
}
print(total / max(count, 1))
