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
    abstract: "Exit 0 when the server's /health answers 200 (for container health checks).",
    discussion: """
      For an https server whose certificate a private CA issued, give the CA with --ca-file or FERRY_CA_FILE.
      Exit 1 when the server answers another status or cannot be reached, 2 for a bad URL or CA file.
      """)

  @Argument(help: "Base URL of the server.")
  var url: String = ClientSettings.defaultServer

  @Option(name: .customLong("ca-file"), help: "PEM CAs for an https server's certificate (else FERRY_CA_FILE).")
  var caFile: String?

  func run() throws {
    let base = url.hasSuffix("/") ? String(url.dropLast()) : url
    guard let target = URL(string: base + "/health"), ["http", "https"].contains(target.scheme ?? "") else {
      FileHandle.standardError.write(Data("ferry health: not an http(s) URL: \(url)\n".utf8))
      throw ExitCode(2)
    }
    let environment = ProcessInfo.processInfo.environment["FERRY_CA_FILE"].flatMap { $0.isEmpty ? nil : $0 }
    let ca = caFile.flatMap { $0.isEmpty ? nil : $0 } ?? environment
    if let ca, !FileManager.default.isReadableFile(atPath: ca) {
      FileHandle.standardError.write(
        Data("ferry health: the CA file \(ca) is not a readable file (--ca-file or FERRY_CA_FILE)\n".utf8))
      throw ExitCode(2)
    }
    switch HealthCheck.status(of: base, caFile: ca) {
    case .success(200):
      print("ok")
    case .success(let status):
      FileHandle.standardError.write(Data("ferry health: \(target) answered \(status)\n".utf8))
      throw ExitCode(1)
    case .failure(let error):
      FileHandle.standardError.write(Data("ferry health: \(error.message)\n".utf8))
      throw ExitCode(1)
    }
  }
}

FerryCommand.main()
