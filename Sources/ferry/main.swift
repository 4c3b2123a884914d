import ArgumentParser
import Ferry
import FerryClient
import Foundation
import Log

#if canImport(FoundationNetworking)
  import FoundationNetworking
#endif

struct FerryCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "ferry",
    abstract: "Ferry: a self-hosted media-processing job server.",
    discussion: """
      `ferry serve` runs the server. The client subcommands (enhance, analyze, transcode, diagnose, master, jobs, \
      cancel) talk to a running server: IN and OUT are local files or URLs (http(s)://, s3://, dlb://); local \
      files travel through the server's dlb:// temporary storage.

      \(clientEnvironment)

      \(ClientExit.table)
      """,
    version: "ferry \(FerryVersion.current)",
    subcommands: [
      Serve.self, Version.self, Health.self, Enhance.self, Analyze.self, Transcode.self, Diagnose.self, Master.self,
      Jobs.self,
      Cancel.self,
    ]
  )
}

struct Serve: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Run the server (embedded defaults without --config; FERRY_* variables override).")

  @Option(name: .long, help: "Path of the JSON configuration file.")
  var config: String?

  func run() throws {
    let loaded: ConfigurationLoader.Loaded
    do {
      loaded = try ConfigurationLoader().load(file: config)
    } catch {
      FileHandle.standardError.write(Data((error.description + "\n").utf8))
      throw ExitCode(2)
    }
    let sink = BufferedFileLogSink()
    let logger = Logger(level: loaded.configuration.logLevel, sink: sink)
    for warning in loaded.warnings { logger.warning(warning) }
    let code: Int32
    do {
      code = try FerryApplication(configuration: loaded.configuration, logger: logger).runUntilSignalled()
    } catch {
      logger.error("cannot start", ["error": .string(String(describing: error))])
      code = 1
    }
    logger.flush()
    throw ExitCode(code)
  }
}

struct Version: ParsableCommand {
  static let configuration = CommandConfiguration(abstract: "Print the version.")

  func run() {
    print("ferry \(FerryVersion.current)")
  }
}

struct Health: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Exit 0 when the server's /health answers 200 (for container health checks).")

  @Argument(help: "Base URL of the server.")
  var url: String = ClientSettings.defaultServer

  func run() throws {
    let base = url.hasSuffix("/") ? String(url.dropLast()) : url
    guard let target = URL(string: base + "/health"), ["http", "https"].contains(target.scheme ?? "") else {
      FileHandle.standardError.write(Data("ferry health: not an http(s) URL: \(url)\n".utf8))
      throw ExitCode(2)
    }
    var request = URLRequest(url: target, timeoutInterval: 5)
    request.httpMethod = "GET"
    let done = DispatchSemaphore(value: 0)
    nonisolated(unsafe) var status = 0
    URLSession.shared.dataTask(with: request) { _, response, _ in
      status = (response as? HTTPURLResponse)?.statusCode ?? 0
      done.signal()
    }.resume()
    done.wait()
    guard status == 200 else {
      FileHandle.standardError.write(
        Data("ferry health: \(target) answered \(status == 0 ? "nothing" : String(status))\n".utf8))
      throw ExitCode(1)
    }
    print("ok")
  }
}

FerryCommand.main()
