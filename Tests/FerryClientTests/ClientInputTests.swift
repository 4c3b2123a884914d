import JSON
import Testing

@testable import FerryClient

@Suite struct ClientInputTests {
  @Test func argumentsAreLocalFilesOrURLsTheServerKnows() throws {
    #expect(try MediaArgument("talk.wav") == .local("talk.wav"))
    #expect(try MediaArgument("/tmp/a b.wav") == .local("/tmp/a b.wav"))
    #expect(try MediaArgument("file:///tmp/a%20b.wav") == .local("/tmp/a b.wav"))
    #expect(try MediaArgument("S3://bucket/k.wav") == .remote("S3://bucket/k.wav"))
    #expect(try MediaArgument("dlb://in/talk.wav") == .remote("dlb://in/talk.wav"))
    #expect(throws: ClientError.self) { try MediaArgument("gs://bucket/k.wav") }
  }

  @Test func labelsLeaveOutQueriesAndUserInfo() throws {
    let presigned = try MediaArgument("https://user:pw@b.s3.amazonaws.com/out.wav?X-Amz-Signature=abc123")
    #expect(presigned.label == "https://b.s3.amazonaws.com/out.wav")
    #expect(presigned.fileName == "out.wav")
  }

  @Test func optionsBeatTheEnvironmentAndMissingCredentialsAreUsageErrors() throws {
    let environment = ["FERRY_SERVER": "http://10.0.0.5:9000/", "FERRY_APP_KEY": "ek", "FERRY_APP_SECRET": "es"]
    let fromEnvironment = try ClientSettings.resolve(server: nil, key: nil, secret: nil, environment: environment)
    #expect(fromEnvironment.server == "http://10.0.0.5:9000")
    #expect(fromEnvironment.key == "ek")
    let fromOptions = try ClientSettings.resolve(
      server: "https://ferry.example", key: "ok", secret: "os", environment: environment)
    #expect(fromOptions.server == "https://ferry.example")
    #expect(fromOptions.secret == "os")
    #expect(
      try ClientSettings.resolve(server: nil, key: "k", secret: "s", environment: [:]).server == "http://127.0.0.1:8080"
    )
    for (server, key, secret) in [("ftp://h", "k", "s"), ("http://h", "", "s"), ("http://h", "k", "")] {
      do {
        _ = try ClientSettings.resolve(server: server, key: key, secret: secret, environment: [:])
        Issue.record("accepted \(server) \(key) \(secret)")
      } catch {
        #expect(error.exit == .usage)
        #expect(!error.message.contains("\"s\""))
      }
    }
  }

  @Test func transcodeTakesItsKindFromTheOutputName() throws {
    let request = try JobRequest.transcode(
      input: .local("a.wav"), output: .local("b.mp3"), options: .init(codec: "mp3", bitrate: 128))
    let body = request.body("dlb://x/in/a.wav", "dlb://x/out/b.mp3")
    #expect(
      body.description
        == #"{"inputs":[{"source":"dlb://x/in/a.wav"}],"outputs":[{"audio":{"bitrate_kb":128,"codec":"mp3"},"destination":"dlb://x/out/b.mp3","id":"out","kind":"mp3"}]}"#
    )
    #expect(throws: ClientError.self) {
      try JobRequest.transcode(input: .local("a"), output: .local("b"), options: .init())
    }
    // hls is a folder of files: a local OUT is a usage error before anything is uploaded; a prefix is fine.
    #expect {
      try JobRequest.transcode(input: .local("a.mp4"), output: .local("stream"), options: .init(kind: "hls"))
    } throws: { ($0 as? ClientError)?.exit == .usage }
    _ = try JobRequest.transcode(
      input: .local("a.mp4"), output: .remote("s3://media/hls/"), options: .init(kind: "hls"))
    let jpeg = try JobRequest.transcode(input: .local("a.mp4"), output: .local("thumb.JPEG"), options: .init())
    #expect(jpeg.body("i", "o").description.contains(#""kind":"jpg""#))
  }

  @Test func enhanceSendsOnlyTheSettingsGiven() {
    let plain = JobRequest.enhance(
      input: .local("a"), output: .local("b"), contentType: nil, targetLevel: nil, peakLimit: nil, noiseReduction: nil)
    #expect(plain.body("i", "o").description == #"{"input":"i","output":"o"}"#)
    let set = JobRequest.enhance(
      input: .local("a"), output: .local("b"), contentType: "podcast", targetLevel: -16, peakLimit: -1,
      noiseReduction: "off")
    #expect(
      set.body("i", "o").description
        == #"{"audio":{"loudness":{"peak_limit":-1,"target_level":-16},"noise":{"reduction":{"enable":false}}},"content":{"type":"podcast"},"input":"i","output":"o"}"#
    )
  }
}
