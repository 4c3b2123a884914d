import Testing

@testable import HTTPServer

/// Parses `text` in one go; the head must be complete.
private func parse(_ text: String, limits: RequestHeadParser.Limits = .init()) throws -> RequestHead {
  var parser = RequestHeadParser(limits: limits)
  let bytes = Array(text.utf8)
  let result = try bytes.withUnsafeBytes { raw in try parser.parse(raw) }
  guard case .head(let head, _) = result else { throw HTTPError.badRequest("test: incomplete head") }
  return head
}

/// The status `text` is refused with, or nil when it parses (or is incomplete).
private func refusal(_ text: String, limits: RequestHeadParser.Limits = .init()) -> Int? {
  var parser = RequestHeadParser(limits: limits)
  let bytes = Array(text.utf8)
  do {
    _ = try bytes.withUnsafeBytes { raw in try parser.parse(raw) }
    return nil
  } catch {
    return (error as? HTTPError)?.status.code ?? -1
  }
}

@Suite struct RequestHeadParserTests {
  @Test func parsesASimpleGet() throws {
    let head = try parse("GET /media/jobs?status=Running HTTP/1.1\r\nHost: example\r\nAccept: */*\r\n\r\n")
    #expect(head.method == .get)
    #expect(head.target == "/media/jobs?status=Running")
    #expect(head.path == "/media/jobs")
    #expect(head.query == "status=Running")
    #expect(head.version == .http1_1)
    #expect(head.headers["host"] == "example")
    #expect(head.headers["ACCEPT"] == "*/*")
    #expect(head.framing == .none)
    #expect(head.keepAlive)
  }

  @Test func reportsConsumedBytesSoPipelinedRequestsStayIntact() throws {
    var parser = RequestHeadParser()
    let first = "GET /a HTTP/1.1\r\nHost: x\r\n\r\n"
    let bytes = Array((first + "GET /b HTTP/1.1\r\nHost: x\r\n\r\n").utf8)
    let result = try bytes.withUnsafeBytes { try parser.parse($0) }
    guard case .head(let head, let consumed) = result else {
      Issue.record("expected a head")
      return
    }
    #expect(head.target == "/a")
    #expect(consumed == first.utf8.count)
  }

  @Test func sameResultWhenBytesArriveOneAtATime() throws {
    let text = Array("POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello".utf8)
    var parser = RequestHeadParser()
    var found: (RequestHead, Int)?
    for end in 1...text.count {
      let result = try text[0..<end].withUnsafeBytes { try parser.parse($0) }
      if case .head(let head, let consumed) = result {
        found = (head, consumed)
        break
      }
    }
    #expect(found?.0.framing == .length(5))
    #expect(found?.1 == text.count - 5)
  }

  @Test func ignoresEmptyLinesBeforeTheRequestLine() throws {
    #expect(try parse("\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n").target == "/")
  }

  @Test func acceptsAbsoluteFormTargets() throws {
    #expect(try parse("GET http://example.com/a?b=1 HTTP/1.1\r\nHost: example.com\r\n\r\n").target == "/a?b=1")
  }

  @Test func requestLineOverTheLimitIs414EvenBeforeItEnds() {
    let long = "GET /" + String(repeating: "a", count: 9000)
    #expect(refusal(long + " HTTP/1.1\r\nHost: x\r\n\r\n") == 414)
    #expect(refusal(long) == 414)
    #expect(refusal("GET /" + String(repeating: "a", count: 8000) + " HTTP/1.1\r\nHost: x\r\n\r\n") == nil)
  }

  @Test func headerSectionOverTheLimitIs431() {
    let big = "X-Big: " + String(repeating: "v", count: 33000) + "\r\n"
    #expect(refusal("GET / HTTP/1.1\r\nHost: x\r\n" + big + "\r\n") == 431)
    #expect(refusal("GET / HTTP/1.1\r\nHost: x\r\n" + big) == 431)
  }

  @Test func moreThanAHundredFieldsIs431() {
    let fields = (0..<100).map { "X-F\($0): v\r\n" }.joined()
    #expect(refusal("GET / HTTP/1.1\r\nHost: x\r\n" + fields + "\r\n") == 431)
    let ninetyNine = (0..<99).map { "X-F\($0): v\r\n" }.joined()
    #expect(refusal("GET / HTTP/1.1\r\nHost: x\r\n" + ninetyNine + "\r\n") == nil)
  }

  @Test func unknownTransferCodingIs501() {
    #expect(refusal("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n") == 501)
    #expect(refusal("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n") == 501)
  }

