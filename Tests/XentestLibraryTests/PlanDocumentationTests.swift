import Foundation
import Testing
@testable import XentestPlan

/// The `yaml` examples of testplans/README.md, each loaded as a plan author would use it.
struct DocumentedExample: Sendable, CustomTestStringConvertible {
    /// The example's 1-based line in the README.
    var line: Int
    var text: String
    var testDescription: String { "testplans/README.md:\(line)" }

    /// Every ```yaml block of the README.
    static var all: [DocumentedExample] {
        let readme = Fixtures.repositoryRoot.appendingPathComponent("testplans/README.md")
        guard let text = try? String(contentsOf: readme, encoding: .utf8) else { return [] }
        var examples: [DocumentedExample] = []
        var current: (line: Int, lines: [String])?
        for (index, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            if current == nil, line == "```yaml" {
                current = (index + 2, [])
            } else if let block = current, line == "```" {
                examples.append(DocumentedExample(line: block.line, text: block.lines.joined(separator: "\n") + "\n"))
                current = nil
            } else if current != nil {
                current?.lines.append(String(line))
            }
        }
        return examples
    }

    /// The plan to load: the example itself when it is a whole plan; guests and cases, or cases, with a release and
    /// title before them; steps in a case whose guest allows them, created first unless the example creates it. Nil for an
    /// example that is not plan text (a host file, a fragment of a case's keys).
    var plan: String? {
        let header = "release: 4.3.0-rc6\ntitle: Documentation example\n"
        if text.contains("\nrelease:") || text.hasPrefix("release:") { return text }
        if text.hasPrefix("cases:") || text.hasPrefix("guests:") { return header + text }
        guard text.hasPrefix("      - ") else { return nil }
        let creates = text.contains("      - create:")
        let guest = "{type: pv, maxvcpus: 4, passthrough: true, pci: [nic], nics: 1}"
        return header + """
            cases:
              - id: example
                title: Example
                area: docs
                guest: \(guest)
                steps:

            """ + (creates ? "" : "      - create:\n") + text
    }
}

@Suite("testplans/README.md: every example is plan text that validates") struct PlanDocumentationTests {
    @Test func theReadmeHasExamples() { #expect(DocumentedExample.all.count >= 30) }

    @Test(arguments: DocumentedExample.all) func exampleValidates(_ example: DocumentedExample) throws {
        guard let plan = example.plan else { return }
        // Plans that include rc6's files find them where the README says they are.
        let rc6 = Fixtures.repositoryRoot.appendingPathComponent("testplans/rc6").path
        let files = try FileManager.default.contentsOfDirectory(atPath: rc6)
        var extra: [String: String] = [:]
        for file in files { extra["rc6/" + file] = try String(contentsOfFile: rc6 + "/" + file, encoding: .utf8) }
        let outcome = try loadPlanText(plan, extraFiles: extra)
        if plan.contains("title: Broken on purpose") {
            // The README's example of validate's diagnostics: it must stay broken.
            #expect(outcome.plan == nil && outcome.lines.count >= 4, "\(outcome.lines)")
        } else {
            #expect(outcome.plan != nil, "\(outcome.lines.joined(separator: "\n"))\n--- as loaded:\n\(plan)")
        }
    }
}
