import Foundation
import Jobs

/// A stretch of the input processed by its own ffmpeg, in parallel with the others. A piece after the first
/// starts `warm` seconds early (from `from`) so filters with memory (loudness windows, noise estimates) have
/// settled by `keepFrom`, where its own part begins; what comes before is discarded.
struct MediaPiece: Sendable, Equatable {
  var index: Int
  var from: Double
  var keepFrom: Double
  var to: Double
  var isLast: Bool

  /// Seconds processed only to warm up.
  var warm: Double { keepFrom - from }

  /// True for a time (in the input's time) in this piece's own part.
  func keeps(_ time: Double) -> Bool { time >= keepFrom - 1e-6 && (isLast || time < to - 1e-6) }
}

enum MediaPieces {
  /// Pieces on long inputs: one per core, at most four.
  static let maxPieces = max(1, min(4, ProcessInfo.processInfo.activeProcessorCount))
  /// Inputs shorter than this are processed in one piece.
  static let pieceMinimum = 60.0

  /// `start..<end` in pieces with bounds on whole seconds (so per-second values line up), each after the first
  /// warming up for `warmUp` seconds.
  static func split(from start: Double, to end: Double, warmUp: Double, count: Int? = nil) -> [MediaPiece] {
    let length = end - start
    let count = count ?? (length >= pieceMinimum ? maxPieces : 1)
    let bounds = (0...count).map { k in k == count ? end : start + (Double(k) * length / Double(count)).rounded(.down) }
    return (0..<count).map { k in
      let warm = k == 0 ? 0 : min(warmUp, bounds[k] - start)
      return MediaPiece(
        index: k, from: bounds[k] - warm, keepFrom: bounds[k], to: bounds[k + 1], isLast: k == count - 1)
    }
  }

  /// Runs `body` for every piece, each on its own thread, and returns their values in piece order; the first
  /// piece's failure (in piece order) is thrown once all have ended.
  static func run<T: Sendable>(
    _ pieces: [MediaPiece], _ body: @escaping @Sendable (MediaPiece) throws(JobFailure) -> T
  ) throws(JobFailure) -> [T] {
    let outcomes = LockedBox<[Int: Result<T, JobFailure>]>([:])
    let group = DispatchGroup()
    for piece in pieces {
      group.enter()
      Thread.detachNewThread {
        defer { group.leave() }
        let outcome: Result<T, JobFailure>
        do throws(JobFailure) {
          outcome = .success(try body(piece))
        } catch {
          outcome = .failure(error)
        }
        outcomes.withLock { $0[piece.index] = outcome }
      }
    }
    group.wait()
    var values: [T] = []
    for piece in pieces {
      guard let outcome = outcomes.withLock({ $0[piece.index] }) else { continue }
      values.append(try outcome.get())
    }
    return values
  }
}

extension MediaPieces {
  /// Runs `side` on its own thread while `main` runs on this one, and returns both once both have ended
  /// (`main`'s failure first, then `side`'s). When either fails, `side`'s value, if it made one, is handed to
  /// `discard`, so its work files go with the job's failure.
  static func alongside<Main, Side: Sendable>(
    _ side: @escaping @Sendable () throws(JobFailure) -> Side, discard: (Side) -> Void,
    main: () throws(JobFailure) -> Main
  ) throws(JobFailure) -> (Main, Side) {
    let outcome = LockedBox<Result<Side, JobFailure>?>(nil)
    let group = DispatchGroup()
    group.enter()
    Thread.detachNewThread {
      defer { group.leave() }
      let result: Result<Side, JobFailure>
      do throws(JobFailure) {
        result = .success(try side())
      } catch {
        result = .failure(error)
      }
      outcome.withLock { $0 = result }
    }
    let mainResult: Result<Main, JobFailure>
    do throws(JobFailure) {
      mainResult = .success(try main())
    } catch {
      mainResult = .failure(error)
    }
    group.wait()
    let sideResult =
      outcome.withLock { $0 }
      ?? .failure(JobFailure(.internalError, "a parallel step ended without a result", retry: true))
    switch (mainResult, sideResult) {
    case (.success(let m), .success(let s)):
      return (m, s)
    case (.failure(let error), let other):
      if case .success(let s) = other { discard(s) }
      throw error
    case (.success, .failure(let error)):
      throw error
    }
  }
}

/// A value behind a lock that closures running on other threads can share (a `Mutex` cannot be captured).
final class LockedBox<Value>: @unchecked Sendable {
  private let lock = NSLock()
  private var value: Value
  init(_ value: Value) { self.value = value }
  func withLock<T>(_ body: (inout Value) -> T) -> T {
    lock.lock()
    defer { lock.unlock() }
    return body(&value)
  }
}
