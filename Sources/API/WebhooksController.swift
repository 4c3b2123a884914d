import Foundation
import HTTPServer
import JSON
import Jobs
import Log

/// `/media/webhooks`: one registered webhook per app key, called when any of the app's jobs ends. A second
/// registration replaces the first and keeps its `webhook_id`. Registration checks the URL's syntax only;
/// the network policy applies when a delivery is sent. Another app's webhook id answers 404.
public struct WebhooksController: Sendable {
  public let authenticator: Authenticator
  public let store: any JobStore
  public let cipher: RequestCipher
  public let logger: Logger

  public init(authenticator: Authenticator, store: any JobStore, cipher: RequestCipher, logger: Logger) {
    self.authenticator = authenticator
    self.store = store
    self.cipher = cipher
    self.logger = logger
  }

  static let path = "/media/webhooks"

  public func register(in router: inout Router) {
    router.post(Self.path, body: .buffered(limit: 65536), check: authenticator.check) { request async throws in
      try await self.save(request)
    }
    router.put(Self.path, body: .buffered(limit: 65536), check: authenticator.check) { request async throws in
      try await self.save(request)
    }
    router.get(Self.path) { request in try self.show(request) }
    router.delete(Self.path) { request async throws in try await self.remove(request) }
  }

  /// POST registers (or replaces) the app's webhook; PUT does the same, and with `id` only for that webhook.
  func save(_ request: Request) async throws -> Response {
    let owner = try authenticator.authenticate(request)
    let object = try request.jsonObjectBody()
    guard let value = object["callback"] else { throw HTTPError.badRequest("callback is required") }
    let callback = try Callback.parse(value, field: "callback", allowBody: false)
    let existing = try store.webhook(owner: owner)
    if request.method == .put, let text = request.queryValue("id") {
      guard let existing, existing.id.text == text.lowercased() else { throw HTTPError.notFound("id: no such webhook") }
    }
    let id = existing?.id ?? UUID()
    let sealed = cipher.seal(try callback.storedBytes(), job: id)
    try await store.saveWebhook(Webhook(id: id, owner: owner, sealedCallback: sealed))
    logger.info("webhook registered", ["request_id": .string(request.id), "webhook_id": .string(id.text)])
    return .json(bytes: Array(JSONValue.object(["webhook_id": .string(id.text)]).description.utf8))
  }

  func show(_ request: Request) throws -> Response {
    let owner = try authenticator.authenticate(request)
    let webhook = try ownWebhook(request, owner: owner)
    guard let opened = try? cipher.open(webhook.sealedCallback, job: webhook.id),
      let callback = try? Callback(storedBytes: opened)
    else { throw HTTPError.notFound("id: the webhook cannot be read (was secrets.key changed?); register it again") }
    let body: JSONValue = .object(["webhook_id": .string(webhook.id.text), "callback": callback.redactedJSON])
    return .json(bytes: Array(body.description.utf8))
  }

  func remove(_ request: Request) async throws -> Response {
    let owner = try authenticator.authenticate(request)
    let webhook = try ownWebhook(request, owner: owner)
    guard try await store.deleteWebhook(id: webhook.id, owner: owner) else {
      throw HTTPError.notFound("id: no such webhook")
    }
    logger.info("webhook removed", ["request_id": .string(request.id), "webhook_id": .string(webhook.id.text)])
    return .json(bytes: Array(JSONValue.object(["webhook_id": .string(webhook.id.text)]).description.utf8))
  }

  /// The webhook named by `id`, if it is the owner's; 404 otherwise (the same answer either way).
  func ownWebhook(_ request: Request, owner: String) throws -> Webhook {
    guard let text = request.queryValue("id"), !text.isEmpty else {
      throw HTTPError.badRequest("id: the query parameter is required")
    }
    guard let webhook = try store.webhook(owner: owner), webhook.id.text == text.lowercased() else {
      throw HTTPError.notFound("id: no such webhook")
    }
    return webhook
  }
}
