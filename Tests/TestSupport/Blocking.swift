import Dispatch

/// Runs blocking work (sockets, ffmpeg, files) on a Dispatch thread, so it never ties up the concurrency
/// pool's threads (two here): blocking them stalls every other test's tasks and the servers' handlers.
public func blocking<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
  try await withCheckedThrowingContinuation { continuation in
    DispatchQueue.global().async {
      continuation.resume(with: Result { try body() })
    }
  }
}
