import Dispatch
import Foundation
import HTTPServer
import Log

/// The composition root: builds the HTTP server and everything behind it from a `FerryConfiguration`,
/// starts it and stops it.
public final class FerryApplication: Sendable {
  /// The configuration in force.
  public let configuration: FerryConfiguration
  /// The application logger.
  public let logger: Logger
  private let server: HTTPServer

  /// Wires the application; nothing listens until `start()`.
  public init(configuration: FerryConfiguration, logger: Logger) throws {
    self.configuration = configuration
    self.logger = logger
    var router = Router()
    HealthController(configuration: configuration).register(in: &router)
    let http = HTTPServerConfiguration(
      host: configuration.server.host, port: configuration.server.port,
      maxConnections: configuration.server.maxConnections, headerTimeout: configuration.server.headerTimeout,
      idleTimeout: configuration.server.idleTimeout, defaultBodyLimit: Int64(configuration.server.maxJSONBodyBytes))
    server = try HTTPServer(configuration: http, router: router, logger: logger)
  }

  /// Prepares the data directory, starts listening and logs the `listening` line; returns the bound port.
  @discardableResult
  public func start() throws -> Int {
    try FileManager.default.createDirectory(
      atPath: configuration.dataDirectory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
    try server.start()
    let port = server.port
    logger.info(
      "listening",
      [
        "host": .string(configuration.server.host), "port": .int(port),
        "public_url": .string(configuration.publicURL(boundPort: port)), "version": .string(FerryVersion.current),
      ])
    logger.flush()
    return port
  }

  /// Stops accepting, lets in-flight requests finish within `server.shutdown_grace_s`, then stops.
  public func shutdown() async {
    logger.info("shutting down", ["grace_s": .double(configuration.server.shutdownGrace.seconds)])
    await server.shutdown(grace: configuration.server.shutdownGrace)
    logger.info("stopped")
    logger.flush()
  }

  /// Runs until SIGTERM or SIGINT, then shuts down gracefully. Returns the process exit code.
  public func runUntilSignalled() -> Int32 {
    signal(SIGPIPE, SIG_IGN)
    let stop = DispatchSemaphore(value: 0)
    let trap = SignalTrap(signals: [SIGTERM, SIGINT]) { signal in
      self.logger.info("signal received", ["signal": .int(Int(signal))])
      stop.signal()
    }
    do {
      try start()
    } catch {
      logger.error("cannot start", ["error": .string(String(describing: error))])
      logger.flush()
      return 1
    }
    stop.wait()
    trap.cancel()
    let done = DispatchSemaphore(value: 0)
    Task {
      await shutdown()
      done.signal()
    }
    done.wait()
    return 0
  }
}

/// Turns signals into calls on a queue instead of the default action (termination).
public final class SignalTrap: @unchecked Sendable {
  // Set once in init; DispatchSource is thread-safe.
  private let sources: [any DispatchSourceSignal]

  /// Catches `signals` and calls `handler` for each delivery.
  public init(signals: [Int32], handler: @escaping @Sendable (Int32) -> Void) {
    let queue = DispatchQueue(label: "ferry.signals")
    sources = signals.map { number in
      signal(number, SIG_IGN)
      let source = DispatchSource.makeSignalSource(signal: number, queue: queue)
      source.setEventHandler { handler(number) }
      source.resume()
      return source
    }
  }

  /// Stops catching; the signals stay ignored until the process exits.
  public func cancel() {
    for source in sources { source.cancel() }
  }
}