  @Test func chunkedMustBeTheOnlyCoding() throws {
    #expect(try parse("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: Chunked\r\n\r\n").framing == .chunked)
    #expect(refusal("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, chunked\r\n\r\n") == 400)
    #expect(refusal("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n") == 400)
  }

  @Test func bothContentLengthAndTransferEncodingIs400() {
    #expect(refusal("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n") == 400)
  }

  @Test func conflictingOrMalformedContentLengthIs400() throws {
    #expect(refusal("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n") == 400)
    #expect(refusal("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3, 4\r\n\r\n") == 400)
    #expect(refusal("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n") == 400)
    #expect(refusal("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: +1\r\n\r\n") == 400)
    #expect(refusal("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0x10\r\n\r\n") == 400)
    #expect(refusal("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999999\r\n\r\n") == 400)
    #expect(refusal("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: \r\n\r\n") == 400)
    // Identical repeats are one length (RFC 9110 §8.6).
    #expect(try parse("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 7, 7\r\n\r\n").framing == .length(7))
    #expect(try parse("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n").framing == BodyFraming.none)
  }

  @Test func obsFoldIs400() {
    #expect(refusal("GET / HTTP/1.1\r\nHost: x\r\nX-A: one\r\n two\r\n\r\n") == 400)
    #expect(refusal("GET / HTTP/1.1\r\nHost: x\r\nX-A: one\r\n\ttwo\r\n\r\n") == 400)
  }

  @Test func whitespaceBeforeTheColonIs400() {
    #expect(refusal("GET / HTTP/1.1\r\nHost : x\r\n\r\n") == 400)
    #expect(refusal("GET / HTTP/1.1\r\nHost: x\r\nContent-Length\t: 0\r\n\r\n") == 400)
  }

  @Test func malformedSyntaxIs400() {
    #expect(refusal("GET / HTTP/1.1\nHost: x\n\n") == 400, "bare LF")
    #expect(refusal("GET  / HTTP/1.1\r\nHost: x\r\n\r\n") == 400, "double space")
    #expect(refusal("GET / HTTP/1.1 \r\nHost: x\r\n\r\n") == 400, "trailing space")
    #expect(refusal("GET /\u{7F} HTTP/1.1\r\nHost: x\r\n\r\n") == 400, "DEL in target")
    #expect(refusal("G(T / HTTP/1.1\r\nHost: x\r\n\r\n") == 400, "bad method")
    #expect(refusal("GET / HTTX/1.1\r\nHost: x\r\n\r\n") == 400, "bad protocol")
    #expect(refusal("GET / http/1.1\r\nHost: x\r\n\r\n") == 400, "lowercase protocol")
    #expect(refusal("GET / HTTP/1.1\r\nHost: x\r\nX-A: a\rb\r\n\r\n") == 400, "bare CR in value")
    #expect(refusal("GET / HTTP/1.1\r\nHost: x\r\nX-A: a\u{0}b\r\n\r\n") == 400, "NUL in value")
    #expect(refusal("GET / HTTP/1.1\r\nHost: x\r\n: empty\r\n\r\n") == 400, "empty name")
    #expect(refusal("GET / HTTP/1.1\r\nHost: x\r\nNoColon\r\n\r\n") == 400, "no colon")
    #expect(refusal("GET relative HTTP/1.1\r\nHost: x\r\n\r\n") == 400, "relative target")
    #expect(refusal("\r\n\r\n\r\n\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n") == 400, "many empty lines")
  }

  @Test func otherHTTPVersionsAre505() {
    #expect(refusal("GET / HTTP/2.0\r\nHost: x\r\n\r\n") == 505)
    #expect(refusal("GET / HTTP/0.9\r\nHost: x\r\n\r\n") == 505)
    #expect(refusal("GET / HTTP/1.2\r\nHost: x\r\n\r\n") == 505)
  }

  @Test func http11NeedsExactlyOneHost() throws {
    #expect(refusal("GET / HTTP/1.1\r\n\r\n") == 400)
    #expect(refusal("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n") == 400)
    #expect(try parse("GET / HTTP/1.0\r\n\r\n").version == .http1_0)
  }

  @Test func expectContinueIsFlaggedAndOtherExpectationsAre417() throws {
    let head = try parse("PUT / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\nExpect: 100-Continue\r\n\r\n")
    #expect(head.expectsContinue)
    #expect(!(try parse("GET / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n\r\n").expectsContinue))
    #expect(refusal("PUT / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nExpect: magic\r\n\r\n") == 417)
  }

  @Test func connectionTokensDecideKeepAlive() throws {
    #expect(!(try parse("GET / HTTP/1.1\r\nHost: x\r\nConnection: Close\r\n\r\n").keepAlive))
    #expect(!(try parse("GET / HTTP/1.0\r\n\r\n").keepAlive))
    #expect(try parse("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n").keepAlive)
    #expect(try parse("GET / HTTP/1.1\r\nHost: x\r\nConnection: upgrade, keep-alive\r\n\r\n").keepAlive)
  }

