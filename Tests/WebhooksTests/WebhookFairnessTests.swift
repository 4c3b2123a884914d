import Foundation
import Jobs
import Log
import TestSupport
import Testing
import Transfer
import Webhooks

/// One app's slow webhook endpoint must not hold up another app's deliveries (issue 18): real sender threads,
/// the production call limits, loopback receivers.
@Suite struct WebhookFairnessTests {
  static let cipher = RequestCipher(masterKey: [UInt8](repeating: 9, count: 32))

  /// Registers `owner`'s webhook at `url` and ends `count` of its jobs (a delivery owed for each).
  func endJobs(of owner: String, count: Int, callingBack url: String, in store: InMemoryJobStore) async throws
    -> [Job]
  {
    let webhookID = UUID()
    let callback = Self.cipher.seal(Array(#"{"url": "\#(url)"}"#.utf8), job: webhookID)
    try await store.saveWebhook(Webhook(id: webhookID, owner: owner, sealedCallback: callback))
    var jobs: [Job] = []
    for _ in 0..<count {
      let job = Job(
        owner: owner, path: "/media/copy", sealedRequest: Self.cipher.seal([], job: UUID()),
        requestDigest: UUID().uuidString, submittedAt: Date(), retention: .seconds(86400), deadline: nil)
      _ = try await store.submit(job, duplicateSince: .distantPast)
      try await store.update(id: job.id) { _ = $0.cancel(now: Date()) }
      jobs.append(job)
    }
    return jobs
  }

  @Test func appAsEndpointTrickling_doesNotHoldUpAppBsDelivery() async throws {
    // App a's endpoint answers 200 with 1 MB at a few bytes a second; app b's answers at once.
    let trickling = try FaultServer { _, _ in
      .trickle(body: [UInt8](repeating: 0x61, count: 1 << 20), bytesPerSecond: 2)
    }
    let prompt = try FaultServer { _, _ in .status(204) }
    defer {
      trickling.stop()
      prompt.stop()
    }
    let store = InMemoryJobStore()
    let settings = WebhookDispatcher.Settings(pollInterval: .milliseconds(50))
    // More of app a's deliveries than there are senders, all due before app b's.
    _ = try await endJobs(of: "a", count: settings.senders * 2, callingBack: trickling.base + "/hook", in: store)
    let dispatcher = WebhookDispatcher(
      store: store, cipher: Self.cipher,
      // What the server gives its webhook client: one attempt, at most 30 s, cut below 1 KiB/s after 15 s.
      client: TransferClient(
        policy: try NetworkPolicy(allow: ["127.0.0.0/8"]),
        settings: WebhookDispatcher.callSettings()),
      settings: settings, payload: { job in Array(#"{"job_id": "\#(job.id.text)"}"#.utf8) },
      secret: { _ in "secret" }, logger: Logger(level: .error, sink: MemoryLogSink()))
    dispatcher.start()
    defer {
      // The trickle first: its calls end with it, so the senders stop at once.
      trickling.stop()
      dispatcher.stop(timeout: .seconds(2))
    }
    // Let the senders take app a's deliveries first.
    for _ in 0..<100 where trickling.connectionCount == 0 { try await Task.sleep(for: .milliseconds(20)) }

    let ended = Date()
    let jobB = try #require(try await endJobs(of: "b", count: 1, callingBack: prompt.base + "/hook", in: store).first)
    dispatcher.wake()
    var delivered = false
    for _ in 0..<250 where !delivered {
      delivered = try store.deliveries(job: jobB.id).first?.state == .delivered
      if !delivered { try await Task.sleep(for: .milliseconds(20)) }
    }
    let waited = Date().timeIntervalSince(ended)
    #expect(delivered && waited < 5, "app b's webhook was delivered: \(delivered), after \(waited) s")
    #expect(trickling.connectionCount == 1, "app a has one call in flight at a time")
  }
}
