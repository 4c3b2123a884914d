import COpenSSL
import Foundation
import HTTPServer
import Log

/// libFuzzer entry point: hostile bytes at the TLS listener, through a real socket to an `HTTPServer` with a
/// certificate running in this process. The first byte picks where the rest goes:
/// - 0: raw, before any handshake (ClientHellos with garbage in them, other record types, plain HTTP);
/// - 1: raw, after a real TLS 1.3 handshake (garbage and truncated records inside an established session);
/// - 2: as application data through the client's TLS session (requests, pipelined or cut short, over TLS);
/// - 3: as 2, after a TLS 1.2 handshake.
/// Each input is sent in two writes, split where the second byte says, then the client shuts its side. The
/// server must end every connection within its timeouts, never crash, and be left with no connection open
/// (checked every 64 inputs).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTLSRecords(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
  guard size >= 2 else { return 0 }
  let bytes = Array(UnsafeBufferPointer(start: data, count: size))
  let mode = bytes[0] % 4
  let payload = Array(bytes[2...])
  let split = Int(bytes[1]) * payload.count / 256
  Harness.shared.run(mode: mode, payload: payload, split: split)
  return 0
}

/// The server, its certificate and the client's TLS context, made once per process.
final class Harness: @unchecked Sendable {
  static let shared = Harness()

  let server: HTTPServer
  let port: Int
  private let client13: OpaquePointer
  private let client12: OpaquePointer
  private var runs = 0

  private init() {
    let directory = NSTemporaryDirectory() + "ferry-fuzz-tls-\(getpid())"
    try! FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    let certificate = directory + "/server.pem"
    let key = directory + "/server.key"
    let openssl = Process()
    openssl.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
    openssl.arguments = [
      "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out",
      certificate, "-days", "2", "-subj", "/CN=127.0.0.1",
    ]
    openssl.standardError = FileHandle.nullDevice
    try! openssl.run()
    openssl.waitUntilExit()
    precondition(openssl.terminationStatus == 0, "openssl could not make a certificate")
    let file = directory + "/file.bin"
    FileManager.default.createFile(atPath: file, contents: Data(repeating: 0x61, count: 300_000))

    var router = Router()
    router.get("/hello") { _ in .text("hello") }
    router.post("/echo") { request in
      Response(status: .ok, headers: ["Content-Type": "application/octet-stream"], body: request.body.bytes)
    }
    router.get("/file") { _ in
      Response(headers: ["Content-Type": "application/octet-stream"], file: FileBody(path: file))
    }
    let configuration = HTTPServerConfiguration(
      host: "127.0.0.1", port: 0, headerTimeout: .seconds(1), idleTimeout: .seconds(1), loopCount: 1,
      tls: TLSConfiguration(certificatePath: certificate, keyPath: key))
    server = try! HTTPServer(
      configuration: configuration, router: router, logger: Logger(level: .error, sink: MemoryLogSink()))
    try! server.start()
    port = server.port
    client13 = Harness.clientContext(version: TLS1_3_VERSION)
    client12 = Harness.clientContext(version: TLS1_2_VERSION)
  }

  /// A client context pinned to one protocol version that does not check the (self-signed) certificate.
  private static func clientContext(version: Int32) -> OpaquePointer {
    let context = SSL_CTX_new(TLS_client_method())!
    _ = SSL_CTX_ctrl(context, SSL_CTRL_SET_MIN_PROTO_VERSION, Int(version), nil)
    _ = SSL_CTX_ctrl(context, SSL_CTRL_SET_MAX_PROTO_VERSION, Int(version), nil)
    SSL_CTX_set_verify(context, SSL_VERIFY_NONE, nil)
    return context
  }

  func run(mode: UInt8, payload: [UInt8], split: Int) {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    precondition(fd >= 0)
    defer { close(fd) }
    var timeout = timeval(tv_sec: 5, tv_usec: 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = in_port_t(UInt16(port).bigEndian)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    let connected = withUnsafePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
        connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
      }
    }
    precondition(connected == 0, "cannot connect to the server: errno \(errno)")

    var ssl: OpaquePointer?
    if mode != 0 {
      ssl = SSL_new(mode == 3 ? client12 : client13)
      SSL_set_fd(ssl, fd)
      // The server must finish a real handshake; a refusal here is a finding.
      precondition(SSL_connect(ssl) == 1, "the server refused a well-formed handshake")
    }
    defer { if let ssl { SSL_free(ssl) } }
    for piece in [payload[..<split], payload[split...]] where !piece.isEmpty {
      let chunk = Array(piece)
      if mode >= 2, let ssl {
        // The server may close first (a request it refused): stop sending then.
        guard SSL_write(ssl, chunk, Int32(chunk.count)) > 0 else { break }
      } else {
        guard send(fd, chunk, chunk.count, Int32(MSG_NOSIGNAL)) >= 0 else { break }
      }
    }
    shutdown(fd, Int32(SHUT_WR))
    // Read raw bytes until the server closes: it must, within its timeouts (1 s) and the reader's 5 s.
    var buffer = [UInt8](repeating: 0, count: 65536)
    var total = 0
    while true {
      let n = recv(fd, &buffer, buffer.count, 0)
      if n > 0 {
        total += n
        continue
      }
      if n < 0 && errno == EINTR { continue }
      precondition(!(n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)), "the server kept the connection open")
      break
    }
    runs += 1
    if runs % 64 == 0 {
      // Every connection ended: none left open in the server (bounded wait for the loop to notice).
      var waited = 0
      while server.connectionCount > 0 && waited < 300 {
        usleep(10_000)
        waited += 1
      }
      precondition(server.connectionCount == 0, "\(server.connectionCount) connections left open")
    }
  }
}
