import Foundation
import HTTPServer
import Log
import TestSupport
import Testing

/// The listener with a certificate: real clients (curl, `openssl s_client`, Python's `ssl`) against a server
/// on 127.0.0.1 with a throwaway CA; slow, silent, plain-HTTP and garbage-sending clients.
@Suite(.serialized) struct TLSListenerTests {
  /// A TLS server with a `/file` route serving `fileBytes` from disk and a short header timeout (1 s).
  private static func start(
    _ certificates: TestCertificates, fileBytes: [UInt8] = [], headerTimeout: Duration = .seconds(1),
    kernelTLS: Bool = true, maxConnections: Int = 4096
  ) throws -> (LiveServer, String) {
    let directory = try makeTemporaryDirectory("ferry-tls-files")
    let path = directory + "/big.bin"
    _ = FileManager.default.createFile(atPath: path, contents: Data(fileBytes))
    let live = try LiveServer(
      {
        $0.tls = certificates.tls
        $0.tls?.kernelTLS = kernelTLS
        $0.headerTimeout = headerTimeout
        $0.maxConnections = maxConnections
      },
      routes: { router in
        router.get("/file") { _ in
          Response(headers: ["Content-Type": "application/octet-stream"], file: FileBody(path: path))
        }
      })
    return (live, directory)
  }

  private static func curl(_ arguments: [String], _ certificates: TestCertificates, timeout: Double = 60) throws
    -> ToolResult
  {
    try runTool(["curl", "-sS", "--cacert", certificates.caPath] + arguments, timeout: timeout)
  }

  @Test func curlSpeaksTLS13AndTLS12_withALPNHTTP11_bodiesAndFileDownloads() async throws {
    let certificates = try TestCertificates()
    defer { certificates.remove() }
    let fileBytes = testBytes(count: 24 << 20)
    let (live, directory) = try Self.start(certificates, fileBytes: fileBytes)
    defer { try? FileManager.default.removeItem(atPath: directory) }
    let base = "https://127.0.0.1:\(live.port)"
    let versions = [("--tlsv1.3", "1.3", "TLSv1.3"), ("--tlsv1.2", "1.2", "TLSv1.2")]
    for (minimum, maximum, name) in versions {
      let hello = try await blocking {
        try Self.curl(
          [minimum, "--tls-max", maximum, "-v", "-w", "%{http_code} %{http_version}", base + "/hello"], certificates)
      }
      #expect(hello.status == 0 && hello.stdout == "hello200 1.1", "\(name): \(hello.stdout) \(hello.stderr)")
      #expect(hello.stderr.contains("SSL connection using \(name)"), "\(hello.stderr)")
      #expect(hello.stderr.contains("ALPN: server accepted http/1.1"), "\(hello.stderr)")

      // A POST body, read back.
      let body = testBytes(count: 700_000)
      let bodyPath = directory + "/body.bin"
      _ = FileManager.default.createFile(atPath: bodyPath, contents: Data(body))
      let echoPath = directory + "/echo.out"
      let echo = try await blocking {
        try Self.curl(
          [
            minimum, "--tls-max", maximum, "--data-binary", "@" + bodyPath, "-o", echoPath, "-w", "%{http_code}",
            base + "/echo",
          ], certificates)
      }
      #expect(echo.stdout == "200", "\(echo.stderr)")
      #expect(FileManager.default.contents(atPath: echoPath) == Data(body))

      // A file body over TLS, once at full speed and once to a reader slower than the server (the socket
      // fills and the server must wait for writability in the middle of TLS records).
      for limit in [[], ["--limit-rate", "16M"]] {
        let outPath = directory + "/download.out"
        let download = try await blocking {
          try Self.curl(
            [minimum, "--tls-max", maximum, "-o", outPath, "-w", "%{http_code} %{size_download}"] + limit
              + [base + "/file"], certificates)
        }
        #expect(download.stdout == "200 \(fileBytes.count)", "\(download.stderr)")
        #expect(FileManager.default.contents(atPath: outPath) == Data(fileBytes))
      }
    }
    // Several requests on one kept-alive TLS connection.
    let reused = try await blocking {
      try Self.curl(["-v", "-o", "/dev/null", base + "/hello", "-o", "/dev/null", base + "/hello"], certificates)
    }
    #expect(reused.status == 0 && reused.stderr.contains("Re-using existing connection"), "\(reused.stderr)")
    await live.stop()
  }

