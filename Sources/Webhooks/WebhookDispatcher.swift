import Foundation
import JSON
import Jobs
import Locations
import Log
import Retry
import Synchronization
import Transfer

/// Sends the webhook outbox: sender threads take due deliveries from the store, POST them (Standard Webhooks
/// headers, signed with the owning app's secret, under the outbound network policy) and record each attempt.
/// A non-2xx answer, a timeout or a connection failure is tried again after the settings' `RetryPolicy` until
/// `retryFor` after the job ended; a refused address, a redirect or an unreadable callback is given up at once. Deliveries
/// live in the store, so those pending at a restart are sent after it.
public final class WebhookDispatcher: Sendable {
  public struct Settings: Sendable {
    /// Threads sending at once.
    public var senders: Int
    /// The most deliveries of one app in flight at once on this node, so an app whose endpoint answers
    /// slowly holds up only its own deliveries; nil: no cap.
    public var perAppLimit: Int?
    /// Retries stop this long after the job ended (`webhooks.retry_for_s`).
    public var retryFor: Duration
    /// The wait between attempts, within `retryFor`.
    public var retry: RetryPolicy
    /// How often idle senders look for deliveries coming due.
    public var pollInterval: Duration
    /// A taken delivery is held this long: a sender that dies mid-call delays it, never loses it. Longer than
    /// a call may take (`callSettings` cuts one at 30 s), so a live sender's call is never taken
    /// again by another.
    public var hold: Duration
    /// Sent as `User-Agent`.
    public var userAgent: String

    /// `initialBackoff` (`webhooks.initial_backoff_s`) is the first retry's longest wait; it doubles per failed
    /// attempt up to `maxBackoff`.
    public init(
      senders: Int = 4, perAppLimit: Int? = 1, retryFor: Duration = .seconds(86400),
      initialBackoff: Duration = .seconds(5),
      maxBackoff: Duration = .seconds(3600), pollInterval: Duration = .seconds(1), hold: Duration = .seconds(45),
      userAgent: String = "Ferry"
    ) {
      self.senders = max(1, senders)
      self.perAppLimit = perAppLimit
      self.retryFor = retryFor
      self.retry = .exponentialJitter(initial: initialBackoff, cap: maxBackoff)
      self.pollInterval = pollInterval
      self.hold = hold
      self.userAgent = userAgent
    }
  }

  /// The client settings for webhook calls: one call may not hold a sender long, whatever the receiver does
  /// (30 s at most, cut below 1 KiB/s after 15 s, an answer of at most 1 MiB, no retries or redirects: the
  /// outbox retries). `Settings.hold` must outlast `maxDuration`.
  public static func callSettings(connectTimeout: Duration = .seconds(10)) -> TransferSettings {
    TransferSettings(
      maxBytes: 1 << 20, connectTimeout: min(connectTimeout, .seconds(10)), lowSpeedTimeout: .seconds(15),
      minRate: 1024, maxDuration: .seconds(30), maxAttempts: 1, maxRedirects: 0)
  }

  /// How one attempt ended, for metrics.
  public typealias Outcome = DeliveryOutcome

  public let settings: Settings
  private let store: any JobStore
  private let cipher: RequestCipher
  private let client: TransferClient
  /// The body sent for a job: its status envelope.
  private let payload: @Sendable (Job) -> [UInt8]
  /// The secret that signs deliveries of an app's jobs.
  private let secret: @Sendable (String) -> String?
  private let onOutcome: @Sendable (Outcome) -> Void
  private let now: @Sendable () -> Date
  private let logger: Logger

  private struct State {
    var started = false
    var stopping = false
    var threads = 0
  }

  private let state = Mutex(State())
  private let idle = IdleSignal()
  /// The deliveries each app has in flight on this node, under `settings.perAppLimit`.
  private let shares: OwnerShares

