// swift-tools-version: 6.0
import Foundation
import PackageDescription

// Ferry: a self-hosted media-processing job server. See README.md and ../shared/DESIGN.md.
var targets: [Target] = [
  // C libraries, each behind one wrapper module (shim.h holds typed wrappers for variadic calls).
  .systemLibrary(name: "CCurl", pkgConfig: "libcurl", providers: [.apt(["libcurl4-openssl-dev"])]),
  .systemLibrary(name: "CSQLite", pkgConfig: "sqlite3", providers: [.apt(["libsqlite3-dev"])]),
  .systemLibrary(name: "COpenSSL", pkgConfig: "libssl", providers: [.apt(["libssl-dev"])]),
  .systemLibrary(name: "CLibPQ", pkgConfig: "libpq", providers: [.apt(["libpq-dev"])]),
  .systemLibrary(name: "CAubio", pkgConfig: "aubio", providers: [.apt(["libaubio-dev"])]),

  // epoll and eventfd: in libc, but not exported by Swift's Glibc module.
  .systemLibrary(name: "CEventPoll"),
  // pipe2, accept4 and posix_spawn's closefrom/chdir actions: glibc has them, Swift's Glibc module does not.
  .systemLibrary(name: "CSpawn"),

  // Values every layer may use, with no I/O of their own.
  .target(name: "Log"),
  // The problem catalogue: every problem type Ferry reports, its HTTP status, title and retry rule.
  .target(name: "Problems"),
  // When to try again: the one backoff policy of transfers, workers and webhooks.
  .target(name: "Retry"),
  .target(name: "JSON", dependencies: ["Problems"]),
  // OpenSSL's hashes and MACs behind Swift types.
  .target(name: "Crypto", dependencies: ["COpenSSL"]),
  .target(name: "SigV4", dependencies: ["Crypto"]),
  .target(name: "Locations", dependencies: ["Problems", "SigV4", "JSON"]),

  // The pipeline, in the order a job goes through it.
  // 1. Socket listener, HTTP/1.1 parser, router: knows nothing of media or jobs.
  .target(name: "HTTPServer", dependencies: ["Problems", "Log", "CEventPoll", "CSpawn", "COpenSSL"]),
  // 2. Controllers: the Dolby-compatible API (auth, job routes, dlb:// storage, webhooks, metrics, dashboard).
  //    The dashboard's files are compiled into the binary, so a release binary copied alone misses nothing.
  .target(
    name: "API", dependencies: ["Problems", "HTTPServer", "Jobs", "Storage", "Crypto", "JSON", "Locations", "Log"],
    resources: [
      .embedInCode("Dashboard/dashboard.html"), .embedInCode("Dashboard/dashboard.js"),
      .embedInCode("Dashboard/dashboard.css"),
    ]),
  // 3. Job service, store protocol, worker pool: the job model and its transitions, typed job specs,
  //    admission control, leases and retries, and the in-memory store.
  .target(name: "Jobs", dependencies: ["Problems", "Retry", "Crypto", "JSON", "Locations", "Log"]),
  // 4. The durable stores: SQLite for one node (a group-committing writer), PostgreSQL for several.
  .target(name: "SQLite", dependencies: ["CSQLite"]),
  .target(name: "SQLiteStore", dependencies: ["Jobs", "SQLite"]),
  .target(name: "Postgres", dependencies: ["CLibPQ", "Crypto"]),
  .target(name: "PostgresStore", dependencies: ["Jobs", "Postgres"]),
  // 5. Webhooks: the outbox the stores fill as jobs end, delivered and retried.
  .target(name: "Webhooks", dependencies: ["Jobs", "Transfer", "Retry", "Crypto", "JSON", "Locations", "Log"]),
  // 6. Transfers: outbound HTTP on libcurl under the network policy, and dlb:// temporary storage.
  .target(name: "Transfer", dependencies: ["Locations", "SigV4", "Crypto", "CCurl", "Log", "Retry"]),
  .target(name: "Storage", dependencies: ["Crypto", "Locations", "SigV4", "Transfer"]),
  // Audio analytics on decoded samples, no I/O: what is speech, music, silence or other, tempo (aubio) and
  // key, talkers. The analyze operations feed it PCM from ffmpeg. Optimised in debug builds too: its loops
  // are the tests' time (unoptimised, the labelled sets took a minute to analyse instead of seconds).
  .target(name: "AudioAnalysis", dependencies: ["CAubio"], swiftSettings: [.unsafeFlags(["-O"])]),
  // 7. Media: each operation fetches its inputs (JobTransfers), runs ffprobe/ffmpeg, delivers its outputs.
  .target(
    name: "Media",
    dependencies: ["Problems", "Jobs", "Transfer", "Storage", "Locations", "JSON", "CSpawn", "AudioAnalysis"]),

  // The composition root: configuration, wiring, start and stop.
  .target(
    name: "Ferry",
    dependencies: [
      "HTTPServer", "API", "Jobs", "SQLiteStore", "PostgresStore", "Webhooks", "Media", "Storage", "Transfer",
      "Locations", "SigV4", "Crypto", "Log", "JSON",
    ]
  ),
  // The HTTP client of the `ferry` client subcommands: tokens, dlb:// uploads and downloads, polling, progress.
  .target(name: "FerryClient", dependencies: ["Transfer", "Locations", "SigV4", "JSON"]),
  .executableTarget(
    name: "ferry",
    dependencies: [
      "Ferry", "FerryClient", "JSON", "Log",
      .product(name: "ArgumentParser", package: "swift-argument-parser"),
    ]
  ),

  // Raw-socket HTTP client, digests and process helpers shared by the test targets.
  .target(name: "TestSupport", dependencies: ["Crypto", "Postgres", "CSpawn"], path: "Tests/TestSupport"),
  // AWS's SigV4 test suite (Apache-2.0, with its NOTICE), checked in so a clone alone runs it.
  .testTarget(name: "SigV4Tests", dependencies: ["SigV4", "Crypto"], resources: [.copy("aws-signing-test-suite")]),
  .testTarget(name: "LocationsTests", dependencies: ["Locations", "SigV4", "JSON"]),
  .testTarget(
    name: "TransferTests", dependencies: ["Transfer", "Locations", "SigV4", "Crypto", "JSON", "TestSupport"]),
  .testTarget(name: "LogTests", dependencies: ["Log"]),
  .testTarget(name: "ProblemsTests", dependencies: ["Problems"]),
  // The analytics against labelled sets made at test time from Debian's voices, soundtracks and MIDI renders.
  .testTarget(name: "AudioAnalysisTests", dependencies: ["AudioAnalysis", "TestSupport"]),
  .testTarget(name: "JSONTests", dependencies: ["JSON"]),
  .testTarget(name: "RetryTests", dependencies: ["Retry"]),
  .testTarget(name: "FerryClientTests", dependencies: ["FerryClient", "JSON", "TestSupport", "Transfer"]),
  // Fixtures/ holds a job store written by 0.1.0 (the upgrade test reads it by path).
  .testTarget(
    name: "MediaTests",
    dependencies: [
      "Media", "AudioAnalysis", "Jobs", "SQLiteStore", "Storage", "Transfer", "JSON", "Locations", "Log",
      "TestSupport",
    ],
    exclude: ["Fixtures"]),
  // The job engine and the conformance suite every JobStore passes.
  .testTarget(
    name: "JobsTests",
    dependencies: [
      "Jobs", "SQLiteStore", "PostgresStore", "Media", "SQLite", "Postgres", "Crypto", "JSON", "Locations", "SigV4",
      "Transfer", "Storage", "Log", "TestSupport",
    ]),
  // The webhook outbox on an injected clock: retries come due when the test moves the clock.
  .testTarget(name: "WebhooksTests", dependencies: ["Webhooks", "Jobs", "Transfer", "Log", "TestSupport"]),
  // The controllers through the router with the in-memory store: no socket, no worker.
  .testTarget(
    name: "APITests",
    dependencies: ["API", "HTTPServer", "Jobs", "Media", "Storage", "Transfer", "Locations", "Log", "TestSupport"]),
  .testTarget(name: "HTTPServerTests", dependencies: ["HTTPServer", "Problems", "Log", "TestSupport"]),
  .testTarget(
    name: "FerryTests",
    dependencies: [
      "Ferry", "API", "Jobs", "HTTPServer", "Log", "JSON", "Crypto", "CCurl", "CSQLite", "COpenSSL", "CLibPQ",
      "TestSupport", "Storage", "Transfer", "Locations", "SigV4", "Media", "ferry",
    ],
    // Golden/ holds the job documents clients see, read by path (JobEnvelopeGoldenTests); DolbyCorpus/ the
    // request bodies from Dolby's samples, client libraries and docs with their manifest (DolbyCorpusTests).
    exclude: ["Golden", "DolbyCorpus"]
  ),
]

