import API
import Dispatch
import Foundation
import HTTPServer
import Jobs
import Locations
import Log
import Media
import PostgresStore
import SQLiteStore
import SigV4
import Storage
import Synchronization
import Transfer
import Webhooks

/// The composition root: builds the HTTP server and everything behind it from a `FerryConfiguration`,
/// starts it and stops it.
public final class FerryApplication: Sendable {
  /// The configuration in force.
  public let configuration: FerryConfiguration
  /// The application logger.
  public let logger: Logger
  private let server: HTTPServer
  private let pool: WorkerPool
  private let webhooks: WebhookDispatcher
  private let storageSweep: PeriodicTask
  /// Reloads the TLS certificate on SIGHUP and when its files change; nil without TLS.
  private let certificateReloader: CertificateReloader?
  /// `server.public_url`, known once the server has a port.
  private let publicURL = PublicURL()
  /// Set when `auth.apps` was empty and Ferry created an app on this start: printed once by `start()`.
  private let newApp: (key: String, secret: String)?

  /// Wires the application: prepares the data directory, the master key and the job store; nothing listens
  /// and no job runs until `start()`. `operations` replaces the built-in job kinds (tests).
  public init(
    configuration: FerryConfiguration, logger: Logger,
    operations makeOperations: (@Sendable (JobTransfers) -> [any JobOperation])? = nil
  ) throws {
    self.configuration = configuration
    self.logger = logger
    let data = configuration.dataDirectory
    try FileManager.default.createDirectory(
      atPath: data, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
    let masterKey = try SecretKey.load(configured: configuration.secretKey, dataDirectory: data)

    var apps = configuration.auth.apps.map { AppCredentials(key: $0.key, secret: $0.secret, apiKey: $0.apiKey) }
    if apps.isEmpty {
      let generated = try GeneratedApp.loadOrCreate(dataDirectory: data)
      apps = [AppCredentials(key: generated.key, secret: generated.secret)]
      newApp = generated.created ? (generated.key, generated.secret) : nil
    } else {
      newApp = nil
    }

    let store = try Self.jobStore(configuration)
    let transfers = try Self.transfers(configuration, dataDirectory: data)
    let denoiser = Self.denoiser(configuration, logger: logger)
    let storage = transfers.storage
    // Temporary files (dlb:// keys, kept results) live `storage.retention_h`; swept hourly.
    let retention = configuration.storage.retention
    // A multipart upload older than the longest a transfer may take belongs to no live transfer.
    let longestTransfer = configuration.transfer.maxDuration
    storageSweep = PeriodicTask(name: "ferry.storage.sweep", every: 3600) { [logger] in
      do {
        let cutoff = Date() - retention.seconds
        let removed: Int
        switch storage {
        case .local(let local): removed = local.sweep(before: cutoff)
        case .s3(let s3):
          removed = try s3.sweep(before: cutoff)
          let aborted = try s3.abortUploads(startedBefore: Date() - longestTransfer.seconds - 3600)
          if aborted > 0 { logger.info("stale multipart uploads aborted", ["count": .int(aborted)]) }
        }
        if removed > 0 { logger.info("temporary files swept", ["count": .int(removed)]) }
      } catch {
        logger.warning("temporary storage sweep failed", ["error": .string(String(describing: error))])
      }
    }
    let operations =
      makeOperations?(transfers) ?? Self.builtInOperations(configuration, transfers, denoiser: denoiser.filter)
    let cipher = RequestCipher(masterKey: masterKey)
    let metrics = Metrics(
      routes: [
        "/health", "/ready", "/metrics", "/v1/auth/token", "/media/oauth2/token", "/media/jobs", "/media/jobs/cancel",
        "/media/input", "/media/output", "/media/webhooks", "/dashboard", "/dashboard/app.js", "/dashboard/app.css",
      ] + operations.map(\.path))
    let registry = AppRegistry(apps)
    webhooks = try Self.webhookDispatcher(
      configuration, store: store, cipher: cipher, apps: registry, logger: logger, metrics: metrics)
    pool = WorkerPool(
      store: store, work: OperationRouter(operations), cipher: cipher,
      settings: .init(
        concurrency: configuration.workerConcurrency, lease: configuration.jobs.lease,
        maxAttempts: configuration.jobs.maxAttempts, workRoot: data + "/work",
        // Other nodes share a PostgreSQL store: a running job found at start may be theirs, alive.
        singleNode: configuration.store.kind != .postgres, perAppLimit: configuration.workerPerAppLimit),
      logger: logger,
      onRunEnded: { [webhooks] run in
        metrics.jobEnded(run)
        webhooks.wake()
      })
    let service = JobService(
      store: store, pool: pool, cipher: cipher,
      admission: AdmissionControl(
        concurrency: configuration.workerConcurrency, margin: configuration.jobs.expiryMargin),
      estimator: pool.estimator, retention: .seconds(configuration.jobs.retentionDays * 86400))

    let tokens = TokenIssuer(masterKey: masterKey)
    var router = Router()
    HealthController(
      configuration: configuration, store: store, denoiser: denoiser.filter == nil ? "afftdn" : DeepFilter.name,
      denoiserProblem: denoiser.problem
    ).register(in: &router)
    // Prometheus text; no auth, and nothing in it names an app or a secret.
    router.get("/metrics") { _ in
      .text(metrics.render(jobs: (try? store.counts()) ?? [:]), contentType: "text/plain; version=0.0.4")
    }
    AuthController(apps: registry, tokens: tokens, defaultLifetime: configuration.auth.tokenTTLSeconds)
      .register(in: &router)
    let authenticator = Authenticator(
      apps: registry, tokens: tokens,
      limiter: RateLimiter(perSecond: configuration.auth.ratePerSecond, burst: configuration.auth.rateBurst))
    JobsController(
      authenticator: authenticator, service: service, pool: pool, operations: operations,
      maxBodyBytes: Int64(configuration.server.maxJSONBodyBytes), logger: logger, metrics: metrics
    ).register(in: &router)
    WebhooksController(authenticator: authenticator, store: store, cipher: cipher, logger: logger)
      .register(in: &router)
    StorageController(
      authenticator: authenticator, storage: storage, signer: StorageURLSigner(masterKey: masterKey),
      maxUploadBytes: Int64(configuration.transfer.maxInputBytes), publicURL: { [publicURL] in publicURL.value }
    ).register(in: &router)
    // The jobs dashboard for people: a static page that reads the JSON API above with the user's own token.
    DashboardController().register(in: &router)
    // Browser apps on other origins call the API as Dolby's browser samples do; the dashboard is same-origin.
    router.crossOrigin = .api(configured: configuration.server.corsAllowedOrigins)
    let http = HTTPServerConfiguration(
      host: configuration.server.host, port: configuration.server.port,
      maxConnections: configuration.server.maxConnections,
      maxConnectionsPerAddress: configuration.server.maxConnectionsPerAddress,
      headerTimeout: configuration.server.headerTimeout,
      idleTimeout: configuration.server.idleTimeout, minBodyRate: configuration.server.minBodyRate,
      defaultBodyLimit: Int64(configuration.server.maxJSONBodyBytes),
      tls: configuration.server.tls.map {
        TLSConfiguration(
          certificatePath: $0.certificatePath, keyPath: $0.keyPath, clientCAPath: $0.clientCAPath,
          kernelTLS: $0.kernelTLS)
      })
    // Each route's label, found once: a request's count then looks up no string.
    let routeLabels = router.patterns.map { metrics.label(forPath: $0) }
    server = try HTTPServer(
      configuration: http, router: router, logger: logger,
      observer: { answered in
        let label = answered.route.map { routeLabels[$0] } ?? metrics.label(forPath: answered.path)
        metrics.request(label: label, status: answered.status)
      })
    if server.servesTLS {
      metrics.countTLSFileBodies { [weak server] in server?.tlsFileBodies ?? (0, 0) }
    }
    certificateReloader = CertificateReloader(server: server, tls: configuration.server.tls, logger: logger)
  }

  /// The job store `store.*` selects: SQLite in the data directory, or PostgreSQL shared by several nodes.
  static func jobStore(_ configuration: FerryConfiguration) throws -> any JobStore {
    if configuration.store.kind == .postgres, let url = configuration.store.url {
      // Errors from here never quote the URL (it holds a password): PostgresJobStore redacts it.
      return try PostgresJobStore(url: url)
    }
    return try SQLiteJobStore(path: configuration.store.path)
  }

  /// DeepFilterNet3 from `media.denoiser`, loaded once; without it (not configured, not installed, or not
  /// loadable: logged) enhance reduces noise with afftdn.
  static func denoiser(_ configuration: FerryConfiguration, logger: Logger) -> (filter: DeepFilter?, problem: String?) {
    guard let directory = DeepFilter.resolve(configuration.media.denoiser) else {
      return (nil, "media.denoiser is empty")
    }
    do {
      let filter = try DeepFilter(package: directory)
      logger.info("denoiser loaded", ["denoiser": .string(DeepFilter.name), "library": .string(filter.library)])
      return (filter, nil)
    } catch {
      logger.warning(
        "the neural denoiser is not available; enhance uses afftdn",
        ["media.denoiser": .string(directory), "error": .string(error.description)])
      return (nil, error.description)
    }
  }

  /// The job kinds this build serves.
  static func builtInOperations(
    _ configuration: FerryConfiguration, _ transfers: JobTransfers, denoiser: DeepFilter? = nil
  ) -> [any JobOperation] {
    let tools = MediaTools(
      ffmpeg: configuration.media.ffmpeg, ffprobe: configuration.media.ffprobe,
      maxDuration: configuration.media.maxDuration.seconds, version: FerryVersion.current, denoiser: denoiser)
    return [
      EnhanceOperation(transfers: transfers, tools: tools),
      AnalyzeOperation(transfers: transfers, tools: tools),
      TranscodeOperation(transfers: transfers, tools: tools),
      DiagnoseOperation(transfers: transfers, tools: tools),
      MasterOperation(transfers: transfers, tools: tools),
      MasterOperation.preview(transfers: transfers, tools: tools),
      AnalyticsOperation.music(transfers: transfers, tools: tools),
      AnalyticsOperation.speech(transfers: transfers, tools: tools),
    ]
  }

  /// The transfer layer as `transfer.*`, `s3.*` and `network.allow` configure it.
  static func transfers(_ configuration: FerryConfiguration, dataDirectory: String) throws -> JobTransfers {
    let transfer = configuration.transfer
    let client = TransferClient(
      policy: try NetworkPolicy(allow: configuration.networkAllow),
      settings: TransferSettings(
        maxBytes: Int64(transfer.maxInputBytes), connectTimeout: transfer.connectTimeout,
        lowSpeedTimeout: transfer.lowSpeedTimeout, minRate: transfer.minRate, maxDuration: transfer.maxDuration,
        maxAttempts: transfer.maxAttempts, downloadConnections: transfer.downloadConnections,
        downloadPartSize: Int64(transfer.partSizeBytes)))
    let addressing = S3Addressing(
      endpoint: configuration.s3.endpoint, defaultRegion: configuration.s3.region, pathStyle: configuration.s3.pathStyle
    )
    let storage: TemporaryStorage
    let settings = configuration.storage.s3
    if configuration.storage.kind == .s3, let bucket = settings.bucket, let key = settings.key,
      let secret = settings.secret
    {
      // Ferry's own bucket: its endpoint is trusted like s3.endpoint, and addressed by the same rules.
      storage = .s3(
        S3Storage(
          bucket: bucket, prefix: settings.prefix ?? "",
          credentials: AWSCredentials(accessKeyID: key, secretAccessKey: secret), region: settings.region,
          addressing: S3Addressing(
            endpoint: settings.endpoint, defaultRegion: settings.region ?? configuration.s3.region,
            pathStyle: configuration.s3.pathStyle),
          client: client))
    } else {
      storage = .local(LocalStorage(root: dataDirectory + "/storage"))
    }
    return JobTransfers(
      client: client, requests: LocationRequests(s3: S3Requests(addressing: addressing)), storage: storage,
      multipartThreshold: Int64(transfer.multipartThresholdBytes), partSize: Int64(transfer.partSizeBytes),
      parallelParts: transfer.parallelParts)
  }

  /// Sends webhook deliveries with their own client: one attempt per call (the outbox retries, durably), under
  /// the same network policy as every other outbound request.
  static func webhookDispatcher(
    _ configuration: FerryConfiguration, store: any JobStore, cipher: RequestCipher, apps: AppRegistry,
    logger: Logger, metrics: Metrics
  ) throws -> WebhookDispatcher {
    let client = TransferClient(
      policy: try NetworkPolicy(allow: configuration.networkAllow),
      settings: WebhookDispatcher.callSettings(connectTimeout: configuration.transfer.connectTimeout))
    let backoff = configuration.webhooks.initialBackoff
    return WebhookDispatcher(
      store: store, cipher: cipher, client: client,
      settings: .init(
        retryFor: configuration.webhooks.retryFor, initialBackoff: backoff,
        // Tests set a short backoff: look for due retries as often, within reason.
        pollInterval: max(.milliseconds(50), min(.seconds(1), backoff)), userAgent: "Ferry/\(FerryVersion.current)"),
      payload: { JobStatusView($0, deliveries: nil).envelope }, secret: { apps.app(key: $0)?.secret }, logger: logger,
      onOutcome: { metrics.webhookAttempt($0) })
  }

  /// Recovers jobs a crash left running, starts the workers, starts listening and logs the `listening`
  /// line; returns the bound port.
  @discardableResult
  public func start() throws -> Int {
    try pool.start()
    webhooks.start()
    storageSweep.start()
    certificateReloader?.start()
    try server.start()
    let port = server.port
    publicURL.value = configuration.publicURL(boundPort: port)
    if let newApp {
      // Once, on stdout (not the log stream): the operator needs the secret to get tokens.
      let text =
        "Created an app (auth.apps is empty); stored in \(configuration.dataDirectory)/app.json\n"
        + "  app key:    \(newApp.key)\n  app secret: \(newApp.secret)\n"
      FileHandle.standardOutput.write(Data(text.utf8))
    }
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
    // Running jobs go back to the queue without spending an attempt; they run again after a restart.
    pool.stop()
    webhooks.stop()
    storageSweep.cancel()
    certificateReloader?.cancel()
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
    // With TLS, SIGHUP reloads the certificate; without, it keeps its default action (the process ends).
    let hangUp = certificateReloader.map { reloader in
      SignalTrap(signals: [SIGHUP]) { _ in reloader.reload(trigger: "SIGHUP") }
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
    hangUp?.cancel()
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

/// Runs a closure on its own queue every `interval` seconds once started (the first run one interval in).
final class PeriodicTask: @unchecked Sendable {
  // A dispatch source is safe to use from any thread; `started` is guarded by `lock`.
  private let timer: any DispatchSourceTimer
  private let lock = NSLock()
  private var started = false

  init(name: String, every interval: Double, _ body: @escaping @Sendable () -> Void) {
    timer = DispatchSource.makeTimerSource(queue: DispatchQueue(label: name))
    timer.schedule(deadline: .now() + interval, repeating: interval)
    timer.setEventHandler(handler: body)
  }

  // libdispatch traps when a source is released while suspended: resume a never-started one to cancel it.
  deinit { cancel() }

  func start() {
    lock.withLock {
      if !started {
        started = true
        timer.resume()
      }
    }
  }

  func cancel() {
    lock.withLock {
      if !started {
        started = true
        timer.resume()
      }
      timer.cancel()
    }
  }
}

/// The public base URL, set once the server has a port and read by handlers.
final class PublicURL: Sendable {
  private let stored = Mutex("")
  var value: String {
    get { stored.withLock { $0 } }
    set { stored.withLock { $0 = newValue } }
  }
}
