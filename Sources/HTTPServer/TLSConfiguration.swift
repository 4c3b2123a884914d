/// The listener's certificate: with one, every connection speaks TLS (1.2 or 1.3) and nothing else.
public struct TLSConfiguration: Sendable, Equatable {
  /// PEM certificate file; the chain may follow the certificate in the same file.
  public var certificatePath: String
  /// PEM private key file of the certificate.
  public var keyPath: String
  /// PEM file of the CAs whose client certificates are accepted; with it, a client without a valid
  /// certificate is refused during the handshake. nil: no client certificates asked for.
  public var clientCAPath: String?
  /// Hand the keys to the kernel after the handshake where it can take them (kernel TLS), so file bodies go
  /// out with `SSL_sendfile`; false keeps all encryption in user space (buffered writes).
  public var kernelTLS: Bool

  public init(certificatePath: String, keyPath: String, clientCAPath: String? = nil, kernelTLS: Bool = true) {
    self.certificatePath = certificatePath
    self.keyPath = keyPath
    self.clientCAPath = clientCAPath
    self.kernelTLS = kernelTLS
  }
}

/// The certificate or key could not be loaded; `reason` is OpenSSL's, never the key's contents.
public struct TLSConfigurationError: Error, Sendable, CustomStringConvertible {
  public var reason: String
  public var description: String { reason }
}
