/// Answers a request without suspending: runs inline on the connection's event loop, with no task.
public typealias SyncHandler = @Sendable (Request) throws -> Response

/// Answers a request and may suspend (waiting on a store, a transfer, a process); runs in a task.
public typealias AsyncHandler = @Sendable (Request) async throws -> Response

/// A route's handler. Handlers that never suspend should be synchronous: a task costs about 2 µs per
/// request, a fifth of what the whole exchange costs (see BENCHMARKS.md).
public enum Handler: Sendable {
  case sync(SyncHandler)
  case async(AsyncHandler)
}

/// Runs around the handlers of the routes added after it: authentication, rate limiting, headers common to
/// a group of routes. Both hooks are synchronous, so one middleware serves synchronous and async handlers.
public protocol Middleware: Sendable {
  /// Before the handler: throw to answer with that error instead, or adjust the request.
  func prepare(_ request: inout Request) throws
  /// After the handler, on every answer it led to (an error from `prepare` or the handler included).
  func finish(_ request: Request, _ response: inout Response)
}

extension Middleware {
  public func prepare(_ request: inout Request) throws {}
  public func finish(_ request: Request, _ response: inout Response) {}
}

/// A check of a request's head made before its body is read (`Route.check`).
public typealias HeadCheck = @Sendable (Request) throws -> Void

/// How a route takes its request body.
public enum BodyPolicy: Sendable {
  /// Read the whole body into memory, refusing bodies over `limit` bytes (413).
  case buffered(limit: Int64)
  /// Stream the body to the sink `makeSink` returns for the request, refusing bodies over `limit` bytes.
  case streamed(limit: Int64, makeSink: @Sendable (Request) throws -> any RequestBodySink)

  /// The largest body accepted.
  public var limit: Int64 {
    switch self {
    case .buffered(let limit), .streamed(let limit, _): limit
    }
  }
}

/// A method, a path pattern, a body policy, a handler and the middleware around it.
public struct Route: Sendable {
  /// The method this route answers (a GET route answers HEAD too).
  public let method: HTTPMethod
  /// The path pattern.
  public let pattern: PathPattern
  /// How the body is read; nil means the server's default (buffered, `defaultBodyLimit`).
  public let body: BodyPolicy?
  /// A check of the request head made before a byte of the body is read (credentials): what it throws is
  /// answered at once and the connection closed, so a client that may not send a body cannot hold a
  /// connection open by sending it slowly.
  public let check: HeadCheck?
  /// The handler.
  public let handler: Handler
  /// Middleware in the order it was added: `prepare` runs first to last, `finish` last to first.
  public let middleware: [any Middleware]
  /// The route's position in its router (`Router.patterns`): a key for per-route counters that costs no
  /// string hashing per request.
  public let index: Int
}

/// A path pattern: literal segments, `:name` parameters and an optional trailing `*` that takes the rest.
///
/// Parameter values are percent-decoded, so they may hold `/`, `..` or NUL: a handler that turns one into a
/// file path must validate it first.
public struct PathPattern: Sendable, Equatable, CustomStringConvertible {
  enum Segment: Sendable, Equatable {
    case literal(String)
    case parameter(String)
    case rest
  }

  let segments: [Segment]
  /// The pattern as written.
  public let description: String

  /// Parses `/media/:name/*`.
  public init(_ pattern: String) {
    description = pattern
    let parts = pattern.split(separator: "/", omittingEmptySubsequences: false).dropFirst()
    segments = parts.enumerated().map { index, part in
      if part == "*" && index == parts.count - 1 { return .rest }
      if part.hasPrefix(":") { return .parameter(String(part.dropFirst())) }
      return .literal(String(part))
    }
  }

  var isLiteral: Bool { segments.allSatisfy { if case .literal = $0 { true } else { false } } }

  /// The parameters if `path` (percent-encoded, starting with `/`) matches.
  func match(_ path: Substring) -> [String: String]? {
    var parameters: [String: String] = [:]
    var remaining = path.dropFirst()
    for (index, segment) in segments.enumerated() {
      let end = remaining.firstIndex(of: "/") ?? remaining.endIndex
      let part = remaining[..<end]
      switch segment {
      case .literal(let literal):
        guard part == literal else { return nil }
      case .parameter(let name):
        guard !part.isEmpty else { return nil }
        parameters[name] = FormDecoding.decode(part)
      case .rest:
        guard !remaining.isEmpty else { return nil }
        parameters["*"] = FormDecoding.decode(remaining)
        return parameters
      }
      let isLast = index == segments.count - 1
      if isLast {
        guard end == remaining.endIndex else { return nil }
      } else {
        guard end < remaining.endIndex else { return nil }
        remaining = remaining[remaining.index(after: end)...]
      }
    }
    return parameters
  }
}

/// What the router found for a method and path.
public enum RouteMatch: Sendable {
  /// A route, with the path's parameters.
  case found(Route, parameters: [String: String])
  /// The path exists, but not for this method.
  case methodNotAllowed(allow: [HTTPMethod])
  /// Nothing at this path.
  case notFound
}

