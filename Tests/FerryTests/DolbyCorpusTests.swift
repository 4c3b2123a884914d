import Foundation
import TestSupport
import Testing

/// Every body in the conformance corpus (`DolbyCorpus/`, Dolby's own samples, client libraries and docs)
/// against a live Ferry with the real media operations, moto behind the strict SigV4 proxy for the samples'
/// buckets, and `dlb://` for their temporary storage: each is sent the way its sample sends it (auth, Content-Type),
/// answered 2xx, ends `Success`, and what the sample reads afterwards is there (job fields, downloads, the
/// callback). Bodies that need what Ferry does not do yet are checked to fail the way the manifest records,
/// so the test notices when they start working.
@Suite(.serialized, .enabled(if: S3Peers.unavailable == nil, "S3 peers unavailable"))
struct DolbyCorpusTests {
  static let (accessKey, secretKey) = ("AKIDDOLBYCORPUS", "corpus/secret+key")
  static let buckets = ["media", "dolbyio"]

  /// The media the samples start from, made by ffmpeg: 3 s each, so the whole corpus stays short.
  static let fixtureArguments: [String: [String]] = [
    "wav": [
      "-f", "lavfi", "-i", "sine=f=220:d=3:sample_rate=48000", "-f", "lavfi", "-i",
      "anoisesrc=d=3:a=0.02:r=48000:seed=1",
      "-filter_complex", "amix=inputs=2,volume=-12dB,aformat=channel_layouts=stereo", "-f", "wav",
    ],
    // A 50 s stereo "song" for the music-mastering app, whose previews start at 45 s.
    "song": [
      "-f", "lavfi", "-i", "sine=f=110:d=50:sample_rate=48000", "-f", "lavfi", "-i",
      "anoisesrc=c=pink:d=50:a=0.05:r=48000",
      "-filter_complex", "amix=inputs=2,volume=-10dB,aformat=channel_layouts=stereo", "-f", "wav",
    ],
    "mp3": [
      "-f", "lavfi", "-i", "sine=f=330:d=3:sample_rate=44100", "-ac", "2", "-c:a", "libmp3lame", "-b:a", "128k", "-f",
      "mp3",
    ],
    // 640x360 at 30 fps: the YouTube sample looks its bitrate up by height and frame rate.
    "mp4": [
      "-f", "lavfi", "-i", "testsrc=size=640x360:rate=30:d=3", "-f", "lavfi", "-i", "sine=f=440:d=3:sample_rate=48000",
      "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "96k", "-shortest",
      "-movflags", "+faststart", "-f", "mp4",
    ],
  ]

  static func makeFixtures() throws -> [String: [UInt8]] {
    let directory = try makeTemporaryDirectory("ferry-corpus")
    var fixtures: [String: [UInt8]] = [:]
    for (kind, arguments) in fixtureArguments {
      let path = "\(directory)/fixture.\(kind)"
      let process = Process()
      process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
      process.arguments = ["ffmpeg", "-hide_banner", "-loglevel", "error", "-y"] + arguments + [path]
      try process.run()
      process.waitUntilExit()
      fixtures[kind] = Array(try Data(contentsOf: URL(fileURLWithPath: path)))
    }
    return fixtures
  }

  /// The headers a sample's requests carry for its kind of auth.
  struct Credentials {
    var apiKey: [String: String]
    var bearer: [String: String]
    var oauth2: [String: String]

    func headers(for auth: String) -> [String: String] {
      switch auth {
      case "api-key": apiKey
      case "bearer-oauth2": oauth2
      default: bearer
      }
    }
  }

  @Test(.timeLimit(.minutes(4)))
  func everyBody_isAnswered_endsInSuccess_andHasWhatItsSampleReads() async throws {
    let corpus = try DolbyCorpus.load()
    // Issue 21's acceptance: at least 30 of Dolby's bodies answered 2xx and ending Success.
    #expect(corpus.entries.filter { $0.expectedFailure == nil }.count >= 30)
    let fixtures = try Self.makeFixtures()
    let peers = try S3Peers(key: Self.accessKey, secret: Self.secretKey)
    defer { peers.stop() }
    for bucket in Self.buckets { try peers.createBucket(bucket) }
    let receiver = try FaultServer { _, _ in .status(200, body: "ok") }
    defer { receiver.stop() }
    let server = try APITestServer(
      extraEnvironment: ["FERRY_S3_ENDPOINT": peers.proxyEndpoint, "FERRY_S3_PATH_STYLE": "true"],
      mediaOperations: true)
    defer { Task { await server.stop() } }
    let basic = Data("app-a:secret-a".utf8).base64EncodedString()
    let oauth2 = try await server.request(
      "POST", "/media/oauth2/token",
      headers: ["Authorization": "Basic \(basic)", "Content-Type": "application/x-www-form-urlencoded"],
      body: "grant_type=client_credentials")
    let legacyToken = try #require(oauth2.json["access_token"] as? String, "\(oauth2.text)")
    let credentials = Credentials(
      apiKey: ["x-api-key": "legacy-a"],
      bearer: ["Authorization": "Bearer \(try await server.token(key: "app-a", secret: "secret-a"))"],
      oauth2: ["Authorization": "Bearer \(legacyToken)"])

    var summary: [String] = []
    for entry in corpus.entries {
      let started = Date()
      let outcome = try await run(
        entry, server: server, peers: peers, receiver: receiver, fixtures: fixtures,
        credentials: credentials)
      summary.append("\(entry.name): \(outcome) (\(String(format: "%.1f", Date().timeIntervalSince(started))) s)")
    }
    print("Dolby corpus:\n  " + summary.joined(separator: "\n  "))
    let log = peers.proxyLog
    #expect(!log.contains("-> 403"), "the strict proxy refused a signature: \(log.suffix(1500))")
  }

