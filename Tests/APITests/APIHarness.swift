import API
import Foundation
import HTTPServer
import Jobs
import Locations
import Log
import Media
import Storage
import TestSupport
import Transfer

/// The API's controllers on one router with the in-memory store and no socket: requests are built as values
/// and answered by `Router.respond(to:)`. Two apps (`app-a`, with the legacy key `legacy-a`, and `app-b`), the
/// copy operation at `/media/copy`, and no workers: submitted jobs stay `Pending` until cancelled.
final class APIHarness: Sendable {
  let router: Router
  let store = InMemoryJobStore()
  let logs = MemoryLogSink()
  /// The rate limiter's clock: it moves only when a test moves it.
  let clock = ManualClock()
  /// The issuer the routes verify tokens with (tests make tokens issued in the past with it).
  let tokens: TokenIssuer

  init(ratePerSecond: Double = 100_000, rateBurst: Int = 100_000) throws {
    let masterKey = [UInt8](repeating: 9, count: 32)
    let cipher = RequestCipher(masterKey: masterKey)
    let logger = Logger(level: .info, sink: logs)
    let registry = AppRegistry([
      AppCredentials(key: "app-a", secret: "secret-a", apiKey: "legacy-a"),
      AppCredentials(key: "app-b", secret: "secret-b"),
    ])
    let tokens = TokenIssuer(masterKey: masterKey)
    self.tokens = tokens
    let storage = LocalStorage(root: try makeTemporaryDirectory("ferry-api") + "/storage")
    let transfers = JobTransfers(
      client: TransferClient(policy: try NetworkPolicy(allow: ["127.0.0.0/8"])),
      requests: LocationRequests(s3: S3Requests(addressing: S3Addressing(endpoint: nil))), storage: .local(storage),
      multipartThreshold: 5 << 20, partSize: 5 << 20, parallelParts: 2)
    let service = JobService(
      store: store, pool: nil, cipher: cipher, admission: AdmissionControl(concurrency: 2, margin: .seconds(60)),
      estimator: RunTimeEstimator(), retention: .seconds(31 * 86400))
    let clock = self.clock
    let authenticator = Authenticator(
      apps: registry, tokens: tokens,
      limiter: RateLimiter(perSecond: ratePerSecond, burst: rateBurst) { clock.date.timeIntervalSince1970 })
    var router = Router()
    AuthController(apps: registry, tokens: tokens, defaultLifetime: 1800).register(in: &router)
    JobsController(
      authenticator: authenticator, service: service, pool: nil, operations: [CopyOperation(transfers: transfers)],
      maxBodyBytes: 1 << 20, logger: logger
    ).register(in: &router)
    WebhooksController(authenticator: authenticator, store: store, cipher: cipher, logger: logger)
      .register(in: &router)
    self.router = router
  }

  /// `method path?query` with `headers` and a JSON `body` (`Content-Type: application/json` unless given).
  func request(_ method: String, _ target: String, headers: [String: String] = [:], body: String? = nil) async
    -> APIResponse
  {
    let parts = target.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
    var fields = HTTPHeaders()
    for (name, value) in headers { fields.add(name, value) }
    if body != nil && headers["Content-Type"] == nil { fields.add("Content-Type", "application/json") }
    let request = Request(
      method: HTTPMethod(method), path: String(parts[0]), query: parts.count > 1 ? String(parts[1]) : nil,
      headers: fields, body: body.map { .bytes(Array($0.utf8)) } ?? .none)
    return APIResponse(await router.respond(to: request, logger: Logger(level: .info, sink: logs)))
  }

  /// A Bearer token for an app.
  func token(key: String, secret: String) async throws -> String {
    let basic = Data("\(key):\(secret)".utf8).base64EncodedString()
    let response = await request(
      "POST", "/v1/auth/token",
      headers: ["Authorization": "Basic \(basic)", "Content-Type": "application/x-www-form-urlencoded"],
      body: "grant_type=client_credentials")
    guard let token = response.json["access_token"] as? String else {
      throw APIHarnessError(description: "no token: \(response.status) \(response.text)")
    }
    return token
  }
}

struct APIHarnessError: Error, CustomStringConvertible { var description: String }

/// An answer as a client reads it.
struct APIResponse {
  let response: Response

  init(_ response: Response) { self.response = response }

  var status: Int { response.status.code }
  var text: String { String(decoding: response.body, as: UTF8.self) }
  func header(_ name: String) -> String? { response.headers[name] }
  /// The body as a JSON object (empty when it is not one).
  var json: [String: Any] {
    (try? JSONSerialization.jsonObject(with: Data(response.body))) as? [String: Any] ?? [:]
  }
}
