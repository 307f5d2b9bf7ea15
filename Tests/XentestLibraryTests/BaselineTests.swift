import Foundation
import Testing
@testable import XentestBackendLibvirt
@testable import XentestBackendXL
@testable import XentestLab
@testable import XentestPlan
@testable import XentestReport
@testable import XentestRun
@testable import XentestSupport
@testable import XentestXLParsing

@Suite("Baselines: each case against an earlier run, and which failures still fail the run") struct BaselineTests {
    /// One case's verdict in the baseline and now, and what the comparison must say of it.
    struct Row: Sendable, CustomStringConvertible {
        var before: CaseStatus?
        var now: CaseStatus
        var change: BaselineComparison.Change
        var blocking: Bool
        var description: String { "\(before?.rawValue ?? "absent") -> \(now.rawValue)" }
    }

    static let rows: [Row] = [
        Row(before: .pass, now: .pass, change: .unchanged, blocking: false),
        Row(before: .pass, now: .fail, change: .regression, blocking: true),
        Row(before: .pass, now: .error, change: .regression, blocking: true),
        Row(before: .pass, now: .timeout, change: .regression, blocking: true),
        // A known issue now explains the failure: a regression to read about, but the plan expects it.
        Row(before: .pass, now: .xfail, change: .regression, blocking: false),
        // xpass fails a run whatever the baseline: the plan's known issue is stale.
        Row(before: .pass, now: .xpass, change: .unchanged, blocking: true),
        Row(before: .fail, now: .xpass, change: .fixed, blocking: true),
        Row(before: .fail, now: .pass, change: .fixed, blocking: false),
        Row(before: .timeout, now: .pass, change: .fixed, blocking: false),
        Row(before: .fail, now: .fail, change: .stillFailing, blocking: false),
        Row(before: .fail, now: .error, change: .stillFailing, blocking: false),
        Row(before: .xfail, now: .fail, change: .stillFailing, blocking: false),
        Row(before: .error, now: .xfail, change: .stillFailing, blocking: false),
        Row(before: nil, now: .pass, change: .new, blocking: false),
        Row(before: nil, now: .fail, change: .new, blocking: true),
        Row(before: .skip, now: .fail, change: .new, blocking: true),
        Row(before: .interrupted, now: .pass, change: .new, blocking: false),
        Row(before: .pass, now: .skip, change: .notTried, blocking: false),
        Row(before: .fail, now: .interrupted, change: .notTried, blocking: false),
        Row(before: .skip, now: .skip, change: .unchanged, blocking: false),
        Row(before: nil, now: .skip, change: .unchanged, blocking: false),
    ]

    @Test("what each pair of verdicts is called, and whether it fails the run", arguments: rows) func classification(
        _ row: Row
    ) throws {
        var baseline = BaselineRun(try Self.result([("other", .pass)]))
        if let before = row.before { baseline.cases.append(.init(id: "c", status: before, reason: nil)) }
        let comparison = BaselineComparison(baseline: baseline, cases: try Self.result([("c", row.now)]).cases)
        let change = comparison.cases.first
        #expect(change?.before == row.before)
        #expect(change?.now == row.now)
        #expect(change?.change == row.change)
        #expect(change?.blocking == row.blocking)
    }

    @Test("exit status: a baseline excuses only failures that were already there, and never fails a run that passes")
    func exitStatus() throws {
        var run = try Self.result([("a", .pass), ("b", .fail), ("c", .xfail)])
        #expect(run.exitStatus == .failed)
        var earlier = try Self.result([("a", .pass), ("b", .error), ("c", .pass)])
        run.baseline = BaselineComparison(baseline: BaselineRun(earlier), cases: run.cases)
        #expect(run.exitStatus == .success)
        #expect(run.baseline?.changeCounts == "1 regression (c), 1 still-failing (b)")
        earlier.cases[1].status = .pass
        run.baseline = BaselineComparison(baseline: BaselineRun(earlier), cases: run.cases)
        #expect(run.exitStatus == .failed)
        #expect(run.baseline?.blocking.map(\.id) == ["b"])
        run.interrupted = true
        #expect(run.exitStatus == .interrupted)

        var passing = try Self.result([("a", .pass), ("b", .xfail), ("c", .skip)])
        #expect(passing.exitStatus == .success)
        passing.baseline = BaselineComparison(
            baseline: BaselineRun(try Self.result([("a", .fail)])),
            cases: passing.cases
        )
        #expect(passing.exitStatus == .success)
        #expect(passing.baseline?.changeCounts == "1 fixed (a), 1 new (b)")
    }

