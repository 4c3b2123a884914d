import Foundation
import JSON
import Jobs
import Locations
import Media
import Storage
import Transfer

// What one submission costs before it reaches the store, step by step: reading the body, validating it into
// its spec, and encoding the spec for sealing. Built by `FERRY_BENCH=1` only (see BENCHMARKS.md).
let body = Array(
  #"{"input": "dlb://in/talk-12345678.wav", "output": "dlb://out/talk-12345678.wav", "content": {"type": "podcast"}, "audio": {"noise": {"reduction": {"enable": true, "amount": "high"}}}}"#
    .utf8)
let transfers = JobTransfers(
  client: TransferClient(policy: NetworkPolicy()),
  requests: LocationRequests(s3: S3Requests(addressing: S3Addressing(endpoint: nil))),
  storage: .local(LocalStorage(root: NSTemporaryDirectory())), multipartThreshold: 1 << 30, partSize: 1 << 24,
  parallelParts: 1)
let enhance = EnhanceOperation(transfers: transfers, tools: MediaTools())
let iterations = Int(CommandLine.arguments.dropFirst().first ?? "") ?? 20000

func time(_ name: String, _ body: () throws -> Void) rethrows {
  let start = ContinuousClock.now
  for _ in 0..<iterations { try body() }
  let elapsed = ContinuousClock.now - start
  let micros = Double(elapsed.components.seconds) * 1e6 + Double(elapsed.components.attoseconds) / 1e12
  print("\(name): \(String(format: "%.2f", micros / Double(iterations))) µs")
}

let json = try JSONValue.parse(Data(body))
let spec = try enhance.validate(json)
try time("parse (JSONParser)") { _ = try JSONValue.parse(Data(body)) }
try time("parse (Foundation JSONDecoder)") { _ = try JSONDecoder().decode(JSONValue.self, from: Data(body)) }
try time("validate") { _ = try enhance.validate(json) }
try time("encode spec (StoredRequest.encoded)") { _ = try StoredRequest(spec: spec).encoded() }
try time("admit (validate + encode)") { _ = try enhance.admit(json) }
let operation: any JobOperation = enhance
try time("admit through any JobOperation (as the API calls it)") { _ = try operation.admit(json) }
let cipher = RequestCipher(masterKey: [UInt8](repeating: 1, count: 32))
let payload = try operation.admit(json).payload
print("payload bytes: \(payload.count), body bytes: \(body.count)")
time("seal payload") { _ = cipher.seal(payload, job: UUID()) }
time("digest body") { _ = cipher.digest(body) }

// The same on two threads at once, as the event loops call it.
func timeConcurrently(_ name: String, _ body: @escaping @Sendable () throws -> Void) {
  let start = ContinuousClock.now
  DispatchQueue.concurrentPerform(iterations: 2) { _ in
    for _ in 0..<iterations { try? body() }
  }
  let elapsed = ContinuousClock.now - start
  let micros = Double(elapsed.components.seconds) * 1e6 + Double(elapsed.components.attoseconds) / 1e12
  print("\(name), 2 threads: \(String(format: "%.2f", micros / Double(iterations))) µs per pair")
}
let shared = operation
timeConcurrently("admit") { _ = try shared.admit(json) }
timeConcurrently("parse (JSONParser)") { _ = try JSONValue.parse(Data(body)) }
timeConcurrently("parse (Foundation JSONDecoder)") { _ = try JSONDecoder().decode(JSONValue.self, from: Data(body)) }
timeConcurrently("validate only") { _ = try enhance.validate(json) }
timeConcurrently("encode with a new JSONEncoder each time") { _ = try JSONEncoder().encode(spec) }
let sharedEncoder = JSONEncoder()
timeConcurrently("encode with one shared JSONEncoder") { _ = try sharedEncoder.encode(spec) }
