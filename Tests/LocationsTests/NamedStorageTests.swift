import Foundation
import JSON
import Testing

@testable import Locations
@testable import SigV4

private func json(_ text: String) throws -> JSONValue { try JSONValue.parse(Data(text.utf8)) }

/// The message `body` is refused with, or nil when it passes.
private func refusal(_ body: () throws -> Void) -> String? {
  do {
    try body()
    return nil
  } catch let error as LocationError {
    return error.description
  } catch {
    return "unexpected: \(error)"
  }
}

private let secret = "wJalr/SECRET+value"
private let block =
  #"[{"id": "main", "url": "s3://media/shows/", "auth": {"key": "AKID", "secret": "\#(secret)"}}, {"id": "tmp", "url": "dlb://scratch/"}, {"id": "root", "url": "s3://media", "auth": {"key": "AKID", "secret": "\#(secret)"}}]"#

@Suite struct NamedStorageTests {
  func storage() throws -> NamedStorage { try NamedStorage(parsing: try json(block)) }

  @Test func entries_areFoldersWithTheirKeys() throws {
    let storage = try storage()
    let keys = AWSCredentials(accessKeyID: "AKID", secretAccessKey: secret)
    #expect(
      storage.folders["main"] == Location(target: .s3(bucket: "media", key: "shows/"), auth: .aws(keys, region: nil)))
    #expect(storage.folders["tmp"] == Location(target: .dlb(key: "scratch/")))
    #expect(storage.folders["root"]?.target == .s3(bucket: "media", key: ""))
    #expect(try NamedStorage(parsing: nil).folders.isEmpty)
  }

  @Test func references_nameFilesAndFoldersUnderThePrefix() throws {
    let storage = try storage()
    let folder = try storage.resolve(
      try json(#"{"storage": "main", "path": "hls/talk"}"#), field: "outputs[0].destination", folder: true)
    #expect(folder.target == .s3(bucket: "media", key: "shows/hls/talk/"), "a folder's path gets its trailing /")
    #expect(folder.auth == storage.folders["main"]?.auth)
    #expect(folder.appending("index.m3u8")?.target == .s3(bucket: "media", key: "shows/hls/talk/index.m3u8"))
    let file = try storage.resolve(
      try json(#"{"storage": "tmp", "path": "a/b.mp3"}"#), field: "outputs[1].destination", folder: false)
    #expect(file.target == .dlb(key: "scratch/a/b.mp3"))
    let atRoot = try storage.resolve(try json(#"{"storage": "root", "path": "x/"}"#), field: "d", folder: true)
    #expect(atRoot.target == .s3(bucket: "media", key: "x/"))
  }

  @Test func docsDolbyIoReferences_refAndFilename_nameTheSameFiles() throws {
    let storage = try storage()
    let field = "outputs[0].destination"
    #expect(
      try storage.resolve(try json(#"{"ref": "main", "filename": "out/talk.mp4"}"#), field: field, folder: false)
        == storage.resolve(try json(#"{"storage": "main", "path": "out/talk.mp4"}"#), field: field, folder: false))
    let folder = try storage.resolve(try json(#"{"ref": "tmp", "filename": "hls/talk"}"#), field: field, folder: true)
    #expect(folder.target == .dlb(key: "scratch/hls/talk/"))
    #expect(NamedStorage.isReference(try json(#"{"ref": "main", "filename": "a"}"#)))
    #expect(!NamedStorage.isReference(try json(#"{"url": "s3://b/k"}"#)))
  }

  @Test func docsDolbyIoReferences_areRefusedNamingTheFieldsAsSpelled() throws {
    let storage = try storage()
    func refused(_ text: String, folder: Bool = false, in store: NamedStorage? = nil) -> String? {
      refusal { _ = try (store ?? storage).resolve(try json(text), field: "inputs[0].source", folder: folder) }
    }
    #expect(
      refused(#"{"ref": "my-cloud-storage", "filename": "a.mp4"}"#, in: NamedStorage())
        == #"inputs[0].source.ref: no storage "my-cloud-storage" in storage[] (the request has no storage block)"#)
    #expect(refused(#"{"ref": "main"}"#) == "inputs[0].source.filename is required")
    #expect(refused(#"{"ref": 3, "filename": "a"}"#)?.hasPrefix("inputs[0].source.ref:") == true)
    #expect(refused(#"{"ref": "main", "filename": "../a"}"#)?.hasPrefix("inputs[0].source.filename:") == true)
    #expect(refused(#"{"ref": "main", "filename": "a/"}"#)?.hasPrefix("inputs[0].source.filename:") == true)
    // One spelling per reference: the other's members are unknown.
    #expect(
      refused(#"{"ref": "main", "path": "a"}"#)
        == #"inputs[0].source.path: unknown field (a storage reference takes "ref" and "filename")"#)
    #expect(refused(#"{"storage": "main", "ref": "main", "path": "a"}"#)?.hasPrefix("inputs[0].source.ref:") == true)
  }

  @Test func badReferences_nameTheField() throws {
    let storage = try storage()
    func refused(_ text: String, folder: Bool = true, in store: NamedStorage? = nil) -> String? {
      refusal { _ = try (store ?? storage).resolve(try json(text), field: "outputs[2].destination", folder: folder) }
    }
    #expect(
      refused(#"{"storage": "x", "path": "a/"}"#) == #"outputs[2].destination.storage: no storage "x" in storage[]"#)
    #expect(
      refused(#"{"storage": "x", "path": "a/"}"#, in: NamedStorage())
        == #"outputs[2].destination.storage: no storage "x" in storage[] (the request has no storage block)"#)
    #expect(refused(#"{"storage": "main"}"#) == "outputs[2].destination.path is required")
    #expect(refused(#"{"storage": "main", "path": ""}"#)?.hasPrefix("outputs[2].destination.path:") == true)
    #expect(refused(#"{"storage": "main", "path": "../other/"}"#)?.contains(#"".."#) == true)
    #expect(refused(#"{"storage": "main", "path": "a/../../b"}"#)?.hasPrefix("outputs[2].destination.path:") == true)
    #expect(refused(#"{"storage": "main", "path": "a//b"}"#)?.hasPrefix("outputs[2].destination.path:") == true)
    #expect(
      refused(#"{"storage": "main", "path": "/abs/"}"#)
        == "outputs[2].destination.path: must be relative to the storage's prefix: no leading /")
    #expect(
      refused(#"{"storage": "main", "path": "a/"}"#, folder: false)
        == "outputs[2].destination.path: names a file, so it must not end with /")
    #expect(refused(#"{"storage": 3, "path": "a"}"#)?.hasPrefix("outputs[2].destination.storage:") == true)
    #expect(
      refused(#"{"storage": "main", "path": "a", "url": "s3://x/y"}"#)?.hasPrefix("outputs[2].destination.url:") == true
    )
    let long = String(repeating: "a", count: 1020)
    #expect(refused(#"{"storage": "main", "path": "\#(long)"}"#)?.contains("longer than 1024") == true)
  }

  @Test func badEntries_nameTheField_andNeverTheSecret() throws {
    func refused(_ text: String) -> String? { refusal { _ = try NamedStorage(parsing: try json(text)) } }
    let auth = #""auth": {"key": "AKID", "secret": "\#(secret)"}"#
    let cases: [(String, String)] = [
      (#"{"id": "a"}"#, "storage"),
      (#"[{"url": "s3://b/p/", \#(auth)}]"#, "storage[0].id is required"),
      (#"[{"id": "a b", "url": "s3://b/p/", \#(auth)}]"#, "storage[0].id:"),
      (
        #"[{"id": "a", "url": "s3://bkt/p/", \#(auth)}, {"id": "a", "url": "dlb://x/"}]"#,
        #"storage[1].id: "a" is used twice"#
      ),
      (#"[{"id": "a", "url": "s3://bkt/p/"}]"#, "storage[0]: writing under an s3:// prefix needs keys"),
      (#"[{"id": "a", "url": "s3://bkt/prefix", \#(auth)}]"#, "storage[0].url: names a folder, so it must end with /"),
      (#"[{"id": "a", "url": "https://h/p/", \#(auth)}]"#, "storage[0].url: an http(s) URL holds one file"),
      (#"[{"id": "a", "url": "dlb://x/", \#(auth)}]"#, "storage[0].auth: dlb:// locations take no credentials"),
      (#"[{"id": "a", "url": "dlb://x/../"}]"#, "storage[0].url:"),
      (
        #"[{"id": "a", "url": "s3://bkt/p/", "auth": {"key": "AKID", "secret": "\#(secret)", "extra": 1}}]"#,
        "storage[0].auth.extra: unknown field"
      ),
      (#"[{"id": "a", "url": "s3://bkt/p/", \#(auth), "path": "x"}]"#, "storage[0].path: unknown field"),
    ]
    for (text, expected) in cases {
      let message = refused(text)
      #expect(message?.hasPrefix(expected) == true, "\(text) -> \(message ?? "accepted")")
      #expect(message?.contains(secret) != true)
      #expect(message?.contains("SECRET") != true)
    }
  }

  @Test func folders_refuseOneFileURLsWithTheReason() throws {
    let parser = LocationParser()
    func refused(_ text: String) -> String? {
      refusal { _ = try parser.parseFolder(try json(text), field: "outputs[0].destination", purpose: "an hls output") }
    }
    let presigned =
      "https://b.s3.amazonaws.com/out/?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Date=20300101T000000Z&X-Amz-Expires=60&X-Amz-Credential=AK%2F20300101%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-SignedHeaders=host&X-Amz-Signature=abcdef"
    let message = try #require(refused("\"\(presigned)\""))
    #expect(message.hasPrefix("outputs[0].destination: a pre-signed URL holds one file, and an hls output writes many"))
    #expect(!message.contains("abcdef") && !message.contains("X-Amz"))
    #expect(
      refused(#"{"url": "https://h/out/"}"#)?.hasPrefix("outputs[0].destination.url: an http(s) URL holds one file")
        == true)
    #expect(
      refused(#""s3://bkt/out/""#)?.hasPrefix("outputs[0].destination: writing under an s3:// prefix needs keys")
        == true)
    #expect(refused(#""dlb://out/talk""#)?.hasPrefix("outputs[0].destination: names a folder") == true)
    let dlb = try parser.parseFolder(try json(#""dlb://out/talk/""#), field: "d", purpose: "p")
    #expect(dlb.target == .dlb(key: "out/talk/") && dlb.appending("a.ts")?.target == .dlb(key: "out/talk/a.ts"))
    let s3 = try parser.parseFolder(
      try json(#"{"url": "s3://bkt/out/", "auth": {"key": "AK", "secret": "SK"}}"#), field: "d", purpose: "p")
    #expect(s3.target == .s3(bucket: "bkt", key: "out/") && s3.redacted == "s3://bkt/out/ (with keys)")
    #expect(Location(target: .http(url: "https://h/x", presigned: nil)).appending("a") == nil)
  }
}