  /// `client` should make one attempt per call (`maxAttempts: 1`): the outbox does the retrying, durably.
  public init(
    store: any JobStore, cipher: RequestCipher, client: TransferClient, settings: Settings,
    payload: @escaping @Sendable (Job) -> [UInt8], secret: @escaping @Sendable (String) -> String?,
    now: @escaping @Sendable () -> Date = { Date() }, logger: Logger,
    onOutcome: @escaping @Sendable (Outcome) -> Void = { _ in }
  ) {
    self.store = store
    self.cipher = cipher
    self.client = client
    self.settings = settings
    self.shares = OwnerShares(limit: settings.perAppLimit)
    self.payload = payload
    self.secret = secret
    self.now = now
    self.logger = logger
    self.onOutcome = onOutcome
  }

  // MARK: Life cycle

  public func start() {
    let count = state.withLock { state -> Int in
      precondition(!state.started, "a webhook dispatcher starts once")
      state.started = true
      state.threads = settings.senders
      return settings.senders
    }
    for index in 1...count {
      let thread = Thread {
        self.senderLoop()
        self.state.withLock { $0.threads -= 1 }
      }
      thread.name = "ferry.webhooks.\(index)"
      thread.start()
    }
  }

  /// Stops taking deliveries and waits up to `timeout` for calls in flight (one not finished is sent again
  /// after the hold: at least once).
  public func stop(timeout: Duration = .seconds(5)) {
    state.withLock { $0.stopping = true }
    idle.stop()
    let deadline = Date() + timeout.seconds
    while state.withLock({ $0.threads > 0 }) && Date() < deadline { Thread.sleep(forTimeInterval: 0.01) }
  }

  /// Tells an idle sender that a job ended (its deliveries are due now).
  public func wake() {
    idle.wake()
  }

  private var isStopping: Bool { state.withLock { $0.stopping } }

  private func senderLoop() {
    while !isStopping {
      if !sendNext() { idle.wait(upTo: settings.pollInterval) }
    }
  }

  /// Takes one delivery due now by the dispatcher's clock (`now`), sends it and records the attempt; false when
  /// none was due. The sender threads call it in a loop; a test that injected `now` calls it after moving its
  /// clock, instead of waiting for a retry to come due in real time.
  @discardableResult
  public func sendNext() -> Bool {
    let taken: Delivery?
    do {
      let at = now()
      let hold = at + settings.hold.seconds
      taken = try shares.take(
        { skipping in
          try runBlocking { [store] in
            try await store.claimDeliveries(now: at, holdUntil: hold, limit: 1, skipping: skipping).first
          }
        }, owner: \.owner)
    } catch {
      logger.error("cannot take webhook deliveries", ["error": .string(String(describing: error))])
      return false
    }
    guard let delivery = taken else { return false }
    send(delivery)
    // The app was at its share: a sender that skipped its deliveries may take one now.
    if shares.release(delivery.owner) { idle.wake() }
    return true
  }

  // MARK: Sending

  /// Why a delivery cannot be made at all.
  private struct Undeliverable: Error {
    var reason: String
  }

  private func send(_ delivery: Delivery) {
    let logger = self.logger.with("job_id", .string(delivery.jobID.text))
    let started = now()
    let callback: Callback
    let job: Job
    do {
      guard let found = try store.job(id: delivery.jobID) else {
        throw Undeliverable(reason: "the job no longer exists")
      }
      job = found
      callback = try self.callback(for: delivery, job: job)
    } catch let error as Undeliverable {
      record(delivery, DeliveryAttempt(at: started, url: "", status: nil, error: error.reason), .failed, logger: logger)
      return
    } catch {
      // The store did not answer: leave the delivery held; it comes due again after the hold.
      logger.error("webhook delivery not sent", ["error": .string(String(describing: error))])
      return
    }

    var body: [UInt8]
    var contentType = "application/json"
    switch callback.body {
    case .string(let text)?:
      body = Array(text.utf8)
      contentType = "text/plain; charset=utf-8"
    case let value?: body = Array(value.description.utf8)
    case nil: body = payload(job)
    }
    let timestamp = Int64(started.timeIntervalSince1970.rounded(.down))
    var headers: [(name: String, value: String)] = callback.headers.map { header in
      switch header.value {
      case .text(let value): (header.name, value)
      case .jobID: (header.name, job.id.text)
      }
    }
    headers += [
      ("Content-Type", contentType), ("User-Agent", settings.userAgent), ("webhook-id", delivery.id.text),
      ("webhook-timestamp", String(timestamp)),
    ]
    if let secret = secret(delivery.owner) {
      headers.append(
        (
          "webhook-signature",
          WebhookSignature.sign(id: delivery.id.text, timestamp: timestamp, body: body, secret: secret)
        ))
    }
    let shownURL = Redaction.url(callback.url)
    do {
      let (result, _) = try client.exchange(
        OutboundRequest(url: callback.url, headers: headers), method: "POST", body: body)
      record(delivery, DeliveryAttempt(at: started, url: shownURL, status: result.status), .delivered, logger: logger)
    } catch {
      var attempt = DeliveryAttempt(at: started, url: shownURL, status: nil, error: error.description)
      var final = false
      switch error {
      case .status(let code, _):
        attempt.status = code
        attempt.error = nil
        // Redirects are not followed (the network policy judged the URL registered, not where it points),
        // and one will not stop redirecting by itself.
        if (300..<400).contains(code) {
          attempt.error = "redirects are not followed"
          final = true
        }
      case .tooManyRedirects:
        // Not met today (`exchange` follows no redirect); were it, it would be final like any redirect.
        attempt.error = "redirects are not followed"
        final = true
      case .refused, .local: final = true
      default: break
      }
      if final {
        record(delivery, attempt, .failed, logger: logger)
      } else if let next = nextAttempt(after: delivery, at: now()) {
        record(delivery, attempt, .pending, next: next, logger: logger)
      } else {
        record(delivery, attempt, .failed, logger: logger)
      }
    }
  }

