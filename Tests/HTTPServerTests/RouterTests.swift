import Testing

@testable import HTTPServer

private func ok(_ tag: String) -> Handler {
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
    return try await route.handler(Request(method: .get, path: "/")).text
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

  @Test func middlewareWrapsInOrder() async throws {
    struct Tagging: Middleware {
      let tag: String
      func handle(_ request: Request, next: Handler) async throws -> Response {
        var response = try await next(request)
        response.headers.add("X-Trail", tag)
        return response
      }
    }
    var router = Router()
    router.use(Tagging(tag: "outer"))
    router.use(Tagging(tag: "inner"))
    router.get("/x", ok("x"))
    guard case .found(let route, _) = router.match(.get, "/x") else {
      Issue.record("expected a match")
      return
    }
    let response = try await route.handler(Request(method: .get, path: "/x"))
    #expect(response.headers.values("X-Trail") == ["inner", "outer"])
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
