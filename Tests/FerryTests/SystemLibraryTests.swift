import CCurl
import CLibPQ
import COpenSSL
import CSQLite
import Testing

/// The C wrapper modules link and their shims reach the variadic calls.
@Suite struct SystemLibraryTests {
  @Test func libcurlAndItsTypedSetoptWrappers() throws {
    let info = try #require(curl_version_info(CURLVERSION_TENTH))
    #expect(info.pointee.features & CURL_VERSION_SSL != 0, "libcurl must be built with TLS")
    let handle = try #require(curl_easy_init())
    defer { curl_easy_cleanup(handle) }
    #expect(ferry_curl_setopt_long(handle, CURLOPT_NOSIGNAL, 1) == CURLE_OK)
    #expect(ferry_curl_setopt_str(handle, CURLOPT_URL, "http://127.0.0.1:9/") == CURLE_OK)
    var code = 0
    #expect(ferry_curl_getinfo_long(handle, CURLINFO_RESPONSE_CODE, &code) == CURLE_OK)
  }

  @Test func sqliteOpensAnInMemoryDatabase() {
    var db: OpaquePointer?
    #expect(sqlite3_open(":memory:", &db) == SQLITE_OK)
    #expect(sqlite3_exec(db, "CREATE TABLE t(x); INSERT INTO t VALUES (1);", nil, nil, nil) == SQLITE_OK)
    sqlite3_close(db)
    #expect(sqlite3_libversion_number() >= 3_035_000)
  }

  @Test func opensslComputesSHA256() {
    var digest = [UInt8](repeating: 0, count: 32)
    let input = Array("abc".utf8)
    _ = SHA256(input, input.count, &digest)
    #expect(digest.prefix(4) == [0xBA, 0x78, 0x16, 0xBF])
    #expect(ferry_openssl_version_num() >= 0x3000_0000)
  }

  @Test func libpqIsThreadSafeAndParsesURLs() {
    #expect(PQisthreadsafe() == 1, "one connection per thread at a time needs a thread-safe libpq")
    #expect(PQlibVersion() >= 150_000)
    var error: UnsafeMutablePointer<CChar>?
    let options = PQconninfoParse("postgresql://u:p@127.0.0.1:5432/db", &error)
    #expect(options != nil)
    PQconninfoFree(options)
  }
}
