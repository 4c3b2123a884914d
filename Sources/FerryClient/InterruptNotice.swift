import Dispatch
import Foundation
import Synchronization

/// Ctrl-C while a client subcommand waits: a last line that says the job goes on without the client (and how
/// to stop it), then exit status 130, the shell's status for SIGINT. Before a job exists Ctrl-C just exits.
/// (`@unchecked`: the signal source is set up once in `init` and never touched again; the id is in a Mutex.)
public final class InterruptNotice: @unchecked Sendable {
  private let jobID = Mutex<String?>(nil)
  /// Where the job writes the result the client would have downloaded (a local OUT), if any.
  private let resultKey = Mutex<String?>(nil)
  private let partialFile = Mutex<String?>(nil)
  private let source: any DispatchSourceSignal

  /// Takes over SIGINT for the life of the process (a client command runs once, then exits).
  public init(write: @escaping @Sendable (String) -> Void) {
    signal(SIGINT, SIG_IGN)
    source = DispatchSource.makeSignalSource(signal: SIGINT, queue: .global())
    // The notice lives as long as the process: the handler may hold it.
    source.setEventHandler { [self] in
      let id = jobID.withLock { $0 }
      if let partial = partialFile.withLock({ $0 }) { unlink(partial) }
      // A bar may be half drawn: start on a fresh line.
      var text = isatty(STDERR_FILENO) == 1 ? "\n" : ""
      if let id { text += "ferry: stopped waiting; job \(id) keeps running (ferry cancel \(id) stops it)\n" }
      if let key = resultKey.withLock({ $0 }) { text += JobRunner.resultNotice(key) }
      write(text)
      exit(ClientExit.interrupted.rawValue)
    }
    source.resume()
  }

  /// The job the client now waits for, and the `dlb://` key of its result when the client was to download it.
  public func waiting(for id: String, resultKey key: String? = nil) {
    jobID.withLock { $0 = id }
    resultKey.withLock { $0 = key }
  }

  /// A download in progress, removed if Ctrl-C comes before it is renamed into place (nil: none).
  public func downloading(to partial: String?) {
    partialFile.withLock { $0 = partial }
  }
}
