import Foundation
import XentestBackendLibvirt
import XentestPlan
import XentestRun
import XentestSupport

/// Where the journal sink's time goes: the events of one recorded run, fed again to ResultsDirectory.record and
/// to its parts on their own (Sources/XentestRun/ResultsDirectory.swift, `record`).
struct JournalBreakdown: Codable {
    var events: Int
    var caseEnds: Int
    /// ResultsDirectory.record for every event: all the journal sink costs a run.
    var recordSeconds: [Double]
    /// Journal.append for every event (JSON encoding and one write per event).
    var journalSeconds: [Double]
    /// RunResultBuilder.add for every event, and result() at each case end, as `record` does to find the case.
    var foldSeconds: [Double]

    static func measure(_ events: [RunEvent], planName: String, repeats: Int) throws -> JournalBreakdown {
        var breakdown = JournalBreakdown(
            events: events.count,
            caseEnds: events.count { if case .caseEnded = $0 { true } else { false } },
            recordSeconds: [],
            journalSeconds: [],
            foldSeconds: []
        )
        let root = FileManager.default.temporaryDirectory.path + "/xentest-bench-breakdown-\(getpid())"
        defer { try? FileManager.default.removeItem(atPath: root) }
        for _ in 0..<repeats {
            try? FileManager.default.removeItem(atPath: root)
            let results = try ResultsDirectory(root: root, plan: planName, host: "bench", at: Date())
            var start = ContinuousClock.now
            for event in events { results.record(event) }
            breakdown.recordSeconds.append(secondsSince(start))

            let journal = try Journal(path: root + "/journal-only.jsonl")
            start = ContinuousClock.now
            for event in events { try journal.append(event) }
            breakdown.journalSeconds.append(secondsSince(start))

            var builder = RunResultBuilder()
            start = ContinuousClock.now
            for event in events {
                builder.add(event)
                if case .caseEnded = event { _ = builder.result() }
            }
            breakdown.foldSeconds.append(secondsSince(start))
        }
        return breakdown
    }
}
