import Foundation
import Jobs
import Log
import TestSupport
import Testing
import Transfer
import Webhooks

/// The webhook outbox on the dispatcher's own clock: a test moves the clock and asks for the next due delivery,
/// so when a retry is sent (and that it is not sent before) is decided by the retry policy, never by how busy
/// the machine is. Receivers are loopback fault servers.
@Suite struct WebhookRetryTests {
  static let cipher = RequestCipher(masterKey: [UInt8](repeating: 7, count: 32))

  /// An in-memory store with `app`'s webhook registered to call `url`, and one job of `app` that ended at the
  /// clock's time (so one delivery is owed).
  func endedJob(callingBack url: String, clock: ManualClock) async throws -> (InMemoryJobStore, Job) {
    let store = InMemoryJobStore()
    let webhookID = UUID()
    let callback = Self.cipher.seal(Array(#"{"url": "\#(url)"}"#.utf8), job: webhookID)
    try await store.saveWebhook(Webhook(id: webhookID, owner: "app", sealedCallback: callback))
    let job = Job(
      owner: "app", path: "/media/copy", sealedRequest: Self.cipher.seal([], job: UUID()), requestDigest: "d",
      submittedAt: clock.date, retention: .seconds(86400), deadline: nil)
    _ = try await store.submit(job, duplicateSince: .distantPast)
    try await store.update(id: job.id) { _ = $0.cancel(now: clock.date) }
    return (store, job)
  }

  func dispatcher(
    _ store: InMemoryJobStore, clock: ManualClock, retryFor: Duration = .seconds(86400), allow: String = "127.0.0.0/8"
  ) throws -> WebhookDispatcher {
    WebhookDispatcher(
      store: store, cipher: Self.cipher,
      client: TransferClient(policy: try NetworkPolicy(allow: [allow]), settings: TransferSettings(maxAttempts: 1)),
      settings: .init(retryFor: retryFor, initialBackoff: .seconds(5), maxBackoff: .seconds(3600)),
      payload: { job in Array(#"{"job_id": "\#(job.id.text)"}"#.utf8) }, secret: { _ in "secret-a" },
      now: clock.now, logger: Logger(level: .error, sink: MemoryLogSink()))
  }

  @Test func aFailedDelivery_isSentAgainWhenItsRetryIsDue_notBefore_andNeverAfterItIsAccepted() async throws {
    let clock = ManualClock()
    let receiver = try FaultServer { _, connection in connection <= 2 ? .status(503) : .status(204) }
    defer { receiver.stop() }
    let (store, job) = try await endedJob(callingBack: receiver.base + "/hook", clock: clock)
    let dispatcher = try dispatcher(store, clock: clock)

    for attempt in 1...2 {
      #expect(dispatcher.sendNext(), "attempt \(attempt) is due")
      let delivery = try #require(try store.deliveries(job: job.id).first)
      #expect(delivery.state == .pending && delivery.attempts.map(\.status) == Array(repeating: 503, count: attempt))
      // Full jitter under 5 s doubling: the next attempt is due within the attempt's ceiling, and not before.
      let wait = delivery.nextAttemptAt.timeIntervalSince(clock.date)
      #expect(wait >= 0 && wait <= 5 * Double(1 << (attempt - 1)), "attempt \(attempt) waits \(wait) s")
      if wait >= 0.001 {
        clock.advance(by: wait - 0.001)
        #expect(!dispatcher.sendNext(), "a millisecond early, attempt \(attempt + 1) is not due")
      }
      clock.advance(to: delivery.nextAttemptAt)
    }
    #expect(dispatcher.sendNext(), "attempt 3 is due")
    let delivered = try #require(try store.deliveries(job: job.id).first)
    #expect(delivered.state == .delivered && delivered.attempts.map(\.status) == [503, 503, 204])
    // Accepted: nothing more, however long the clock runs.
    clock.advance(by: 2 * 86400)
    #expect(!dispatcher.sendNext())
    let received = receiver.requests
    #expect(received.count == 3)
    #expect(Set(received.compactMap { $0.header("webhook-id") }) == [delivered.id.text], "one delivery, 3 tries")
    #expect(received.allSatisfy { $0.body == received[0].body }, "every attempt sends the same body")
  }

  @Test func retries_stopWhenTheRetryWindowAfterTheJobEndedIsOver() async throws {
    let clock = ManualClock()
    let receiver = try FaultServer { _, _ in .status(500) }
    defer { receiver.stop() }
    let (store, job) = try await endedJob(callingBack: receiver.base + "/hook", clock: clock)
    let ended = clock.date
    let dispatcher = try dispatcher(store, clock: clock, retryFor: .seconds(60))
    // Bounded: with 5 s doubling under full jitter, 60 s are used up in far fewer than 100 attempts.
    for _ in 0..<100 {
      guard dispatcher.sendNext() else { break }
      let delivery = try #require(try store.deliveries(job: job.id).first)
      guard delivery.state == .pending else { break }
      #expect(delivery.nextAttemptAt <= ended + 60, "no attempt is planned past the window")
      clock.advance(to: delivery.nextAttemptAt)
    }
    let given = try #require(try store.deliveries(job: job.id).first)
    #expect(given.state == .failed && given.attempts.allSatisfy { $0.status == 500 })
    #expect(receiver.requests.count == given.attempts.count)
    clock.advance(by: 86400)
    #expect(!dispatcher.sendNext())
  }

  @Test func aReceiverOnARefusedAddress_isGivenUpAtOnce_andNeverContacted() async throws {
    let clock = ManualClock()
    // Only 127.0.0.1 is allowed; the receiver listens on 127.0.0.2.
    let receiver = try FaultServer(host: "127.0.0.2") { _, _ in .status(200) }
    defer { receiver.stop() }
    let (store, job) = try await endedJob(callingBack: receiver.base + "/hook", clock: clock)
    let dispatcher = try dispatcher(store, clock: clock, allow: "127.0.0.1/32")
    #expect(dispatcher.sendNext())
    let delivery = try #require(try store.deliveries(job: job.id).first)
    #expect(delivery.state == .failed && delivery.attempts.count == 1 && delivery.attempts[0].status == nil)
    #expect(delivery.attempts[0].error?.hasPrefix("refused by the network policy") == true, "\(delivery.attempts)")
    clock.advance(by: 86400)
    #expect(!dispatcher.sendNext(), "no retries of a refused address")
    #expect(receiver.connectionCount == 0)
  }
}