  /// Runs one entry as its sample would; returns what happened, for the summary.
  func run(
    _ entry: DolbyCorpus.Entry, server: APITestServer, peers: S3Peers, receiver: FaultServer,
    fixtures: [String: [UInt8]], credentials: Credentials
  ) async throws -> String {
    let name = entry.name
    let auth = credentials.headers(for: entry.auth)
    // What the sample has in place before it posts: its bucket's objects and its dlb:// uploads.
    for (object, kind) in entry.s3Objects {
      try putObject(peers, object, try #require(fixtures[kind], "\(name): no fixture \(kind)"))
    }
    for (object, kind) in entry.publicObjects {
      try putObject(peers, object, try #require(fixtures[kind], "\(name): no fixture \(kind)"), publicRead: true)
    }
    for (key, kind) in entry.dlbUploads.sorted(by: { $0.key < $1.key }) {
      try await upload(
        server, key, try #require(fixtures[kind], "\(name): no fixture \(kind)"), auth: auth,
        contentType: entry.inputContentType ?? entry.contentType)
    }

    let body = try DolbyCorpus.render(try DolbyCorpus.body(of: entry)) { placeholder in
      switch placeholder {
      case .presignedGet(let bucket, let key, let expires):
        try peers.presign(
          method: "GET", bucket: bucket, key: key, expires: expires, key: Self.accessKey, secret: Self.secretKey)
      case .presignedPut(let bucket, let key, let expires, let contentType):
        try peers.presign(
          method: "PUT", bucket: bucket, key: key, expires: expires, key: Self.accessKey, secret: Self.secretKey,
          contentType: contentType)
      case .publicObject(let bucket, let key): "\(peers.proxyEndpoint)/\(bucket)/\(key)"
      case .callback: "\(receiver.base)\(entry.callback?.path ?? "/")"
      case .accessKey: Self.accessKey
      case .secretKey: Self.secretKey
      }
    }
    let answer = try await server.request(
      "POST", entry.path,
      headers: auth.merging(["Content-Type": entry.contentType]) { $1 }.merging(entry.extraHeaders ?? [:]) { $1 },
      body: body)

    if let failure = entry.expectedFailure, failure.at == "submit" {
      let detail = answer.json["detail"] as? String ?? ""
      #expect(
        answer.status == failure.status && answer.json["type"] as? String == failure.type
          && failure.detailContains.map { detail.contains($0) } ?? true,
        "\(name) was expected to be refused (\(failure.reason)); now: \(answer.status) \(answer.text)")
      return
        "refused as expected, \(answer.status) \(answer.json["type"] ?? "") (\(failure.issue.map { "issue \($0)" } ?? "open"))"
    }
    guard answer.status == 200, let jobID = answer.json["job_id"] as? String else {
      Issue.record("\(name): POST \(entry.path) answered \(answer.status) \(answer.text)")
      return "refused \(answer.status)"
    }
    let job = try await waitForEnd(server, jobID, path: entry.path, auth: auth)
    guard job["status"] as? String == "Success" else {
      Issue.record("\(name): job ended \(job["status"] ?? "?"): \(job["error"] ?? "")")
      return "ended \(job["status"] ?? "?")"
    }
    // Dolby's samples poll until progress says 100 (the analyze-music app compares it with "100").
    #expect(job["progress"] as? Int == 100, "\(name): progress \(job["progress"] ?? "none") at Success")

    var missing: [String] = []
    for path in entry.reads where DolbyCorpus.value(at: path, in: job) == nil { missing.append(path) }
    for output in entry.outputs {
      let bytes = try await fetch(output.location, server: server, peers: peers, auth: auth)
      #expect(
        DolbyCorpus.looksLike(output.kind, bytes),
        "\(name): \(output.location) is not \(output.kind) (\(bytes.count) bytes: \(String(decoding: bytes.prefix(120), as: UTF8.self)))"
      )
      if let reads = output.reads {
        let document = (try? JSONSerialization.jsonObject(with: Data(bytes))) as? [String: Any] ?? [:]
        for path in reads where DolbyCorpus.value(at: path, in: document) == nil { missing.append(path) }
      }
    }
    if let callback = entry.callback {
      let call = try await waitForCallback(receiver, path: callback.path)
      #expect(call != nil, "\(name): on_complete was not called at \(callback.path)")
      if let header = callback.jobIdHeader {
        #expect(call?.header(header) == jobID, "\(name): \(header) was \(call?.header(header) ?? "absent")")
      }
    }

    if let failure = entry.expectedFailure {
      let expected = Set(failure.missing ?? [])
      #expect(
        Set(missing) == expected,
        "\(name) was expected to miss \(expected.sorted()) (\(failure.reason)); missing now: \(missing)")
      return "ran; misses \(missing.count) read(s) as expected (issue \(failure.issue.map(String.init) ?? "open"))"
    }
    #expect(missing.isEmpty, "\(name): the sample reads \(missing), which the job does not have: \(job)")
    return "Success"
  }

  /// `POST /media/input` (declared as the sample's client declares it), then the PUT to the URL it answers, as
  /// the samples upload.
  func upload(
    _ server: APITestServer, _ key: String, _ bytes: [UInt8], auth: [String: String], contentType: String
  ) async throws {
    let answer = try await server.request(
      "POST", "/media/input", headers: auth.merging(["Content-Type": contentType]) { $1 },
      body: #"{"url": "\#(key)"}"#)
    let url = try #require((answer.json["url"] as? String).flatMap(URL.init(string:)), "\(key): \(answer.text)")
    let target = url.path + (url.query.map { "?\($0)" } ?? "")
    let response = try await server.send(
      "PUT \(target) HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: \(bytes.count)\r\nConnection: close\r\n\r\n",
      body: bytes)
    #expect(response.status == 200, "upload of \(key): \(response.status) \(response.text)")
  }

  /// The bytes at a `dlb://` location (`GET /media/output`, as the samples download) or an `s3://` one (moto).
  func fetch(_ location: String, server: APITestServer, peers: S3Peers, auth: [String: String]) async throws
    -> [UInt8]
  {
    if location.hasPrefix("s3://") {
      let client = try RawHTTPClient(port: peers.motoPort)
      try client.send(
        "GET /\(location.dropFirst(5)) HTTP/1.1\r\nHost: 127.0.0.1\r\n\(Self.motoOwner)Connection: close\r\n\r\n")
      let response = try client.readResponse()
      return response.status == 200 ? response.body : []
    }
    let query = location.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? location
    let response = try await server.request("GET", "/media/output?url=\(query)", headers: auth)
    return response.status == 200 ? response.body : []
  }

  /// Polls the job the way the samples do, with their credentials, until it ends (bounded).
  func waitForEnd(_ server: APITestServer, _ jobID: String, path: String, auth: [String: String]) async throws
    -> [String: Any]
  {
    let deadline = Date() + 60
    while Date() < deadline {
      let job = try await server.request("GET", "\(path)?job_id=\(jobID)", headers: auth).json
      if let status = job["status"] as? String, !["Pending", "Running"].contains(status) { return job }
      try await Task.sleep(for: .milliseconds(50))
    }
    throw RawHTTPClient.ClientError(description: "job \(jobID) did not end within 60 s")
  }

  /// The receiver's request on `path` (path and query), waiting up to 15 s for it.
  func waitForCallback(_ receiver: FaultServer, path: String) async throws -> FaultServer.Received? {
    let deadline = Date() + 15
    while Date() < deadline {
      if let call = receiver.requests.first(where: { $0.target == path }) { return call }
      try await Task.sleep(for: .milliseconds(20))
    }
    return nil
  }

  /// An Authorization header for requests straight to moto. moto checks no signatures, but it does check ACLs
  /// on anonymous requests: a private object's GET, or a second PUT of one, answers 403 without it.
  static let motoOwner =
    "Authorization: AWS4-HMAC-SHA256 Credential=\(accessKey)/20260101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=0\r\n"

  /// PUTs `bucket/key` on moto directly as the bucket's owner, optionally public-read.
  func putObject(_ peers: S3Peers, _ object: String, _ bytes: [UInt8], publicRead: Bool = false) throws {
    let client = try RawHTTPClient(port: peers.motoPort)
    let acl = publicRead ? "x-amz-acl: public-read\r\n" : ""
    try client.send(
      "PUT /\(object) HTTP/1.1\r\nHost: 127.0.0.1\r\n\(Self.motoOwner)\(acl)Content-Length: \(bytes.count)\r\nConnection: close\r\n\r\n"
    )
    try client.send(bytes)
    let status = try client.readResponse().status
    guard status == 200 else { throw RawHTTPClient.ClientError(description: "PUT \(object) on moto: \(status)") }
  }
}
