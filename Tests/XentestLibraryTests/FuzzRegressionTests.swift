import Foundation
import Testing
@testable import XentestPlan

/// The loaders' entry points from text that the fuzz targets use (benchmarks/fuzz.sh), and the inputs the fuzzer
/// found: each must end with diagnostics, not a crash, a trap or a hang.
@Suite("Fuzzing: loading from text, and what the fuzzer found") struct FuzzRegressionTests {
    /// Every diagnostic of loading `text` as a plan from memory, or none when it loaded.
    func planDiagnostics(_ text: String) -> [String] {
        do {
            _ = try PlanLoader().load(text: Data(text.utf8), path: "/fuzz/plan.yaml")
            return []
        } catch { return error.diagnostics.map(\.description) }
    }

    @Test func planFromTextLoadsAsFromItsFile() throws {
        let path = try Fixtures.plan("valid/sample.yaml")
        let fromFile = try PlanLoader().load(path: path)
        let fromText = try PlanLoader().load(text: try Data(contentsOf: URL(fileURLWithPath: path)), path: path)
        #expect(fromText.plan.cases.map(\.id) == fromFile.plan.cases.map(\.id))
        #expect(fromText.plan.title == fromFile.plan.title)
        #expect(fromText.warnings.map(\.description) == fromFile.warnings.map(\.description))
    }

    @Test func planFromTextReadsNoInclude() {
        let text = "release: x\ntitle: t\ninclude: [/etc/passwd, {file: ../../etc/hostname}]\ncases: []\n"
        #expect(
            planDiagnostics(text) == [
                "/fuzz/plan.yaml:3:11: error: includes are not read when a plan is loaded from text ('/etc/passwd')",
                "/fuzz/plan.yaml:3:31: error: includes are not read when a plan is loaded from text"
                    + " ('../../etc/hostname')",
            ]
        )
    }

    @Test func planFromTextStillFindsAnIncludeOfItself() {
        let diagnostics = planDiagnostics("release: x\ntitle: t\ninclude: [plan.yaml]\ncases: []\n")
        #expect(diagnostics.contains("/fuzz/plan.yaml:3:11: error: /fuzz/plan.yaml includes itself ('plan.yaml')"))
    }

    /// Found by fuzz-plan: every distinct pattern a process ever loaded stayed compiled (about 9 KB a short one,
    /// far more a long one), so its memory grew to 1.6 GB in ten minutes of loading plans.
    @Test func patternCacheStaysBounded() throws {
        let first = try PlanPattern("fuzz-first-[0-9]+")
        for index in 0...PlanPattern.maximumCached {
            _ = try PlanPattern("fuzz-\(index)-(a|b)+")
            #expect(PlanPattern.cachedCount <= PlanPattern.maximumCached)
        }
        // A pattern that left the cache still matches: it is compiled again.
        #expect(first.matches("line\nFUZZ-FIRST-42\n"))
        #expect(!first.matches("fuzz-first-"))
        // A long pattern is not kept, and matches all the same.
        let long = try PlanPattern(String(repeating: "(a|b)", count: 300) + "$")
        #expect(PlanPattern.cachedCount <= PlanPattern.maximumCached)
        #expect(long.matches(String(repeating: "ab", count: 150) + "\n"))
    }

    @Test func hostFileFromTextLoadsAsFromItsFile() throws {
        let path = try Fixtures.plan("hosts/lab-host.yaml")
        let fromFile = try HostConfig.load(path: path)
        let fromText = try HostConfig.load(text: try Data(contentsOf: URL(fileURLWithPath: path)), path: path)
        #expect(fromText == fromFile)
    }
}
