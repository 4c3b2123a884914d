import Testing
import Transfer

@testable import FerryClient

/// What a `ferry` user is told when a transfer fails.
@Suite struct TransferErrorMappingTests {
  @Test func tooManyRedirects_readsAsTheStatusItWasReportedAsBefore() {
    let mapped = FerryAPIClient.mapped(.tooManyRedirects(limit: 5), doing: "downloading out.wav")
    let before = FerryAPIClient.mapped(.status(310, detail: "more than 5 redirects"), doing: "downloading out.wav")
    #expect(mapped.exit == .requestRefused && mapped.message == "downloading out.wav: the server answered 310")
    #expect(mapped.exit == before.exit && mapped.message == before.message)
  }
}
