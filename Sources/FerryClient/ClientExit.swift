/// The exit statuses of the `ferry` client subcommands: scripts rely on them, so they never change meaning.
public enum ClientExit: Int32, Sendable, CaseIterable {
  /// The command did what it was asked (a job ended `Success`; `--no-wait` submitted it).
  case success = 0
  /// Anything not listed below: a local file could not be written, a transfer failed, a surprising answer.
  case failure = 1
  /// The job ended `Failed` or `InternalError`.
  case jobFailed = 2
  /// The job ended `Cancelled`.
  case jobCancelled = 3
  /// The server refused the request (400, 404, 409, 413, ...): the message says which field.
  case requestRefused = 4
  /// `--timeout` passed while the job was still running (it keeps running on the server).
  case timedOut = 5
  /// Bad arguments, or no server or credentials (argument-parser's usage status).
  case usage = 64
  /// An input file does not exist or cannot be read.
  case noInput = 66
  /// The server cannot be reached (connection refused, no route, DNS, timeouts, 5xx after retries).
  case unreachable = 69
  /// The server refused the app key and secret (401 or 403).
  case authRefused = 77
  /// Ctrl-C while waiting (the shell's status for SIGINT); the job keeps running.
  case interrupted = 130

  /// One line per status, for `ferry help` and README.
  public static var table: String {
    """
    Exit status:
      0   success (the job ended Success; --no-wait: the job was submitted)
      1   other errors (a local file could not be written, a transfer failed)
      2   the job ended Failed or InternalError
      3   the job ended Cancelled
      4   the server refused the request (invalid option, unknown job, ...)
      5   --timeout passed while the job was still running
      64  usage error (bad arguments, no server or credentials)
      66  an input file does not exist or cannot be read
      69  the server cannot be reached
      77  the app key or secret was refused
      130 Ctrl-C while waiting (the job keeps running)
    """
  }
}

/// Why a client subcommand stopped, with the exit status it maps to. Messages never hold a secret, a token
/// or a pre-signed URL.
public struct ClientError: Error, Sendable, CustomStringConvertible {
  public var exit: ClientExit
  public var message: String

  public init(_ exit: ClientExit, _ message: String) {
    self.exit = exit
    self.message = message
  }

  public var description: String { message }
}
