import COpenSSL

/// One loaded certificate and the TLS settings every connection shares (an OpenSSL `SSL_CTX`).
///
/// Settings follow Mozilla's "intermediate" profile: TLS 1.2 and 1.3 only, AEAD ciphers with forward
/// secrecy, the client's cipher order. Sessions resume through TLS 1.3 tickets and, for TLS 1.2, the
/// server-side cache and tickets; ticket keys live in the context, so they change with a certificate reload.
/// OpenSSL contexts are safe to share between threads once set up; each connection's `SSL` holds a
/// reference, so a replaced context lives until its last connection ends.
final class TLSContext: @unchecked Sendable {
  /// Mozilla's intermediate TLS 1.2 list (TLS 1.3 keeps OpenSSL's defaults, which are that profile's).
  static let tls12Ciphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
    + "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"
    + "DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384:DHE-RSA-CHACHA20-POLY1305"
  static let groups = "X25519:prime256v1:secp384r1"

  let context: OpaquePointer
  let configuration: TLSConfiguration

  /// Loads the certificate chain, key and client CAs; throws with OpenSSL's reason when they are unusable.
  init(_ configuration: TLSConfiguration) throws(TLSConfigurationError) {
    self.configuration = configuration
    ERR_clear_error()
    guard let context = SSL_CTX_new(TLS_server_method()) else {
      throw TLSConfigurationError(reason: "cannot create a TLS context: \(TLSContext.lastError())")
    }
    self.context = context
    _ = ferry_ssl_ctx_set_min_proto_version(context, TLS1_2_VERSION)
    // No renegotiation, no compression, end of input without close_notify accepted (see the shim).
    ferry_ssl_ctx_set_server_options(context)
    if configuration.kernelTLS { ferry_ssl_ctx_enable_ktls(context) }
    // Writes may return after whole records, and a retried write may come from a moved buffer (a Swift array
    // that grew) as long as its bytes are the same.
    _ = ferry_ssl_ctx_set_mode(
      context,
      Int(SSL_MODE_ENABLE_PARTIAL_WRITE) | Int(SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER) | Int(SSL_MODE_RELEASE_BUFFERS))
    guard SSL_CTX_set_cipher_list(context, TLSContext.tls12Ciphers) == 1,
      ferry_ssl_ctx_set_groups_list(context, TLSContext.groups) == 1
    else {
      throw TLSConfigurationError(reason: "OpenSSL refused the cipher settings: \(TLSContext.lastError())")
    }
    _ = ferry_ssl_ctx_set_dh_auto(context)
    ferry_ssl_ctx_use_http11_alpn(context)
    _ = ferry_ssl_ctx_set_session_cache_mode(context, Int(SSL_SESS_CACHE_SERVER))
    _ = ferry_ssl_ctx_sess_set_cache_size(context, 20_000)
    let sessionContext: [UInt8] = Array("ferry".utf8)
    _ = SSL_CTX_set_session_id_context(context, sessionContext, UInt32(sessionContext.count))

    guard SSL_CTX_use_certificate_chain_file(context, configuration.certificatePath) == 1 else {
      throw TLSConfigurationError(
        reason: "cannot load the certificate \(configuration.certificatePath): \(TLSContext.lastError())")
    }
    guard SSL_CTX_use_PrivateKey_file(context, configuration.keyPath, SSL_FILETYPE_PEM) == 1,
      SSL_CTX_check_private_key(context) == 1
    else {
      let reason = TLSContext.lastError()
      if reason.contains("key values mismatch") {
        throw TLSConfigurationError(
          reason: "the key \(configuration.keyPath) does not belong to the certificate \(configuration.certificatePath)"
        )
      }
      throw TLSConfigurationError(reason: "cannot load the key \(configuration.keyPath): \(reason)")
    }
    if let clientCA = configuration.clientCAPath {
      guard SSL_CTX_load_verify_locations(context, clientCA, nil) == 1,
        let names = SSL_load_client_CA_file(clientCA)
      else {
        throw TLSConfigurationError(reason: "cannot load the client CA file \(clientCA): \(TLSContext.lastError())")
      }
      // The CA names go to clients in the certificate request, so they pick a certificate that fits.
      SSL_CTX_set_client_CA_list(context, names)
      ferry_ssl_ctx_require_client_certificates(context)
    }
  }

  deinit {
    SSL_CTX_free(context)
  }

  /// A session for the accepted socket `fd`, in server (accept) mode.
  func makeSession(fd: Int32) -> TLSSession? {
    guard let ssl = SSL_new(context) else { return nil }
    guard SSL_set_fd(ssl, fd) == 1 else {
      SSL_free(ssl)
      return nil
    }
    SSL_set_accept_state(ssl)
    return TLSSession(ssl)
  }

  /// OpenSSL's reasons queued on this thread, oldest first, and clears them.
  static func lastError() -> String {
    var reasons: [String] = []
    while case let code = ERR_get_error(), code != 0 {
      var buffer = [CChar](repeating: 0, count: 256)
      ERR_error_string_n(code, &buffer, buffer.count)
      reasons.append(String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
    }
    return reasons.isEmpty ? "unknown error" : reasons.joined(separator: "; ")
  }
}
