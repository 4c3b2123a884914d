import Testing

@testable import Locations

@Suite struct S3AddressingTests {
  @Test func awsVirtualHostedByDefault() {
    let address = S3Addressing().address(bucket: "media", key: "in/a b.wav")
    #expect(address.url == "https://media.s3.us-east-1.amazonaws.com/in/a%20b.wav")
    #expect(address.host == "media.s3.us-east-1.amazonaws.com")
    #expect(address.path == "/in/a b.wav")
    #expect(address.region == "us-east-1")
  }

  @Test func awsPathStyleForDottedBucketsOrWhenConfigured() {
    let dotted = S3Addressing().address(bucket: "my.bucket", key: "k", region: "eu-west-1")
    #expect(dotted.url == "https://s3.eu-west-1.amazonaws.com/my.bucket/k")
    #expect(dotted.path == "/my.bucket/k")
    #expect(dotted.region == "eu-west-1")
    let configured = S3Addressing(pathStyle: true).address(bucket: "media", key: "k")
    #expect(configured.url == "https://s3.us-east-1.amazonaws.com/media/k")
  }

  @Test func endpointsThatAreIPLiteralsOrLocalhostArePathStyle() {
    let v4 = S3Addressing(endpoint: "http://127.0.0.1:9000").address(bucket: "media", key: "k")
    #expect(v4.url == "http://127.0.0.1:9000/media/k")
    #expect(v4.host == "127.0.0.1:9000")
    let v6 = S3Addressing(endpoint: "http://[::1]:9000").address(bucket: "media", key: "k")
    #expect(v6.url == "http://[::1]:9000/media/k")
    #expect(v6.host == "[::1]:9000")
    let local = S3Addressing(endpoint: "http://localhost:9000").address(bucket: "media", key: "k")
    #expect(local.url == "http://localhost:9000/media/k")
  }

  @Test func namedEndpointsAreVirtualHostedUnlessConfigured() {
    let named = S3Addressing(endpoint: "https://minio.example.com").address(bucket: "media", key: "k")
    #expect(named.url == "https://media.minio.example.com/k")
    #expect(named.host == "media.minio.example.com")
    #expect(named.path == "/k")
    let defaultPort = S3Addressing(endpoint: "https://minio.example.com:443").address(bucket: "media", key: "k")
    #expect(defaultPort.host == "media.minio.example.com")
    let forced = S3Addressing(endpoint: "https://minio.example.com:8443", pathStyle: true).address(
      bucket: "media", key: "k")
    #expect(forced.url == "https://minio.example.com:8443/media/k")
  }

  @Test func keysAreEncodedExactlyOnce() {
    let key = "a b+c%d&e=f?g#h~i//j/ключ.wav"
    let address = S3Addressing(endpoint: "http://127.0.0.1:9000").address(bucket: "media", key: key)
    #expect(
      address.url == "http://127.0.0.1:9000/media/a%20b%2Bc%25d%26e%3Df%3Fg%23h~i//j/%D0%BA%D0%BB%D1%8E%D1%87.wav")
    #expect(address.path == "/media/" + key, "the signer gets the literal path and encodes it the same way")
  }
}
