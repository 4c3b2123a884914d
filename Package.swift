// swift-tools-version: 6.0
import Foundation
import PackageDescription

// Ferry: a self-hosted media-processing job server. See README.md and ../shared/DESIGN.md.
var targets: [Target] = [
  // C libraries, each behind one wrapper module (shim.h holds typed wrappers for variadic calls).
  .systemLibrary(name: "CCurl", pkgConfig: "libcurl", providers: [.apt(["libcurl4-openssl-dev"])]),
  .systemLibrary(name: "CSQLite", pkgConfig: "sqlite3", providers: [.apt(["libsqlite3-dev"])]),
  .systemLibrary(name: "COpenSSL", pkgConfig: "libcrypto", providers: [.apt(["libssl-dev"])]),
  .systemLibrary(name: "CLibPQ", pkgConfig: "libpq", providers: [.apt(["libpq-dev"])]),

  // epoll and eventfd: in libc, but not exported by Swift's Glibc module.
  .systemLibrary(name: "CEventPoll"),
  // pipe2, accept4 and posix_spawn's closefrom/chdir actions: glibc has them, Swift's Glibc module does not.
  .systemLibrary(name: "CSpawn"),

  .target(name: "Log"),
  // The problem catalogue: every problem type Ferry reports, its HTTP status, title and retry rule.
  .target(name: "Problems"),
  .target(name: "JSON"),
  // When to try again: the one backoff policy of transfers, workers and webhooks (no dependencies, so any
  // layer can use it).
  .target(name: "Retry"),
  // OpenSSL's hashes and MACs behind Swift types.
  .target(name: "Crypto", dependencies: ["COpenSSL"]),
  .target(name: "SigV4", dependencies: ["Crypto"]),
  .target(name: "Locations", dependencies: ["Problems", "SigV4", "JSON"]),
  .target(name: "Transfer", dependencies: ["Locations", "SigV4", "Crypto", "CCurl", "Log", "Retry"]),
  .target(name: "HTTPServer", dependencies: ["Problems", "Log", "CEventPoll", "CSpawn"]),
  // SQLite connections, statements and a group-committing writer thread.
  .target(name: "SQLite", dependencies: ["CSQLite"]),
  // libpq connections with bound text parameters, and a small pool of them.
  .target(name: "Postgres", dependencies: ["CLibPQ", "Crypto"]),
  // dlb:// temporary storage.
  .target(name: "Storage", dependencies: ["Crypto", "Locations", "SigV4", "Transfer"]),
  // Job model and state machine, stores, scheduler and workers.
  .target(
    name: "Jobs",
    dependencies: ["Problems", "SQLite", "Postgres", "Crypto", "Log", "JSON", "Locations", "Retry", "Transfer", "Storage"]),
  // ffprobe/ffmpeg runner and the media operations.
  .target(name: "Media", dependencies: ["Problems", "Jobs", "Locations", "JSON", "Log", "CSpawn"]),
  // The Dolby-compatible HTTP API: auth, job routes. The dashboard's files are compiled into the binary
  // (`PackageResources`), so a release binary copied alone has no resource bundle to miss.
  .target(
    name: "API", dependencies: ["Problems", "HTTPServer", "Jobs", "Storage", "Crypto", "JSON", "Log"],
    resources: [
      .embedInCode("Dashboard/dashboard.html"), .embedInCode("Dashboard/dashboard.js"),
      .embedInCode("Dashboard/dashboard.css"),
    ]),
  .target(
    name: "Ferry",
    dependencies: [
      "HTTPServer", "API", "Jobs", "Media", "Storage", "Transfer", "Locations", "SigV4", "Crypto", "Log", "JSON",
      "COpenSSL",
    ]
  ),
  // The HTTP client of the `ferry` client subcommands: tokens, dlb:// uploads and downloads, polling, progress.
  .target(name: "FerryClient", dependencies: ["Transfer", "Locations", "SigV4", "JSON"]),
  .executableTarget(
    name: "ferry",
    dependencies: [
      "Ferry", "FerryClient", "JSON",
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
  .testTarget(name: "RetryTests", dependencies: ["Retry"]),
  .testTarget(name: "FerryClientTests", dependencies: ["FerryClient", "JSON", "TestSupport", "Transfer"]),
  // Fixtures/ holds a job store written by 0.1.0 (the upgrade test reads it by path).
  .testTarget(
    name: "MediaTests", dependencies: ["Media", "Jobs", "JSON", "Locations", "TestSupport"], exclude: ["Fixtures"]),
  .testTarget(
    name: "JobsTests",
    dependencies: [
      "Jobs", "SQLite", "Postgres", "Crypto", "JSON", "Locations", "SigV4", "Transfer", "Storage", "TestSupport",
    ]),
  .testTarget(name: "HTTPServerTests", dependencies: ["HTTPServer", "Problems", "Log", "TestSupport"]),
  .testTarget(
    name: "FerryTests",
    dependencies: [
      "Ferry", "API", "Jobs", "HTTPServer", "Log", "JSON", "Crypto", "CCurl", "CSQLite", "COpenSSL", "CLibPQ",
      "TestSupport", "Storage", "Transfer", "Locations", "SigV4", "ferry",
    ],
    // Golden/ holds the job documents clients see, read by path (JobEnvelopeGoldenTests).
    exclude: ["Golden"]
  ),
]

// The libFuzzer target links libFuzzer's own main, which breaks ordinary linking: declare it only when
// asked (`make fuzz` sets FERRY_FUZZ=1).
if ProcessInfo.processInfo.environment["FERRY_FUZZ"] == "1" {
  targets.append(
    .executableTarget(name: "FuzzRequestParser", dependencies: ["HTTPServer"], path: "Fuzz/FuzzRequestParser")
  )
}

// Benchmark drivers: the transfer benchmark's (built by `make bench`) and the status envelope's
// (`scripts/bench-envelope.sh`).
if ProcessInfo.processInfo.environment["FERRY_BENCH"] == "1" {
  targets.append(.executableTarget(name: "TransferBench", dependencies: ["Transfer"], path: "Bench/TransferBench"))
  targets.append(
    .executableTarget(name: "EnvelopeBench", dependencies: ["API", "Jobs", "JSON", "Log"], path: "Bench/EnvelopeBench"))
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
