import Log
import Problems
import Testing

@testable import HTTPServer

/// CORS through `Router.respond`, no socket: preflights answered before any route or check, and the origin
/// headers on every answer of a covered path, errors included.
@Suite struct CrossOriginPolicyTests {
  func router(_ origins: CrossOriginPolicy.Origins) -> Router {
    var router = Router()
    // A check that refuses everything: a preflight must never reach it.
    let refuse: HeadCheck = { _ in throw HTTPError(.unauthorized, detail: "no credentials") }
    router.post("/media/enhance", check: refuse) { _ in .text("posted") }
    router.get("/media/enhance") { _ in
      throw HTTPError(.tooManyRequests, detail: "slow down", headers: ["Retry-After": "3"])
    }
    router.post("/v1/auth/token") { _ in .text("token") }
    router.get("/dashboard") { _ in .text("page") }
    router.crossOrigin = CrossOriginPolicy(origins: origins, paths: ["/media/", "/v1/auth/token"])
    return router
  }

  func send(_ router: Router, _ method: HTTPMethod, _ path: String, _ headers: HTTPHeaders) async -> Response {
    await router.respond(
      to: Request(method: method, path: path, headers: headers), logger: Logger(level: .error, sink: MemoryLogSink()))
  }

  let preflightHeaders: HTTPHeaders = [
    "Origin": "http://127.0.0.1:3000", "Access-Control-Request-Method": "POST",
    "Access-Control-Request-Headers": "authorization, content-type",
  ]

  @Test func aPreflight_isAnswered204_withoutCredentialsOrARoute() async {
    let answer = await send(router(.any), .options, "/media/enhance", preflightHeaders)
    #expect(answer.status == .noContent && answer.body.isEmpty)
    #expect(answer.headers["Access-Control-Allow-Origin"] == "*")
    #expect(answer.headers["Access-Control-Allow-Methods"] == "POST, GET, HEAD")
    let allowed = answer.headers["Access-Control-Allow-Headers"]?.lowercased() ?? ""
    for header in ["authorization", "content-type", "x-api-key"] { #expect(allowed.contains(header)) }
    #expect(answer.headers["Access-Control-Max-Age"] == "7200")
    #expect(answer.headers["Allow"] == "POST, GET, HEAD, OPTIONS")
    #expect(answer.headers["Vary"] == nil, "any origin: one answer for all")
    // The token route too; a plain OPTIONS (no Origin) is told what the path takes.
    #expect(await send(router(.any), .options, "/v1/auth/token", preflightHeaders).status == .noContent)
    let plain = await send(router(.any), .options, "/media/enhance", [:])
    #expect(plain.status == .noContent && plain.headers["Access-Control-Allow-Methods"] == nil)
  }

  @Test func answers_errorsIncluded_letAPageReadThem() async {
    let origin: HTTPHeaders = ["Origin": "http://127.0.0.1:3000"]
    // Refused by the check before the body: a 401 the page can read.
    let refused = await send(router(.any), .post, "/media/enhance", origin)
    #expect(refused.status.code == 401 && refused.headers["Access-Control-Allow-Origin"] == "*")
    // A 429 whose Retry-After the page's script may read.
    let limited = await send(router(.any), .get, "/media/enhance", origin)
    #expect(limited.status.code == 429 && limited.headers["Access-Control-Allow-Origin"] == "*")
    let exposed = limited.headers["Access-Control-Expose-Headers"] ?? ""
    for header in ["Retry-After", "Location", "X-Request-Id", "WWW-Authenticate"] { #expect(exposed.contains(header)) }
    // No route, wrong method: still readable.
    #expect(await send(router(.any), .get, "/media/nope", origin).headers["Access-Control-Allow-Origin"] == "*")
    #expect(await send(router(.any), .delete, "/media/enhance", origin).status == .methodNotAllowed)
    // Without an Origin (not a browser's cross-origin call) nothing is added.
    #expect(await send(router(.any), .post, "/v1/auth/token", [:]).headers["Access-Control-Allow-Origin"] == nil)
  }

  @Test func pathsNotCovered_areAsBefore() async {
    let answer = await send(router(.any), .get, "/dashboard", ["Origin": "http://127.0.0.1:3000"])
    #expect(answer.status == .ok && answer.headers["Access-Control-Allow-Origin"] == nil)
    #expect(await send(router(.any), .options, "/dashboard", preflightHeaders).status == .methodNotAllowed)
  }

  @Test func aListOfOrigins_echoesAMatch_variesByOrigin_andRefusesOthersPreflight() async {
    let listed = router(.only(["https://app.example", "http://127.0.0.1:3000"]))
    let ok = await send(listed, .post, "/v1/auth/token", ["Origin": "HTTPS://App.Example"])
    #expect(ok.headers["Access-Control-Allow-Origin"] == "HTTPS://App.Example" && ok.headers["Vary"] == "Origin")
    let preflight = await send(listed, .options, "/media/enhance", preflightHeaders)
    #expect(preflight.status == .noContent)
    #expect(preflight.headers["Access-Control-Allow-Origin"] == "http://127.0.0.1:3000")
    // Another origin: answered (CORS is not access control), but nothing lets the page read it.
    let other = await send(listed, .post, "/v1/auth/token", ["Origin": "https://evil.example"])
    #expect(other.status == .ok && other.headers["Access-Control-Allow-Origin"] == nil)
    #expect(other.headers["Vary"] == "Origin")
    var evil = preflightHeaders
    evil.replace("Origin", "https://evil.example")
    let refused = await send(listed, .options, "/media/enhance", evil)
    #expect(refused.status == .forbidden && refused.headers["Access-Control-Allow-Origin"] == nil)
    #expect(String(decoding: refused.body, as: UTF8.self).contains("/problems/forbidden"))
    // No origins at all: no page may read.
    let none = router(.only([]))
    #expect(await send(none, .options, "/media/enhance", preflightHeaders).status == .forbidden)
  }
}
