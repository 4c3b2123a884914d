import Testing
import Transfer

@testable import FerryClient

/// What a `ferry` user is told when a transfer fails.
@Suite struct TransferErrorMappingTests {
  @Test func tooManyRedirects_saysSo_notAMadeUpStatus() {
    let mapped = FerryAPIClient.mapped(.tooManyRedirects(limit: 5), doing: "downloading out.wav")
    #expect(mapped.exit == .requestRefused && mapped.message == "downloading out.wav: more than 5 redirects")
  }
}
