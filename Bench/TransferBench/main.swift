import Foundation
import Transfer

// `make bench` driver: one transfer with Ferry's client, on loopback, printed as
// `<seconds> <bytes> <peak RSS in KiB> <CPU seconds>`. Usage: TransferBench download URL PATH | TransferBench upload PATH URL

let arguments = CommandLine.arguments
guard arguments.count == 4, ["download", "upload"].contains(arguments[1]) else {
  FileHandle.standardError.write(Data("usage: TransferBench download URL PATH | upload PATH URL\n".utf8))
  exit(2)
}
let client = TransferClient(
  policy: try NetworkPolicy(allow: ["127.0.0.0/8"]), settings: TransferSettings(maxBytes: 1 << 40, maxAttempts: 1))
let started = DispatchTime.now().uptimeNanoseconds
let result: TransferResult
do {
  if arguments[1] == "download" {
    result = try client.download(OutboundRequest(url: arguments[2]), to: arguments[3])
  } else {
    result = try client.upload(OutboundRequest(url: arguments[3]), from: arguments[2])
  }
} catch {
  FileHandle.standardError.write(Data("TransferBench: \(error)\n".utf8))
  exit(1)
}
let seconds = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
var usage = rusage()
getrusage(RUSAGE_SELF.rawValue, &usage)
let cpu =
  Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
print(String(format: "%.3f %d %d %.3f", seconds, result.bytes, usage.ru_maxrss, cpu))
