import Log
import Testing

@testable import HTTPServer

private func ok(_ tag: String) -> SyncHandler {
  { _ in .text(tag) }
}

@Suite struct RouterTests {
  func router() -> Router {
    var router = Router()
    router.get("/media/enhance", ok("get-enhance"))
    router.post("/media/enhance", ok("post-enhance"))
    router.get("/storage/v1/:owner/*", ok("storage"))
    router.get("/jobs/:id", ok("job"))
    return router
  }

  private func tag(_ match: RouteMatch) async throws -> String? {
    guard case .found(let route, _) = match else { return nil }
    return try await route.run(Request(method: .get, path: "/")).text
  }

  @Test func matchesLiteralPathsByMethod() async throws {
    #expect(try await tag(router().match(.get, "/media/enhance")) == "get-enhance")
    #expect(try await tag(router().match(.post, "/media/enhance")) == "post-enhance")
  }

  @Test func headFallsBackToGet() async throws {
    #expect(try await tag(router().match(.head, "/media/enhance")) == "get-enhance")
  }

  @Test func wrongMethodListsAllowedOnes() {
    guard case .methodNotAllowed(let allow) = router().match(.delete, "/media/enhance") else {
      Issue.record("expected 405")
      return
    }
    #expect(allow == [.get, .head, .post])
  }

  @Test func unknownPathIsNotFound() {
    guard case .notFound = router().match(.get, "/media/nope") else {
      Issue.record("expected 404")
      return
    }
    guard case .notFound = router().match(.get, "/media/enhance/extra") else {
      Issue.record("expected 404 for a longer path")
      return
    }
  }

  @Test func capturesDecodedParametersAndTheRest() {
    guard case .found(_, let parameters) = router().match(.get, "/storage/v1/abc/in/my%20file.wav") else {
      Issue.record("expected a match")
      return
    }
    #expect(parameters["owner"] == "abc")
    #expect(parameters["*"] == "in/my file.wav")
    guard case .found(_, let job) = router().match(.get, "/jobs/42") else {
      Issue.record("expected a match")
      return
    }
    #expect(job["id"] == "42")
    guard case .notFound = router().match(.get, "/jobs/") else {
      Issue.record("an empty parameter does not match")
      return
    }
  }

  @Test func middlewarePreparesInOrderAndFinishesInReverse() async throws {
    struct Tagging: Middleware {
      let tag: String
      func prepare(_ request: inout Request) throws {
        request.headers.add("X-Seen", tag)
      }
      func finish(_ request: Request, _ response: inout Response) {
        response.headers.add("X-Trail", tag)
      }
    }
    var router = Router()
    router.use(Tagging(tag: "outer"))
    router.use(Tagging(tag: "inner"))
    router.get("/x") { request in .text(request.headers.values("X-Seen").joined(separator: ",")) }
    router.get("/y") { request async in .text(request.headers.values("X-Seen").joined(separator: ",")) }
    for path in ["/x", "/y"] {
      guard case .found(let route, _) = router.match(.get, Substring(path)) else {
        Issue.record("expected a match")
        return
      }
      let response = try await route.run(Request(method: .get, path: path))
      #expect(response.text == "outer,inner")
      #expect(response.headers.values("X-Trail") == ["inner", "outer"])
    }
  }

  @Test func middlewareCanRejectBeforeTheHandlerRuns() async throws {
    struct Deny: Middleware {
      func prepare(_ request: inout Request) throws { throw HTTPError.notFound("denied") }
    }
    var router = Router()
    router.get("/open", ok("open"))
    router.use(Deny())
    router.get("/closed", ok("closed"))
    guard case .found(let open, _) = router.match(.get, "/open"),
      case .found(let closed, _) = router.match(.get, "/closed")
    else {
      Issue.record("expected matches")
      return
    }
    #expect(try await open.run(Request(method: .get, path: "/open")).text == "open")
    await #expect(throws: HTTPError.self) { try await closed.run(Request(method: .get, path: "/closed")) }
  }

  @Test func syncAndAsyncClosuresPickTheirHandlerKind() {
    var router = Router()
    router.get("/s") { _ in .text("s") }
    router.get("/a") { _ in
      await Task.yield()
      return .text("a")
    }
    guard case .found(let s, _) = router.match(.get, "/s"), case .found(let a, _) = router.match(.get, "/a") else {
      Issue.record("expected matches")
      return
    }
    if case .sync = s.handler {} else { Issue.record("a closure without await is a synchronous handler") }
    if case .async = a.handler {} else { Issue.record("a closure with await is an async handler") }
  }

  @Test func problemAnswersCarryTheFourFields() throws {
    let response = Response.problem(.methodNotAllowed(.delete, allow: [.get]))
    #expect(response.status.code == 405)
    #expect(response.headers["Content-Type"] == "application/problem+json")
    #expect(response.headers["Allow"] == "GET")
    #expect(
      response.text
        == #"{"type":"/problems/method-not-allowed","status":405,"title":"Method not allowed","detail":"DELETE is not allowed here; use GET."}"#
    )
  }
}