  @Test func tokenCharactersAreExactlyRFC9110s() {
    let tchar = Set("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ".utf8)
    for byte in 0...255 {
      #expect(RequestHeadParser.isToken(UInt8(byte)) == tchar.contains(UInt8(byte)), "byte \(byte)")
    }
  }

  @Test func fieldValueCheckAgreesWithTheByteRuleAtEveryLengthAndPosition() {
    // The check reads eight bytes at a time: put each kind of byte at each position of values up to 24 long.
    let allowed: (UInt8) -> Bool = { $0 >= 0x20 && $0 != 0x7F || $0 == 0x09 }
    for length in 0...24 {
      for position in 0..<max(length, 1) {
        for byte: UInt8 in [0x00, 0x09, 0x0A, 0x0D, 0x1F, 0x20, 0x41, 0x7E, 0x7F, 0x80, 0xA0, 0xFF] {
          var value = [UInt8](repeating: UInt8(ascii: "a"), count: length)
          if length > 0 { value[position] = byte }
          let expected = value.allSatisfy(allowed)
          #expect(value.withUnsafeBytes { RequestHeadParser.isFieldValue($0) } == expected, "\(value)")
        }
      }
    }
  }

  @Test func targetSplitsIntoPathAndQueryOnce() throws {
    let head = try parse("GET /media/enhance?job_id=a?b&x=%2F HTTP/1.1\r\nHost: x\r\n\r\n")
    #expect(head.path == "/media/enhance" && head.query == "job_id=a?b&x=%2F")
    let bare = try parse("GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
    #expect(bare.path == "/health" && bare.query == nil)
    #expect(try parse("GET /a? HTTP/1.1\r\nHost: x\r\n\r\n").query == "")
  }

  @Test func valuesAreTrimmedAndObsTextIsKept() throws {
    let head = try parse("GET / HTTP/1.1\r\nHost:   x \t\r\nX-Name: caf\u{E9}\r\n\r\n")
    #expect(head.headers["Host"] == "x")
    #expect(head.headers["X-Name"] == "caf\u{E9}")
  }
}

/// The outcome of parsing `bytes` in two reads split at `split` (or in one read).
private func outcome(_ bytes: [UInt8], split: Int?, limits: RequestHeadParser.Limits) -> String {
  var parser = RequestHeadParser(limits: limits)
  do {
    if let split {
      let first = try bytes[0..<split].withUnsafeBytes { try parser.parse($0) }
      if case .head(let head, let consumed) = first { return "head \(head.target) \(consumed)" }
    }
    let result = try bytes.withUnsafeBytes { try parser.parse($0) }
    if case .head(let head, let consumed) = result { return "head \(head.target) \(consumed)" }
    return "need more"
  } catch {
    return "refused \((error as? HTTPError)?.status.code ?? -1)"
  }
}

@Suite struct RequestHeadParserSplitTests {
  // Found by the fuzzer: an over-long line ending in a bare LF was 400 whole but 414 when split.
  static let inputs: [String] = [
    "GET /" + String(repeating: "a", count: 40) + "\n\n",
    "GET / HTTP/1.1\r\nX: " + String(repeating: "v", count: 60) + "\n\r\n",
    "GET / HTTP/1.1\r\nX: " + String(repeating: "v", count: 40) + "\r\n\r\n",
    "GET / HTTP/1.1\r\nHost: x\r\n\r\n",
    "\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n",
    "GET / HTTP/1.1\r\nHost: x\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n\r\n",
    "GET / HTTP/1.1\r\nHost : x\r\n\r\n",
    "GET / HTTP/1.1\r\n X: y\r\n\r\n",
  ]

  @Test(arguments: inputs)
  func outcomeDoesNotDependOnWhereReadsSplit(_ text: String) {
    let limits = RequestHeadParser.Limits(requestLineBytes: 32, headerBytes: 48, headerCount: 3)
    let bytes = Array(text.utf8)
    let whole = outcome(bytes, split: nil, limits: limits)
    for split in 1..<bytes.count {
      #expect(outcome(bytes, split: split, limits: limits) == whole, "split at \(split)")
    }
  }

  @Test func anOverlongRequestLineIs414WhateverEndsIt() {
    #expect(refusal("GET /" + String(repeating: "a", count: 9000) + "\n") == 414)
    #expect(refusal("GET / HTTP/1.1\r\nX: " + String(repeating: "v", count: 33000) + "\n") == 431)
  }
}