/// Maps methods and paths to routes. Literal paths are found by one dictionary lookup; patterns with
/// parameters are tried in the order they were added.
public struct Router: Sendable {
  private var routes: [Route] = []
  private var literal: [String: [Int]] = [:]
  private var patterned: [Int] = []
  private var middleware: [any Middleware] = []
  /// Cross-origin access for browser pages on the paths it covers: it answers their preflights and marks
  /// every answer there, matched to a route or not (`preflight`, `finish`). Nil: no cross-origin access.
  public var crossOrigin: CrossOriginPolicy?

  public init() {}

  /// Adds `middleware` around every route added after this call (the first added runs outermost).
  public mutating func use(_ middleware: any Middleware) {
    self.middleware.append(middleware)
  }

  /// Adds a route. `body` overrides the server's default body policy for it; `check` runs on the head before
  /// the body is read.
  public mutating func add(
    _ method: HTTPMethod, _ path: String, body: BodyPolicy? = nil, check: HeadCheck? = nil,
    _ handler: Handler
  ) {
    let pattern = PathPattern(path)
    routes.append(
      Route(
        method: method, pattern: pattern, body: body, check: check, handler: handler, middleware: middleware,
        index: routes.count))
    if pattern.isLiteral {
      literal[path, default: []].append(routes.count - 1)
    } else {
      patterned.append(routes.count - 1)
    }
  }

  public mutating func get(_ path: String, _ handler: @escaping SyncHandler) { add(.get, path, .sync(handler)) }
  public mutating func get(_ path: String, _ handler: @escaping AsyncHandler) { add(.get, path, .async(handler)) }
  public mutating func post(
    _ path: String, body: BodyPolicy? = nil, check: HeadCheck? = nil,
    _ handler: @escaping SyncHandler
  ) {
    add(.post, path, body: body, check: check, .sync(handler))
  }
  public mutating func post(
    _ path: String, body: BodyPolicy? = nil, check: HeadCheck? = nil,
    _ handler: @escaping AsyncHandler
  ) {
    add(.post, path, body: body, check: check, .async(handler))
  }
  public mutating func put(
    _ path: String, body: BodyPolicy? = nil, check: HeadCheck? = nil,
    _ handler: @escaping SyncHandler
  ) {
    add(.put, path, body: body, check: check, .sync(handler))
  }
  public mutating func put(
    _ path: String, body: BodyPolicy? = nil, check: HeadCheck? = nil,
    _ handler: @escaping AsyncHandler
  ) {
    add(.put, path, body: body, check: check, .async(handler))
  }
  public mutating func delete(_ path: String, _ handler: @escaping SyncHandler) { add(.delete, path, .sync(handler)) }
  public mutating func delete(_ path: String, _ handler: @escaping AsyncHandler) {
    add(.delete, path, .async(handler))
  }

  /// The answer to a request that no route takes by its method, when it is an `OPTIONS` on a path
  /// `crossOrigin` covers (a browser's preflight); nil otherwise (the answer is a 405).
  public func preflight(_ method: HTTPMethod, _ path: Substring, headers: HTTPHeaders, allow: [HTTPMethod])
    -> Response?
  {
    guard method == .options, let crossOrigin, crossOrigin.covers(path) else { return nil }
    return crossOrigin.preflight(headers: headers, allow: allow)
  }

  /// What every answer gets last, whatever produced it: the cross-origin headers on covered paths.
  public func finish(_ response: inout Response, path: Substring, headers: HTTPHeaders) {
    crossOrigin?.decorate(&response, path: path, headers: headers)
  }

  /// Every route's pattern as written, by `Route.index`.
  public var patterns: [String] { routes.map(\.pattern.description) }

  /// Finds the route for `method` and `path` (percent-encoded, without the query). HEAD falls back to GET.
  public func match(_ method: HTTPMethod, _ path: Substring) -> RouteMatch {
    let literalIndexes = literal[String(path)]
    // Fast path: the common case of an exact hit allocates nothing.
    if let literalIndexes {
      for i in literalIndexes where routes[i].method == method { return .found(routes[i], parameters: [:]) }
    }
    var candidates: [(Route, [String: String])] = []
    if let indexes = literalIndexes {
      for i in indexes { candidates.append((routes[i], [:])) }
    }
    for i in patterned {
      if let parameters = routes[i].pattern.match(path) { candidates.append((routes[i], parameters)) }
    }
    guard !candidates.isEmpty else { return .notFound }
    if let hit = candidates.first(where: { $0.0.method == method }) { return .found(hit.0, parameters: hit.1) }
    if method == .head, let hit = candidates.first(where: { $0.0.method == .get }) {
      return .found(hit.0, parameters: hit.1)
    }
    var allow: [HTTPMethod] = []
    for (route, _) in candidates where !allow.contains(route.method) {
      allow.append(route.method)
      if route.method == .get && !allow.contains(.head) { allow.append(.head) }
    }
    return .methodNotAllowed(allow: allow)
  }
}
