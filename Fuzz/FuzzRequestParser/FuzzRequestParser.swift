import HTTPServer

/// libFuzzer entry point: the request-head parser and the chunked decoder on hostile bytes.
///
/// Besides crashes, it checks a property: parsing the input in two pieces (split where the first byte
/// says) must reach the same outcome as parsing it whole, since the parser scans incrementally.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzRequestParser(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
  let input = UnsafeRawBufferPointer(start: data, count: size)
  let whole = outcome(input, split: nil)
  if size > 1 {
    let split = 1 + Int(input[0]) * (size - 1) / 256
    let pieces = outcome(input, split: split)
    if pieces != whole {
      fatalError("parser disagrees with itself: whole \(whole), split at \(split) \(pieces)")
    }
  }
  return 0
}

private enum Outcome: Equatable {
  case needMore
  case head(target: String, consumed: Int, body: Int?)
  case refused(Int)
}

private func outcome(_ input: UnsafeRawBufferPointer, split: Int?) -> Outcome {
  var parser = RequestHeadParser(limits: .init(requestLineBytes: 512, headerBytes: 2048, headerCount: 20))
  do {
    if let split {
      if case .head(let head, let consumed) = try parser.parse(UnsafeRawBufferPointer(rebasing: input[0..<split])) {
        return try finish(head, consumed, input)
      }
    }
    guard case .head(let head, let consumed) = try parser.parse(input) else { return .needMore }
    return try finish(head, consumed, input)
  } catch let error as HTTPError {
    return .refused(error.status.code)
  } catch {
    fatalError("unexpected error type \(error)")
  }
}

/// Decodes a chunked body after the head, if there is one; reports how many body bytes came out.
private func finish(_ head: RequestHead, _ consumed: Int, _ input: UnsafeRawBufferPointer) throws -> Outcome {
  guard head.framing == .chunked else { return .head(target: head.target, consumed: consumed, body: nil) }
  var decoder = ChunkedDecoder()
  var bodyBytes = 0
  let rest = UnsafeRawBufferPointer(rebasing: input[consumed...])
  let taken = try decoder.decode(rest) { bodyBytes += $0.count }
  precondition(taken <= rest.count)
  return .head(target: head.target, consumed: consumed, body: decoder.isDone ? bodyBytes : -1)
}
