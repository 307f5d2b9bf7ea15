import Testing
@testable import XentestPlan
@testable import XentestRun
@testable import XentestSupport

/// A pattern, a text, and whether the one regex rule finds the pattern in it.
struct PatternExample: Sendable, CustomTestStringConvertible {
    var pattern: String
    var text: String
    var matches: Bool
    var testDescription: String { "/\(pattern)/ in '\(text)'" }
}

@Suite("One regex rule for every plan pattern") struct PlanPatternTests {
    static let examples = [
        // Toolstacks capitalise as they like: the case of the text does not matter, nor that of the pattern.
        PatternExample(pattern: "maxcpus is 4", text: "Requested 5 VCPUs, however MAXCPUS is 4!", matches: true),
        PatternExample(pattern: "Timed Out", text: "step 3 (vcpu-set 1): vcpu unplug request timed out", matches: true),
        // Searched for anywhere; ^ and $ are the start and end of any line.
        PatternExample(pattern: "^maxcpus", text: "libxl: error\nMaxcpus is 4", matches: true),
        PatternExample(pattern: "is 4$", text: "maxcpus is 4\nanother line", matches: true),
        PatternExample(pattern: "^0-3$", text: "0-3\n", matches: true),
        PatternExample(pattern: "^maxcpus is 4$", text: "however maxcpus is 4!", matches: false),
        PatternExample(pattern: "timed out", text: "vcpu unplug request never answered", matches: false),
    ]

    @Test("the rule itself", arguments: examples) func rule(_ example: PatternExample) throws {
        #expect(try PlanPattern(example.pattern).matches(example.text) == example.matches)
    }

    /// fails-matching, output-matches and failure-matches, written with the same pattern in one plan, judged by the
    /// runner and the known issue as they judge a run.
    @Test("fails-matching, output-matches and failure-matches agree", arguments: examples) func samePatternEverywhere(
        _ example: PatternExample
    ) throws {
        let quoted = "'" + example.pattern.replacingOccurrences(of: "'", with: "''") + "'"
        let outcome = try loadPlanText(
            """
            release: 4.3.0-rc6
            title: Patterns
            cases:
              - id: patterns
                title: Patterns
                area: cpu-hotplug
                guest: {type: pv, maxvcpus: 4}
                known-issue: {summary: the issue, failure-matches: \(quoted)}
                steps:
                  - create:
                  - vcpu-set: 5
                    expect: {fails-matching: \(quoted)}
                  - guest-exec: cat /sys/devices/system/cpu/online
                    expect: {output-matches: \(quoted)}
            """
        )
        let testCase = try #require(outcome.plan?.cases.first, "\(outcome.lines)")
        let host = HostConfig.empty(source: "none")
        let failed = Runner.evaluate(testCase.steps[1].expectation, .failure(example.text, []), host: host)
        let printed = Runner.evaluate(
            testCase.steps[2].expectation,
            .success([], observation: .commandOutput(exitStatus: 0, output: example.text)),
            host: host
        )
        let explained = try #require(testCase.knownIssues.first).explains(example.text)
        #expect((failed == .met) == example.matches, "fails-matching: \(failed)")
        #expect((printed == .met) == example.matches, "output-matches: \(printed)")
        #expect(explained == example.matches, "failure-matches")
    }

    @Test func aPatternThatDoesNotCompileIsRefused() {
        #expect(throws: (any Error).self) { try PlanPattern("vcpu[") }
        #expect(throws: (any Error).self) { try PlanPattern("(unclosed") }
    }

    @Test func patternsAreTheirSource() throws {
        #expect(try PlanPattern("a|b") == PlanPattern("a|b"))
        #expect(try PlanPattern("a|b") != PlanPattern("A|B"), "the source is kept as written")
        #expect(try PlanPattern("x+").description == "x+")
    }
}