  /// The callback a delivery calls: the registered webhook's as it was when the job ended, or the job's
  /// `on_complete` from its sealed request.
  private func callback(for delivery: Delivery, job: Job) throws -> Callback {
    switch delivery.target {
    case .webhook(let id, let sealed):
      let opened: [UInt8]
      do {
        opened = try cipher.open(sealed, job: id)
      } catch {
        throw Undeliverable(reason: "the callback cannot be read (was secrets.key changed?)")
      }
      do {
        return try Callback(storedBytes: opened)
      } catch {
        throw Undeliverable(reason: "the callback is not valid: \(error)")
      }
    case .onComplete:
      let payload: [UInt8]
      do {
        payload = try cipher.open(job.sealedRequest, job: job.id)
      } catch {
        throw Undeliverable(reason: "the callback cannot be read (was secrets.key changed?)")
      }
      do {
        guard let callback = try StoredRequestFormat.onComplete(payload) else {
          throw Undeliverable(reason: "the job has no on_complete")
        }
        return callback
      } catch let failure as JobFailure {
        throw Undeliverable(reason: "the callback is not valid: \(failure.error.detail)")
      }
    }
  }

  /// When to try again after a failed attempt, or nil when the retry window is over.
  private func nextAttempt(after delivery: Delivery, at time: Date) -> Date? {
    // `attempts` holds the earlier attempts: the one that just failed is the next number.
    let next = time + settings.retry.delay(afterAttempt: delivery.attempts.count + 1).seconds
    return next <= delivery.createdAt + settings.retryFor.seconds ? next : nil
  }

  private func record(
    _ delivery: Delivery, _ attempt: DeliveryAttempt, _ state: Delivery.State, next: Date? = nil, logger: Logger
  ) {
    let outcome: Outcome =
      switch state {
      case .delivered: .delivered
      case .pending: .retrying
      case .failed: .failed
      }
    onOutcome(outcome)
    var log = logger.with("webhook_id", .string(delivery.id.text)).with("url", .string(attempt.url))
      .with("attempt", .int(delivery.attempts.count + 1))
    if let status = attempt.status { log = log.with("status", .int(status)) }
    if let error = attempt.error { log = log.with("error", .string(error)) }
    if state == .delivered {
      log.info("webhook delivered")
    } else {
      log.warning("webhook not delivered", ["outcome": .string(outcome.rawValue)])
    }
    do {
      try runBlocking { [store] in
        try await store.recordDelivery(id: delivery.id, attempt: attempt, state: state, next: next)
      }
    } catch {
      // Not recorded: the delivery comes due again after its hold and is sent again (at least once).
      logger.error("webhook attempt not recorded", ["error": .string(String(describing: error))])
    }
  }
}