  @Test func oldProtocolsAndWeakCiphersAreRefused_modernOnesAccepted() async throws {
    let certificates = try TestCertificates()
    defer { certificates.remove() }
    let (live, directory) = try Self.start(certificates)
    defer { try? FileManager.default.removeItem(atPath: directory) }
    let connect = "127.0.0.1:\(live.port)"
    // @SECLEVEL=0 makes the client really offer the old protocol instead of refusing it itself.
    let refused: [[String]] = [
      ["-tls1_1", "-cipher", "DEFAULT:@SECLEVEL=0"],
      ["-tls1", "-cipher", "DEFAULT:@SECLEVEL=0"],
      // No forward secrecy; CBC with SHA-1; CBC with SHA-384: not in Mozilla's intermediate list.
      ["-tls1_2", "-cipher", "AES128-GCM-SHA256"],
      ["-tls1_2", "-cipher", "ECDHE-RSA-AES128-SHA"],
      ["-tls1_2", "-cipher", "ECDHE-RSA-AES256-SHA384"],
    ]
    for options in refused {
      let result = try await blocking {
        try runTool(
          ["openssl", "s_client", "-connect", connect, "-CAfile", certificates.caPath] + options,
          input: Data("GET /hello HTTP/1.0\r\n\r\n".utf8), timeout: 20)
      }
      #expect(!result.timedOut && result.status != 0, "\(options) was accepted: \(result.stdout)")
      #expect(!result.stdout.contains("hello"), "\(options)")
      // The server refused it (an alert from it), not the client's own settings.
      #expect(
        result.stderr.contains("alert") || result.stdout.contains("Cipher is (NONE)"), "\(options): \(result.stderr)")
    }
    let accepted: [[String]] = [
      ["-tls1_3"], ["-tls1_2", "-cipher", "ECDHE-RSA-AES128-GCM-SHA256"],
      ["-tls1_2", "-cipher", "ECDHE-RSA-CHACHA20-POLY1305"],
    ]
    for options in accepted {
      let result = try await blocking {
        try runTool(
          ["openssl", "s_client", "-connect", connect, "-CAfile", certificates.caPath, "-ign_eof"] + options,
          input: Data("GET /hello HTTP/1.0\r\n\r\n".utf8), timeout: 20)
      }
      #expect(result.status == 0 && result.stdout.contains("hello"), "\(options): \(result.stderr)")
      #expect(result.stdout.contains("Verify return code: 0 (ok)"), "\(options)")
    }
    await live.stop()
  }

  @Test func sessionsResume_overTLS13AndTLS12() async throws {
    let certificates = try TestCertificates()
    defer { certificates.remove() }
    let (live, directory) = try Self.start(certificates)
    defer { try? FileManager.default.removeItem(atPath: directory) }
    let script = """
      import socket, ssl, sys
      port, cafile = int(sys.argv[1]), sys.argv[2]
      for version in (ssl.TLSVersion.TLSv1_3, ssl.TLSVersion.TLSv1_2):
          ctx = ssl.create_default_context(cafile=cafile)
          ctx.minimum_version = ctx.maximum_version = version
          session, reused = None, []
          for _ in range(2):
              with ctx.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=10),
                                   server_hostname="127.0.0.1", session=session) as s:
                  s.sendall(b"GET /hello HTTP/1.1\\r\\nHost: t\\r\\nConnection: close\\r\\n\\r\\n")
                  data = b""
                  while chunk := s.recv(65536):
                      data += chunk
                  assert data.endswith(b"hello"), data
                  reused.append(s.session_reused)
                  session = s.session
          print(version.name, reused)
      """
    let result = try await blocking {
      try runTool(["python3", "-c", script, String(live.port), certificates.caPath], timeout: 30)
    }
    #expect(result.status == 0, "\(result.stderr)")
    #expect(result.stdout.contains("TLSv1_3 [False, True]"), "\(result.stdout)")
    #expect(result.stdout.contains("TLSv1_2 [False, True]"), "\(result.stdout)")
    await live.stop()
  }

  @Test func aClientThatStallsItsHandshake_isCutWithinTheHeaderTimeout() async throws {
    let certificates = try TestCertificates()
    defer { certificates.remove() }
    let (live, directory) = try Self.start(certificates)
    defer { try? FileManager.default.removeItem(atPath: directory) }
    // Silent from the start; and the first bytes of a ClientHello record, then silence.
    for opening in [[], [0x16, 0x03, 0x01, 0x02, 0x00, 0x01]] as [[UInt8]] {
      let (closed, elapsed) = try await blocking {
        let started = DispatchTime.now().uptimeNanoseconds
        let client = try live.client(timeout: 8)
        if !opening.isEmpty { try client.send(opening) }
        let closed = client.isClosedByServer()
        return (closed, Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9)
      }
      #expect(closed)
      #expect(elapsed >= 0.9 && elapsed < 4, "cut after about header_timeout (1 s), took \(elapsed) s")
    }
    #expect(await eventually { live.server.connectionCount == 0 })
    await live.stop()
  }

  @Test func plainHTTPToTheTLSPort_getsA400AndAClose_neverAHang() async throws {
    let certificates = try TestCertificates()
    defer { certificates.remove() }
    let (live, directory) = try Self.start(certificates)
    defer { try? FileManager.default.removeItem(atPath: directory) }
    for request in [
      "GET /hello HTTP/1.1\r\nHost: t\r\n\r\n", "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nabc",
      "PUT /upload HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n\r\nab",
    ] {
      let (status, body, closed, elapsed) = try await blocking {
        let started = DispatchTime.now().uptimeNanoseconds
        let client = try live.client(timeout: 5)
        try client.send(request)
        let response = try client.readResponse()
        let closed = client.isClosedByServer()
        return (
          response.status, String(decoding: response.body, as: UTF8.self), closed,
          Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
        )
      }
      #expect(status == 400 && body.contains("https://"), "\(body)")
      #expect(closed && elapsed < 3)
    }
    // curl's http:// to the TLS port ends promptly too.
    let curl = try await blocking {
      try runTool(["curl", "-sS", "-m", "10", "http://127.0.0.1:\(live.port)/hello"], timeout: 15)
    }
    #expect(!curl.timedOut && curl.stdout.contains("https://"), "\(curl.stdout) \(curl.stderr)")
    await live.stop()
  }

  @Test func garbageAndTruncatedRecords_neverCrashTheServer() async throws {
    let certificates = try TestCertificates()
    defer { certificates.remove() }
    let (live, directory) = try Self.start(certificates)
    defer { try? FileManager.default.removeItem(atPath: directory) }
    var generator = SystemRandomNumberGenerator()
    var inputs: [[UInt8]] = []
    for round in 0..<300 {
      let count = Int.random(in: 1...3000, using: &generator)
      var bytes = (0..<count).map { _ in UInt8.random(in: 0...255, using: &generator) }
      // Most rounds look like TLS records (handshake, alert, change cipher spec, application data) with
      // random, often lying, lengths, so the bytes get past the first check.
      if round % 4 != 0, bytes.count >= 5 {
        bytes[0] = [0x16, 0x15, 0x14, 0x17][round % 4]
        bytes[1] = 0x03
        bytes[2] = UInt8(round % 5)
        if round % 3 == 0, bytes.count > 9 {
          bytes[5] = 0x01  // a ClientHello with garbage inside
        }
      }
      inputs.append(bytes)
    }
    let port = live.port
    let records = inputs
    let outcomes = try await blocking { () -> Int in
      var answered = 0
      // Fifty at a time; most clients then close their side, the others wait for the server to give up on
      // them (the header timeout).
      for start in stride(from: 0, to: records.count, by: 50) {
        let batch = records[start..<min(start + 50, records.count)]
        let clients = try batch.map { bytes in
          let client = try RawHTTPClient(port: port, timeout: 5)
          _ = try? client.send(bytes)
          if bytes.count % 4 != 0 { client.closeWrite() }
          return client
        }
        answered += clients.filter { $0.isClosedByServer() }.count
      }
      return answered
    }
    #expect(outcomes == inputs.count, "every connection ended by the server within its timeout")
    let after = try await blocking {
      try Self.curl(["-w", "%{http_code}", "https://127.0.0.1:\(port)/hello"], certificates)
    }
    #expect(after.stdout == "hello200", "\(after.stderr)")
    #expect(await eventually { live.server.connectionCount == 0 })
    await live.stop()
  }

  @Test func aReloadedCertificate_servesNewConnections_whileAnOpenDownloadFinishes_andABadOneKeepsTheLast()
    async throws
  {
    let certificates = try TestCertificates()
    defer { certificates.remove() }
    try certificates.issue(name: "rotated", commonName: "ferry-rotated")
    let fileBytes = testBytes(count: 24 << 20)
    let (live, directory) = try Self.start(certificates, fileBytes: fileBytes)
    defer { try? FileManager.default.removeItem(atPath: directory) }
    let base = "https://127.0.0.1:\(live.port)"
    let subject = { @Sendable () throws -> String in
      let result = try Self.curl(["-v", "-o", "/dev/null", base + "/hello"], certificates)
      return result.stderr.split(separator: "\n").first { $0.contains("subject:") }.map(String.init) ?? result.stderr
    }
    #expect(try await blocking(subject).contains("CN=127.0.0.1"))

    // A download at 8 MB/s (about three seconds) on a connection made before the reload.
    let outPath = directory + "/slow.out"
    async let slow = blocking {
      try Self.curl(
        ["--limit-rate", "8M", "-o", outPath, "-w", "%{http_code} %{size_download}", base + "/file"], certificates)
    }
    try await Task.sleep(for: .milliseconds(500))
    let files = FileManager.default
    for (from, to) in [("rotated.pem", "server.pem"), ("rotated.key", "server.key")] {
      try files.removeItem(atPath: certificates.directory + "/" + to)
      try files.copyItem(atPath: certificates.directory + "/" + from, toPath: certificates.directory + "/" + to)
    }
    try live.server.reloadCertificate()
    #expect(try await blocking(subject).contains("CN=ferry-rotated"))

    // A half-written certificate: the reload fails with the reason, new connections keep the last good one.
    try "-----BEGIN CERTIFICATE-----\nMIIB\n".write(
      toFile: certificates.certificatePath, atomically: true, encoding: .utf8)
    #expect {
      try live.server.reloadCertificate()
    } throws: { error in
      "\(error)".contains("cannot load the certificate")
    }
    #expect(try await blocking(subject).contains("CN=ferry-rotated"))

    let download = try await slow
    #expect(download.stdout == "200 \(fileBytes.count)", "\(download.stderr)")
    #expect(FileManager.default.contents(atPath: outPath) == Data(fileBytes))
    await live.stop()
  }

  @Test func withClientCertificatesRequired_aClientWithoutOne_isRefusedInTheHandshake() async throws {
    let certificates = try TestCertificates()
    defer { certificates.remove() }
    // The client's certificate comes from the same test CA; a second CA's client is refused too.
    try certificates.issue(name: "client", commonName: "ferry-client")
    let other = try TestCertificates()
    defer { other.remove() }
    try other.issue(name: "client", commonName: "stranger")
    let live = try LiveServer {
      $0.tls = TLSConfiguration(
        certificatePath: certificates.certificatePath, keyPath: certificates.keyPath,
        clientCAPath: certificates.caPath)
    }
    let url = "https://127.0.0.1:\(live.port)/hello"
    for version in ["1.3", "1.2"] {
      let pinned = ["--tlsv" + version, "--tls-max", version, "-w", "%{http_code}"]
      let with = try await blocking {
        try Self.curl(
          pinned + [
            "--cert", certificates.directory + "/client.pem", "--key", certificates.directory + "/client.key", url,
          ], certificates)
      }
      #expect(with.stdout == "hello200", "\(version): \(with.stderr)")
      let without = try await blocking { try Self.curl(pinned + [url], certificates) }
      #expect(without.status != 0 && !without.stdout.contains("hello"), "\(version): \(without.stdout)")
      let stranger = try await blocking {
        try Self.curl(
          pinned + ["--cert", other.directory + "/client.pem", "--key", other.directory + "/client.key", url],
          certificates)
      }
      #expect(stranger.status != 0 && !stranger.stdout.contains("hello"), "\(version): \(stranger.stdout)")
    }
    await live.stop()
  }

  @Test func aThousandConcurrentTLSConnections_areServed_andTheServerStaysHealthy() async throws {
    raiseOpenFileLimit()
    let certificates = try TestCertificates()
    defer { certificates.remove() }
    // Connections wait for their request while the others connect: more than the 1 s of the other tests.
    let (live, directory) = try Self.start(certificates, headerTimeout: .seconds(20))
    defer { try? FileManager.default.removeItem(atPath: directory) }
    // Python's ssl from 40 threads: all thousand handshakes first, each connection held open, then a request
    // on every one of them.
    let script = """
      import resource, socket, ssl, sys, threading
      soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
      resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
      port, cafile, n = int(sys.argv[1]), sys.argv[2], 1000
      ctx = ssl.create_default_context(cafile=cafile)
      conns, errors = [None] * n, []
      def run(indices, work):
          for i in indices:
              try:
                  work(i)
              except Exception as e:
                  errors.append(repr(e))
      def spread(work):
          threads = [threading.Thread(target=run, args=(range(t, n, 40), work)) for t in range(40)]
          for t in threads: t.start()
          for t in threads: t.join()
      def connect(i):
          conns[i] = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=30),
                                     server_hostname="127.0.0.1")
      ok = []
      def request(i):
          if conns[i] is None: return
          conns[i].sendall(b"GET /hello HTTP/1.1\\r\\nHost: t\\r\\n\\r\\n")
          data = b""
          while not data.endswith(b"hello"):
              chunk = conns[i].recv(4096)
              if not chunk: break
              data += chunk
          if data.startswith(b"HTTP/1.1 200") and data.endswith(b"hello"): ok.append(i)
      spread(connect)
      open_count = sum(c is not None for c in conns)
      spread(request)
      for c in conns:
          if c is not None: c.close()
      print(open_count, len(ok), len(errors), errors[:3])
      """
    let result = try await blocking {
      try runTool(["python3", "-c", script, String(live.port), certificates.caPath], timeout: 120)
    }
    #expect(result.status == 0 && !result.timedOut, "\(result.stderr)")
    #expect(result.stdout.hasPrefix("1000 1000 0 "), "opened, answered, errors: \(result.stdout)")
    let after = try await blocking {
      try Self.curl(["-w", "%{http_code}", "https://127.0.0.1:\(live.port)/hello"], certificates)
    }
    #expect(after.stdout == "hello200", "\(after.stderr)")
    #expect(await eventually { live.server.connectionCount == 0 })
    await live.stop()
  }

  /// The kernel offers kernel TLS: its `tls` ULP is built in or loaded.
  private static var kernelOffersTLS: Bool {
    let ulps = (try? String(contentsOfFile: "/proc/sys/net/ipv4/tcp_available_ulp", encoding: .utf8)) ?? ""
    return ulps.split(whereSeparator: \.isWhitespace).contains("tls")
  }

  @Test func fileBodies_goThroughKernelTLSWhereTheKernelOffersIt_andBufferedWritesOtherwise() async throws {
    let certificates = try TestCertificates()
    defer { certificates.remove() }
    let fileBytes = testBytes(count: 6 << 20)
    for kernelTLS in [true, false] {
      let (live, directory) = try Self.start(certificates, fileBytes: fileBytes, kernelTLS: kernelTLS)
      defer { try? FileManager.default.removeItem(atPath: directory) }
      let base = "https://127.0.0.1:\(live.port)"
      let downloads = [["--tlsv1.3"], ["--tlsv1.2", "--tls-max", "1.2"], ["--tlsv1.3", "--limit-rate", "24M"]]
      for options in downloads {
        let outPath = directory + "/download.out"
        let download = try await blocking {
          try Self.curl(options + ["-o", outPath, "-w", "%{http_code} %{size_download}", base + "/file"], certificates)
        }
        #expect(download.stdout == "200 \(fileBytes.count)", "\(options): \(download.stderr)")
        #expect(FileManager.default.contents(atPath: outPath) == Data(fileBytes), "\(options)")
      }
      // Read after the downloads: OpenSSL's first try may have loaded a `tls` module.
      let kernel = kernelTLS && Self.kernelOffersTLS
      let counts = live.server.tlsFileBodies
      let lines = live.logs.all.filter { $0.contains(#""msg":"tls file bodies""#) }
      print("kernel TLS \(kernelTLS ? "on" : "off"): file bodies \(counts); \(lines)")
      if kernel {
        #expect(counts.kernel == downloads.count && counts.buffered == 0)
        #expect(lines.count == 1 && lines[0].contains("SSL_sendfile"), "\(lines)")
      } else {
        #expect(counts.kernel == 0 && counts.buffered == downloads.count)
        let reason = kernelTLS ? "the kernel offers no tls ULP" : "kernel TLS is off in the configuration"
        #expect(lines.count == 1 && lines[0].contains("buffered") && lines[0].contains(reason), "\(lines)")
      }
      await live.stop()
    }
  }

  @Test func pastTheConnectionCap_aTLSClientGetsAnAlert_notASilentClose() async throws {
    let certificates = try TestCertificates()
    defer { certificates.remove() }
    let (live, directory) = try Self.start(certificates, headerTimeout: .seconds(10), maxConnections: 1)
    defer { try? FileManager.default.removeItem(atPath: directory) }
    var held: RawHTTPClient? = try live.client(timeout: 5)
    #expect(held != nil)
    #expect(await eventually { live.server.connectionCount == 1 })
    let script = """
      import socket, ssl, sys
      ctx = ssl.create_default_context(cafile=sys.argv[2])
      try:
          ctx.wrap_socket(socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5),
                          server_hostname="127.0.0.1")
          print("connected")
      except Exception as e:
          print(repr(e))
      """
    let refused = try await blocking {
      try runTool(["python3", "-c", script, String(live.port), certificates.caPath], timeout: 20)
    }
    #expect(refused.stdout.contains("TLSV1_ALERT_INTERNAL_ERROR"), "\(refused.stdout) \(refused.stderr)")
    #expect(live.logs.all.contains { $0.contains("connection limit reached") })
    held = nil  // closes it
    #expect(await eventually { live.server.connectionCount == 0 })
    let after = try await blocking {
      try Self.curl(["-w", "%{http_code}", "https://127.0.0.1:\(live.port)/hello"], certificates)
    }
    #expect(after.stdout == "hello200", "\(after.stderr)")
    await live.stop()
  }

  @Test func theFirstRequestHead_getsItsOwnHeaderTimeoutAfterTheHandshake() async throws {
    let certificates = try TestCertificates()
    defer { certificates.remove() }
    let (live, directory) = try Self.start(certificates, headerTimeout: .milliseconds(1500))
    defer { try? FileManager.default.removeItem(atPath: directory) }
    // Both connections wait 1 s before their handshake. One sends its request 1 s after the handshake (2 s
    // after connecting, past one header timeout in all): answered. The other stays silent after the
    // handshake: cut about 1.5 s later.
    let script = """
      import socket, ssl, sys, threading, time
      ctx = ssl.create_default_context(cafile=sys.argv[2])
      out = {}
      def client(name, request):
          s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=8)
          time.sleep(1.0)
          t = ctx.wrap_socket(s, server_hostname="127.0.0.1")
          shaken = time.monotonic()
          if request:
              time.sleep(1.0)
              t.sendall(b"GET /hello HTTP/1.1\\r\\nHost: t\\r\\n\\r\\n")
          data = b""
          try:
              while True:
                  chunk = t.recv(4096)
                  if not chunk or data.endswith(b"hello"): break
                  data += chunk
                  if data.endswith(b"hello"): break
          except Exception as e:
              data += repr(e).encode()
          out[name] = (data[:12].decode(errors="replace"), round(time.monotonic() - shaken, 2))
      threads = [threading.Thread(target=client, args=a) for a in (("answered", True), ("silent", False))]
      for t in threads: t.start()
      for t in threads: t.join()
      print(out["answered"][0], out["silent"][0] or "closed", out["silent"][1])
      """
    let result = try await blocking {
      try runTool(["python3", "-c", script, String(live.port), certificates.caPath], timeout: 30)
    }
    print("after the handshake: \(result.stdout)")
    let fields = result.stdout.split(whereSeparator: \.isWhitespace)
    #expect(fields.count == 4 && fields[0] == "HTTP/1.1" && fields[1] == "200", "\(result.stdout) \(result.stderr)")
    let silentFor = fields.count == 4 ? Double(fields[3]) ?? 0 : 0
    #expect(fields.count == 4 && fields[2] == "closed" && silentFor >= 1.3 && silentFor < 4, "\(result.stdout)")
    await live.stop()
  }

  @Test func aBadCertificateOrKey_stopsTheServerWithOpenSSLsReason() throws {
    let certificates = try TestCertificates()
    defer { certificates.remove() }
    let router = Router()
    let logger = Logger(level: .error, sink: MemoryLogSink())
    for (cert, key, expected) in [
      (certificates.directory + "/missing.pem", certificates.keyPath, "cannot load the certificate"),
      (certificates.certificatePath, certificates.caPath, "cannot load the key"),
      (certificates.certificatePath, certificates.directory + "/ca.key", "does not belong"),
    ] {
      let configuration = HTTPServerConfiguration(
        port: 0, tls: TLSConfiguration(certificatePath: cert, keyPath: key))
      #expect {
        _ = try HTTPServer(configuration: configuration, router: router, logger: logger)
      } throws: { error in
        "\(error)".contains(expected)
      }
    }
    let badClientCA = HTTPServerConfiguration(
      port: 0,
      tls: TLSConfiguration(
        certificatePath: certificates.certificatePath, keyPath: certificates.keyPath,
        clientCAPath: certificates.directory + "/missing-ca.pem"))
    #expect {
      _ = try HTTPServer(configuration: badClientCA, router: router, logger: logger)
    } throws: { error in
      "\(error)".contains("cannot load the client CA file")
    }
  }
}

/// Polls `condition` for up to five seconds.
private func eventually(_ condition: @Sendable () -> Bool) async -> Bool {
  for _ in 0..<100 {
    if condition() { return true }
    try? await Task.sleep(for: .milliseconds(50))
  }
  return condition()
}

extension TestCertificates {
  /// The server certificate and key as the HTTP server takes them.
  var tls: TLSConfiguration { TLSConfiguration(certificatePath: certificatePath, keyPath: keyPath) }
}
