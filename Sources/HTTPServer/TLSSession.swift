import COpenSSL

/// One connection's TLS state (an OpenSSL `SSL` on the connection's non-blocking socket). Used only on the
/// connection's loop thread. OpenSSL's error queue is per thread, so every call clears it first: a reason
/// left behind by another connection must not decide this one's result.
final class TLSSession {
  /// What a handshake step, read or write did.
  enum Outcome: Equatable {
    /// Bytes read or written (0 for a finished handshake).
    case done(Int)
    /// Try again when the socket is readable.
    case wantRead
    /// Try again when the socket is writable.
    case wantWrite
    /// The peer closed the connection.
    case closed
    /// The connection cannot go on: a protocol error, or the peer sent plain HTTP (`plainHTTP`).
    case failed(String)
  }

  private let ssl: OpaquePointer
  /// The handshake failed because the client spoke plain HTTP to the TLS port.
  private(set) var receivedPlainHTTP = false

  init(_ ssl: OpaquePointer) {
    self.ssl = ssl
  }

  deinit {
    // The socket BIO does not own the descriptor: the connection closes it.
    SSL_free(ssl)
  }

  /// Advances the handshake; `.done(0)` once it is complete.
  func handshake() -> Outcome {
    ERR_clear_error()
    let result = SSL_do_handshake(ssl)
    return result == 1 ? .done(0) : outcome(of: result, handshaking: true)
  }

  /// Reads decrypted bytes into `buffer`.
  func read(into buffer: UnsafeMutableRawPointer, count: Int) -> Outcome {
    ERR_clear_error()
    let result = SSL_read(ssl, buffer, Int32(clamping: count))
    return result > 0 ? .done(Int(result)) : outcome(of: result, handshaking: false)
  }

  /// Encrypts and writes bytes from `buffer` (whole records; possibly fewer bytes than `count`). After
  /// `.wantWrite` the next call must offer the same bytes again (they may have moved).
  func write(from buffer: UnsafeRawPointer, count: Int) -> Outcome {
    ERR_clear_error()
    let result = SSL_write(ssl, buffer, Int32(clamping: min(count, 1 << 30)))
    return result > 0 ? .done(Int(result)) : outcome(of: result, handshaking: false)
  }

  /// Whether the kernel encrypts what this session sends (kernel TLS took its keys after the handshake), so
  /// `sendFile` can be used.
  var sendsThroughKernel: Bool { ferry_ssl_sends_through_kernel(ssl) == 1 }

  /// Sends up to `count` bytes of the file `fd` from `offset` with `SSL_sendfile` (kernel TLS only: the
  /// kernel reads and encrypts, no copy through user space). `.failed` when the file ends early.
  func sendFile(_ fd: Int32, offset: Int64, count: Int) -> Outcome {
    ERR_clear_error()
    let result = ferry_ssl_sendfile(ssl, fd, Int(offset), count)
    if result > 0 { return .done(result) }
    if result == 0 { return .failed("the file ended early") }
    return outcome(of: -1, handshaking: false)
  }

  /// Sends close_notify if it can without waiting; the connection then shuts the socket down.
  func close() {
    ERR_clear_error()
    _ = SSL_shutdown(ssl)
    ERR_clear_error()
  }

  /// Whether OpenSSL holds input the socket no longer shows (part of a record larger than the last read):
  /// epoll will not report it, so the connection must read again by itself.
  var hasBufferedInput: Bool { SSL_has_pending(ssl) == 1 }

  /// The negotiated protocol version (`TLSv1.3`), for tests and logs.
  var protocolVersion: String { String(cString: SSL_get_version(ssl)) }

  /// The negotiated cipher (`TLS_AES_256_GCM_SHA384`), for logs.
  var cipherName: String { ferry_ssl_cipher_name(ssl).map { String(cString: $0) } ?? "none" }

  private func outcome(of result: Int32, handshaking: Bool) -> Outcome {
    switch SSL_get_error(ssl, result) {
    case SSL_ERROR_WANT_READ:
      return .wantRead
    case SSL_ERROR_WANT_WRITE:
      return .wantWrite
    case SSL_ERROR_ZERO_RETURN:
      return .closed
    case SSL_ERROR_SYSCALL:
      // No OpenSSL reason: the socket failed or (during a handshake) the peer went away.
      ERR_clear_error()
      return handshaking ? .closed : .failed("socket error")
    default:
      let code = ERR_peek_error()
      let reason = ferry_err_get_reason(code)
      if handshaking && (reason == SSL_R_HTTP_REQUEST || reason == SSL_R_HTTPS_PROXY_REQUEST) {
        receivedPlainHTTP = true
      }
      return .failed(TLSContext.lastError())
    }
  }
}