extension Response {
  var text: String { String(decoding: body, as: UTF8.self) }
}

extension Route {
  /// Runs middleware and handler the way a connection does (errors are thrown, not turned into answers).
  func run(_ request: Request) async throws -> Response {
    var request = request
    for middleware in middleware { try middleware.prepare(&request) }
    var response: Response
    switch handler {
    case .sync(let handler): response = try handler(request)
    case .async(let handler): response = try await handler(request)
    }
    for middleware in middleware.reversed() { middleware.finish(request, &response) }
    return response
  }
}

@Suite struct QueryValueTests {
  @Test func queryValue_findsTheFirstMatchingName_decodingOnlyWhatItReturns() {
    func value(_ query: String?, _ name: String) -> String? {
      Request(method: .get, path: "/", query: query).queryValue(name)
    }
    #expect(value("job_id=abc&x=1", "job_id") == "abc")
    #expect(value("job_idx=1&job_id=2", "job_id") == "2")
    #expect(value("a=1&a=2", "a") == "1")
    #expect(value("a=x%20y+z&b", "a") == "x y z")
    #expect(value("b&a=", "b") == "" && value("b&a=", "a") == "")
    #expect(value("url=dlb%3A%2F%2Fin%2Fa.wav", "url") == "dlb://in/a.wav")
    #expect(value("job%5Fid=7&c=%ZZ", "job_id") == "7" && value("c=%ZZ", "c") == "%ZZ")
    #expect(value("my+name=v", "my name") == "v")
    #expect(value(nil, "a") == nil && value("", "a") == nil && value("&&", "a") == nil && value("a=1", "b") == nil)
  }
}

/// Adds a header on the way in and another on the way out; refuses requests that carry `X-Refuse`.
private struct Stamp: Middleware {
  let name: String
  func prepare(_ request: inout Request) throws {
    if request.headers["X-Refuse"] != nil { throw HTTPError(.forbidden, detail: "refused by \(name)") }
    request.headers.add("X-Seen", name)
  }
  func finish(_ request: Request, _ response: inout Response) { response.headers.add("X-Finished", name) }
}

private struct AHandlerBug: Error {}

@Suite struct RouterRespondTests {
  let logs = MemoryLogSink()

  func router() -> Router {
    var router = Router()
    router.get("/open") { _ in .text("open") }
    router.use(Stamp(name: "outer"))
    router.use(Stamp(name: "inner"))
    router.get("/jobs/:id") { request in .text("\(request.parameters["id"] ?? "") \(request.headers.values("X-Seen"))")
    }
    router.post("/small", body: .buffered(limit: 4)) { request async in .text("\(request.body.bytes.count) bytes") }
    router.get("/bug") { _ in throw AHandlerBug() }
    return router
  }

  func respond(_ request: Request) async -> Response {
    await router().respond(to: request, logger: Logger(level: .debug, sink: logs))
  }

  @Test func aRoute_getsItsParameters_throughItsMiddleware_inOrder() async {
    let response = await respond(Request(method: .get, path: "/jobs/a%20b"))
    #expect(response.status.code == 200 && response.text == #"a b ["outer", "inner"]"#)
    #expect(response.headers.values("X-Finished") == ["inner", "outer"])
    let open = await respond(Request(method: .get, path: "/open"))
    #expect(open.text == "open" && open.headers["X-Finished"] == nil, "middleware wraps only later routes")
  }

  @Test func unknownPaths_wrongMethods_andLargeBodies_getTheServersProblems() async {
    #expect(await respond(Request(method: .get, path: "/nothing")).status.code == 404)
    let wrong = await respond(Request(method: .delete, path: "/open"))
    #expect(wrong.status.code == 405 && wrong.headers["Allow"] == "GET, HEAD")
    let large = await respond(Request(method: .post, path: "/small", body: .bytes([1, 2, 3, 4, 5])))
    #expect(large.status.code == 413 && large.headers["Content-Type"] == "application/problem+json")
    #expect(await respond(Request(method: .post, path: "/small", body: .bytes([1, 2, 3, 4]))).text == "4 bytes")
  }

  @Test func thrownErrors_becomeProblems_andOnlyPreparedMiddlewareFinishes() async {
    let refused = await respond(Request(method: .get, path: "/jobs/1", headers: ["X-Refuse": "1"]))
    #expect(refused.status.code == 403 && refused.text.contains("refused by outer"))
    #expect(refused.headers.values("X-Finished").isEmpty, "outer threw: nothing was prepared")
    let bug = await respond(Request(method: .get, path: "/bug", id: "req-1"))
    #expect(bug.status.code == 500 && bug.text.contains("req-1"))
    #expect(bug.headers.values("X-Finished") == ["inner", "outer"])
    #expect(logs.all.contains { $0.contains("unhandled error") && $0.contains("req-1") })
  }
}
