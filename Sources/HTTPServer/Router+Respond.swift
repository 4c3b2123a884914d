import Log
import Problems

extension Response {
  /// The answer for an error a handler or middleware threw: a `ProblemError` says its own; a cancellation is
  /// a 503; anything else is a bug, logged with the request id and answered 500.
  public static func answer(to error: any Error, requestID: String, logger: Logger) -> Response {
    if let error = error as? any ProblemError {
      return .problem(error)
    }
    if error is CancellationError {
      // The connection closed or the server is stopping: expected, not a bug.
      return .problem(.serviceUnavailable("The request was cancelled: the server is stopping or the client left."))
    }
    logger.error(
      "unhandled error", ["request_id": .string(requestID), "error": .string(String(reflecting: error))])
    return .problem(.internalError(requestID: requestID))
  }
}

extension Router {
  /// Answers a request whose body is already read, as the server does once it has the request: finds the
  /// route (404, or 405 with `Allow`, or a cross-origin preflight's answer), runs the route's check, refuses a body over the route's limit (413),
  /// runs the middleware and the handler, turns what they throw into its problem answer, and finishes the answer
  /// (`finish`: cross-origin headers). Drives controllers without a socket (tests);
  /// the server itself runs the same steps on its event loop, without a task for synchronous handlers.
  public func respond(to request: Request, defaultBodyLimit: Int64 = 1 << 20, logger: Logger) async -> Response {
    var response = await answer(request, defaultBodyLimit: defaultBodyLimit, logger: logger)
    finish(&response, path: Substring(request.path), headers: request.headers)
    return response
  }

  private func answer(_ request: Request, defaultBodyLimit: Int64, logger: Logger) async -> Response {
    var request = request
    let route: Route
    switch match(request.method, Substring(request.path)) {
    case .found(let found, let parameters):
      route = found
      request.parameters = parameters
    case .methodNotAllowed(let allow):
      if let preflight = preflight(request.method, Substring(request.path), headers: request.headers, allow: allow) {
        return preflight
      }
      return .problem(HTTPError.methodNotAllowed(request.method, allow: allow))
    case .notFound:
      return .problem(HTTPError.notFound())
    }
    if let check = route.check {
      do {
        try check(request)
      } catch {
        return .answer(to: error, requestID: request.id, logger: logger)
      }
    }
    let limit = (route.body ?? .buffered(limit: defaultBodyLimit)).limit
    if case .bytes(let bytes) = request.body, Int64(bytes.count) > limit {
      return .problem(HTTPError.payloadTooLarge(limit: limit))
    }
    var prepared = 0
    var response: Response
    do {
      for middleware in route.middleware {
        try middleware.prepare(&request)
        prepared += 1
      }
      switch route.handler {
      case .sync(let handler): response = try handler(request)
      case .async(let handler): response = try await handler(request)
      }
    } catch {
      response = .answer(to: error, requestID: request.id, logger: logger)
    }
    // Only the middleware that prepared this request gets to finish it, innermost first.
    for middleware in route.middleware.prefix(prepared).reversed() {
      middleware.finish(request, &response)
    }
    return response
  }
}