    @Test("real runs: rc6 through libvirt on the lab's Xen measured against rc6 through xl on the same Xen")
    func realRuns() throws {
        let xl = try RunComparisonTests.labRun()
        let path = try Fixtures.bundled.appendingPathComponent("runs/rc6-libvirt-lab.jsonl").path
        var libvirt = try #require(try Journal.result(path: path))
        libvirt.baseline = BaselineComparison(baseline: BaselineRun(xl), cases: libvirt.cases)
        let comparison = try #require(libvirt.baseline)
        #expect(comparison.ranOn == "xl (Xen 4.17.7) on xentest-lab")
        #expect(comparison.plan == "rc6" && comparison.runID == xl.runID)
        #expect(comparison.cases.map(\.id) == libvirt.cases.map(\.id))
        // libvirt leaves the device on pciback (its known issue); the libvirt-only skips hide what xl showed.
        #expect(comparison.cases(.regression).map(\.id) == ["pci-assignable"])
        #expect(
            comparison.cases(.notTried).map(\.id) == [
                "pci-boot-with-device", "pci-hotplug-attach-detach", "network-split-event-channels",
            ]
        )
        #expect(comparison.cases(.stillFailing).map(\.id) == ["cpu-hotplug-hvm-unplug"])
        #expect(comparison.blocking.isEmpty && libvirt.exitStatus == .success)

        let summary = MarkdownSummaryReporter.render(libvirt)
        #expect(summary.contains("| Baseline | run `\(xl.runID)` of rc6 (4.3.0-rc6), xl (Xen 4.17.7) on xentest-lab, "))
        #expect(summary.contains("| pci-assignable | pass | xfail | regression |"))
        #expect(summary.contains("| pci-boot-with-device | pass | skip | not-tried |"))
        #expect(!summary.contains("| lifecycle-create-destroy | pass | pass |"), "unchanged cases are not listed")
        #expect(summary.contains("No case fails the run."))
        let junit = JUnitReporter.render(libvirt)
        #expect(junit.contains("<property name=\"baseline-changes\" value=\"1 regression (pci-assignable), "))
    }

    @Test("the journal carries the baseline: a report made again from it compares the same, and old journals read")
    func journalRoundTrip() throws {
        let xl = try RunComparisonTests.labRun()
        #expect(xl.baseline == nil, "a journal written before baselines existed")
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "xentest-baseline-\(UUID().uuidString)"
        )
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("journal.jsonl").path
        let journal = try Journal(path: path)
        let header = RunHeader(
            runID: "f00d01",
            plan: "p",
            planTitle: "P",
            release: "r",
            xentestVersion: "0",
            host: xl.host,
            hostConfig: "none",
            startedAt: xl.startedAt,
            cases: [
                .init(id: "a", title: "A", area: "x", backend: .xl),
                .init(id: "b", title: "B", area: "x", backend: .xl),
            ],
            baseline: BaselineRun(try Self.result([("a", .pass), ("b", .fail)]))
        )
        try journal.append(.runStarted(header))
        for (id, status) in [("a", CaseStatus.fail), ("b", .fail)] {
            try journal.append(.caseStarted(caseID: id, backend: .xl, at: xl.startedAt))
            try journal.append(
                .caseEnded(caseID: id, status: status, reason: "broke", knownIssue: nil, durationSeconds: 1)
            )
        }
        try journal.append(.runEnded(at: xl.finishedAt, interrupted: false))
        let folded = try RunResult.load(run: directory.path)
        #expect(folded.baseline?.cases.map(\.change) == [.regression, .stillFailing])
        #expect(folded.exitStatus == .failed)
        // report.json reads back to the same result.
        let report = directory.appendingPathComponent("report.json").path
        try JSONReporter.render(folded).write(toFile: report, atomically: true, encoding: .utf8)
        #expect(try RunResult.load(run: report) == folded)
        #expect(try BaselineRun.load(run: report).cases.map(\.status) == [.fail, .fail])
    }

    @Test("a baseline that cannot be read says which file and why") func unreadable() throws {
        #expect(throws: RunReadError.self) { try BaselineRun.load(run: "/nonexistent/run") }
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("xentest-\(UUID().uuidString).jsonl")
        try "{\"not\": \"an event\"}\n".write(to: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: file) }
        do {
            _ = try BaselineRun.load(run: file.path)
            Issue.record("read a file that holds no event")
        } catch {
            #expect(error.path == file.path)
            #expect(error.description.hasPrefix(file.path + ": "), "\(error)")
        }
    }

    /// A finished run of cases `a`, `b`, ... with these statuses, on the lab's host facts.
    static func result(_ cases: [(String, CaseStatus)]) throws -> RunResult {
        let results = cases.map { id, status in
            CaseResult(
                id: id,
                title: id,
                area: "x",
                backend: .xl,
                status: status,
                reason: status == .pass ? nil : "because",
                knownIssue: nil,
                durationSeconds: 1,
                steps: [],
                teardown: []
            )
        }
        return RunResult(
            schemaVersion: 1,
            runID: "0ba5e1",
            plan: "p",
            planTitle: "P",
            release: "r",
            xentestVersion: "0",
            host: try RunComparisonTests.labRun().host,
            hostConfig: "none",
            startedAt: Date(timeIntervalSince1970: 0),
            finishedAt: Date(timeIntervalSince1970: 1),
            interrupted: false,
            summary: RunSummary(results),
            cases: results
        )
    }
}
