import Synchronization
import Testing

@testable import Transfer

/// The whole prefix of a download in parts (what ffmpeg may read while the rest arrives): it grows only as
/// far as the parts before it are whole, whatever order they land in.
@Suite struct PartPrefixTests {
  @Test func thePrefix_endsAtTheFirstPartNotWholeYet() {
    // A first part of 10 bytes already in, then parts of 10, 10 and 5 bytes.
    let seen = Mutex<[Int64]>([])
    let progress = PartProgress(first: 10, total: 35, partSize: 10, report: { _, _ in true }) { prefix in
      seen.withLock { $0.append(prefix) }
    }
    #expect(progress.add(10, part: 1))  // the second part lands first: nothing before it is whole past 10
    #expect(progress.add(4, part: 0))
    #expect(progress.add(6, part: 0))  // part 0 whole, and part 1 already was
    #expect(progress.add(5, part: 2))
    #expect(seen.withLock { $0 } == [10, 14, 30, 35])
  }
}