// The libFuzzer targets link libFuzzer's own main, which breaks ordinary linking: declare them only when
// asked (`make fuzz` and `make fuzz-tls` set FERRY_FUZZ=1).
if ProcessInfo.processInfo.environment["FERRY_FUZZ"] == "1" {
  targets.append(
    .executableTarget(name: "FuzzRequestParser", dependencies: ["HTTPServer"], path: "Fuzz/FuzzRequestParser")
  )
  targets.append(
    .executableTarget(
      name: "FuzzTLSRecords", dependencies: ["HTTPServer", "COpenSSL", "Log"], path: "Fuzz/FuzzTLSRecords")
  )
}

// Benchmark drivers: the transfer benchmark's (built by `make bench`) and the status envelope's
// (`scripts/bench-envelope.sh`).
if ProcessInfo.processInfo.environment["FERRY_BENCH"] == "1" {
  targets.append(.executableTarget(
      name: "TransferBench", dependencies: ["Locations", "SigV4", "Transfer"], path: "Bench/TransferBench"))
  targets.append(
    .executableTarget(name: "EnvelopeBench", dependencies: ["API", "Jobs", "JSON", "Log"], path: "Bench/EnvelopeBench"))
  targets.append(
    .executableTarget(
      name: "SubmitBench", dependencies: ["JSON", "Jobs", "Locations", "Media", "Storage", "Transfer"],
      path: "Bench/SubmitBench"))
}

let package = Package(
  name: "Ferry",
  platforms: [.macOS(.v15)],
  products: [
    .executable(name: "ferry", targets: ["ferry"]),
    .library(name: "HTTPServer", targets: ["HTTPServer"]),
  ],
  dependencies: [
    .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2")
  ],
  targets: targets
)
