import Foundation
import Locations
import SigV4
import Transfer

// `make bench` driver: one transfer with Ferry's client, printed as `<seconds> <bytes> <peak RSS in KiB> <CPU
// seconds>`. Usage:
//   TransferBench download URL PATH [CONNECTIONS]     (CONNECTIONS: transfer.download_connections, default 1)
//   TransferBench upload PATH URL
//   TransferBench s3upload PATH ENDPOINT BUCKET KEY [PARTS]   (S3 multipart, PARTS: transfer.parallel_parts,
//     default 4; credentials from BENCH_S3_KEY and BENCH_S3_SECRET)
// Parts are Ferry's default 16 MiB (transfer.part_size_bytes).

let arguments = CommandLine.arguments
let usage =
  "usage: TransferBench download URL PATH [CONNECTIONS] | upload PATH URL"
  + " | s3upload PATH ENDPOINT BUCKET KEY [PARTS]\n"
let shapes = ["download": 4...5, "upload": 4...4, "s3upload": 6...7]
guard arguments.count >= 2, let shape = shapes[arguments[1]], shape.contains(arguments.count) else {
  FileHandle.standardError.write(Data(usage.utf8))
  exit(2)
}
let partSize: Int64 = 16 << 20
let connections = arguments[1] == "download" && arguments.count == 5 ? Int(arguments[4]) ?? 1 : 1
let client = TransferClient(
  policy: try NetworkPolicy(allow: ["127.0.0.0/8"]),
  settings: TransferSettings(
    maxBytes: 1 << 40, maxAttempts: 1, downloadConnections: connections, downloadPartSize: partSize))
let started = DispatchTime.now().uptimeNanoseconds
let result: TransferResult
do {
  switch arguments[1] {
  case "download":
    result = try client.download(OutboundRequest(url: arguments[2]), to: arguments[3])
  case "upload":
    result = try client.upload(OutboundRequest(url: arguments[3]), from: arguments[2])
  default:
    let environment = ProcessInfo.processInfo.environment
    let credentials = AWSCredentials(
      accessKeyID: environment["BENCH_S3_KEY"] ?? "", secretAccessKey: environment["BENCH_S3_SECRET"] ?? "")
    let multipart = S3MultipartUpload(
      client: client, s3: S3Requests(addressing: S3Addressing(endpoint: arguments[3])), partSize: partSize,
      parallelParts: arguments.count == 7 ? Int(arguments[6]) ?? 4 : 4)
    result = try multipart.upload(
      file: arguments[2], bucket: arguments[4], key: arguments[5], credentials: credentials, region: nil)
  }
} catch {
  FileHandle.standardError.write(Data("TransferBench: \(error)\n".utf8))
  exit(1)
}
let seconds = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
var resources = rusage()
getrusage(RUSAGE_SELF.rawValue, &resources)
let cpu =
  Double(resources.ru_utime.tv_sec + resources.ru_stime.tv_sec)
  + Double(resources.ru_utime.tv_usec + resources.ru_stime.tv_usec) / 1e6
print(String(format: "%.3f %d %d %.3f", seconds, result.bytes, resources.ru_maxrss, cpu))
