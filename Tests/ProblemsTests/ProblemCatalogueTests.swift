import Foundation
import Testing

@testable import Problems

/// The catalogue is the one list of problems: `openapi.yaml` documents exactly its types, with its statuses and
/// titles, and no two entries share a type.
@Suite struct ProblemCatalogueTests {
  static let openAPI = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .appendingPathComponent("../../openapi.yaml").standardized.path

  /// `(type, status?, title)` of each row of the spec's problem tables: `| `/problems/x` | 400 | Title | ... |`
  /// and `| `/problems/x` | Title | ... |`.
  static func documentedRows() throws -> [(type: String, status: Int?, title: String)] {
    let text = try String(contentsOfFile: openAPI, encoding: .utf8)
    return text.split(separator: "\n").compactMap { line -> (String, Int?, String)? in
      let cells = line.split(separator: "|", omittingEmptySubsequences: false).map {
        $0.trimmingCharacters(in: .whitespaces)
      }
      guard cells.count >= 4, cells[1].hasPrefix("`/problems/"), cells[1].hasSuffix("`") else { return nil }
      let type = String(cells[1].dropFirst().dropLast())
      if let status = Int(cells[2]) { return (type, status, cells[3]) }
      return (type, nil, cells[2])
    }
  }

  @Test func openAPIDocumentsExactlyTheCatalogue_withItsStatusesAndTitles() throws {
    let rows = try Self.documentedRows()
    let text = try String(contentsOfFile: Self.openAPI, encoding: .utf8)
    let mentioned = Set(
      text.matches(of: /\/problems\/[a-z-]+/).map { String($0.output) }.filter { $0 != "/problems/" })
    #expect(mentioned == Set(Problem.catalogue.map(\.type)), "types in openapi.yaml against the catalogue")
    for problem in Problem.catalogue {
      let documented = rows.filter { $0.type == problem.type }
      #expect(!documented.isEmpty, "\(problem.type) has no row in openapi.yaml's problem tables")
      for row in documented {
        #expect(row.title == problem.title, "\(problem.type): title")
        if let status = row.status { #expect(status == problem.status, "\(problem.type): status") }
      }
      if problem.status != nil {
        #expect(documented.contains { $0.status == problem.status }, "\(problem.type) is answered with a status")
      }
    }
  }

  @Test func typesAreUnique_andLookedUpByName() {
    #expect(Set(Problem.catalogue.map(\.type)).count == Problem.catalogue.count)
    for problem in Problem.catalogue {
      #expect(Problem.named(problem.type) == problem)
      #expect(problem.type.hasPrefix("/problems/") && !problem.title.isEmpty)
      #expect(problem.status.map { (400...599).contains($0) } ?? true)
    }
    #expect(Problem.named("/problems/teapot") == nil)
  }
}
