import Testing

@testable import Transfer

/// Names the tests resolve without DNS.
private let names = StaticResolver([
  "localhost": [IPAddress("127.0.0.1")!, IPAddress("::1")!],
  "localhost.": [IPAddress("127.0.0.1")!],
  "metadata.google.internal": [IPAddress("169.254.169.254")!],
  "loop.example.com": [IPAddress("127.0.0.2")!],
  "mixed.example.com": [IPAddress("93.184.216.34")!, IPAddress("10.1.2.3")!],
  "example.com": [IPAddress("93.184.216.34")!],
  "minio.internal": [IPAddress("10.0.0.5")!],
])

/// The refusal for every address `host` resolves to (nil entries are allowed addresses).
private func decisions(_ host: String, port: Int = 443, policy: NetworkPolicy = NetworkPolicy()) throws -> [String?] {
  try names.resolve(host).map { policy.refusal(address: $0, port: port, host: host) }
}

@Suite struct NetworkPolicyTests {
  @Test(arguments: [
    "127.0.0.1", "127.1", "2130706433", "0x7f000001", "0x7f.1", "017700000001", "0177.0.0.1", "0177.1", "[::1]", "[::]",
    "0.0.0.0", "0", "[::ffff:127.0.0.1]", "[::ffff:7f00:1]", "[::127.0.0.1]", "[64:ff9b::7f00:1]", "[2002:7f00:1::]",
    "[2001:0:4136:e378:8000:63bf:80ff:fffe]", "169.254.169.254", "10.0.0.1", "172.16.5.4", "192.168.1.1", "100.64.0.1",
    "224.0.0.1", "255.255.255.255", "240.0.0.1", "[fd00::1]", "[fe80::1]", "[ff02::1]", "localhost", "localhost.",
    "metadata.google.internal", "loop.example.com", "192.0.2.1", "[2001:db8::1]", "198.18.0.1", "[::ffff:10.0.0.1]",
  ])
  func refusesInsideAddressesInEverySpelling(_ host: String) throws {
    let found = try decisions(host)
    #expect(!found.isEmpty)
    #expect(found.allSatisfy { $0 != nil }, "\(host) resolved to an allowed address")
  }

  @Test(arguments: ["93.184.216.34", "8.8.8.8", "1.1.1.1", "[2606:4700:4700::1111]", "example.com"])
  func allowsPublicAddresses(_ host: String) throws {
    #expect(try decisions(host).allSatisfy { $0 == nil })
  }

  @Test func aNameIsRefusedIfAnyOfItsAddressesIs() throws {
    #expect(
      try decisions("mixed.example.com") == [nil, "10.1.2.3 is a private address; network.allow does not open it"])
  }

  @Test func refusalsSayWhy() throws {
    #expect(
      try decisions("169.254.169.254")
        == ["169.254.169.254 is a link-local address (cloud metadata lives here); network.allow does not open it"])
    #expect(
      try decisions("[::ffff:127.0.0.1]") == [
        "::ffff:127.0.0.1 is an IPv4-mapped address; network.allow does not open it"
      ])
  }

  @Test func allowEntriesOpenExactlyWhatTheyName() throws {
    let cidr = try NetworkPolicy(allow: ["127.0.0.0/8"])
    #expect(try decisions("127.0.0.1", policy: cidr) == [nil])
    #expect(try decisions("[::1]", policy: cidr).allSatisfy { $0 != nil }, "an IPv4 network does not open ::1")

    let endpoint = try NetworkPolicy(allow: ["127.0.0.1:9000", "[::1]:9000"])
    #expect(try decisions("127.0.0.1", port: 9000, policy: endpoint) == [nil])
    #expect(try decisions("127.0.0.1", port: 9001, policy: endpoint).allSatisfy { $0 != nil })
    #expect(try decisions("[::1]", port: 9000, policy: endpoint) == [nil])

    let named = try NetworkPolicy(allow: ["minio.internal:9000"])
    #expect(try decisions("minio.internal", port: 9000, policy: named) == [nil])
    #expect(named.refusal(address: IPAddress("10.0.0.5")!, port: 9000, host: "MINIO.internal.") == nil)
    #expect(try decisions("minio.internal", port: 443, policy: named).allSatisfy { $0 != nil })
    #expect(named.refusal(address: IPAddress("10.0.0.5")!, port: 9000, host: "other.internal") != nil)
  }

  @Test(arguments: [
    "127.0.0.1", "10.0.0.0/33", "::1/129", "host", "host:0", "host:70000", "[::1]", "[127.0.0.1]:80", ":80", "a:b:c:80",
  ])
  func malformedAllowEntriesAreRefused(_ entry: String) {
    #expect(throws: NetworkPolicyError.self) { try NetworkPolicy(allow: [entry]) }
  }

  @Test func theSystemResolverReadsNumericSpellingsWithoutDNS() throws {
    for spelling in ["2130706433", "0x7f.1", "017700000001", "127.1"] {
      #expect(try SystemResolver().resolve(spelling) == [IPAddress("127.0.0.1")!], "\(spelling)")
    }
    #expect(try SystemResolver().resolve("[::1]") == [IPAddress("::1")!])
  }

  @Test(arguments: ["localhost", "LocalHost", "localhost.", "a.localhost", "x.y.LOCALHOST."])
  func localhostNames_areLoopbackWithoutDNS(_ name: String) throws {
    #expect(try SystemResolver().resolve(name) == [IPAddress("127.0.0.1")!, IPAddress("::1")!])
    #expect(NetworkPolicy().refusal(address: IPAddress("::1")!, port: 80, host: name) != nil)
  }

  @Test func addressesPrintInTheirStandardForm() {
    #expect(IPAddress("::FFFF:127.0.0.1")?.description == "::ffff:127.0.0.1")
    #expect(IPAddress("[2001:DB8::1]")?.description == "2001:db8::1")
    #expect(IPAddress("127.1") == nil, "parsing literals is strict; spellings go through a resolver")
  }
}
