import Foundation
import XentestPlan
import XentestSupport

/// The earlier run that a run is measured against (`--baseline`): which run it was and each case's verdict.
///
/// It is read before anything starts and written into the journal's first event, so a report made again from the
/// journal (`xentest report`) compares with the same baseline, even when the baseline's own files are gone.
public struct BaselineRun: Sendable, Hashable, Codable {
    /// The baseline run's id.
    public var runID: String
    /// Its plan's name (`rc5`).
    public var plan: String
    /// The release it tested.
    public var release: String
    /// The toolstack and host it ran on, as `xentest compare` heads its column.
    public var ranOn: String
    /// When it started.
    public var startedAt: Date
    /// Each of its cases' verdicts, in its order.
    public var cases: [Verdict]

    /// One case's verdict in the baseline.
    public struct Verdict: Sendable, Hashable, Codable {
        /// The case's id.
        public var id: String
        /// How it ended in the baseline.
        public var status: CaseStatus
        /// Why, as the baseline's result said (see `CaseResult.reason`).
        public var reason: String?
    }

    /// The baseline that `result` makes.
    public init(_ result: RunResult) {
        runID = result.runID
        plan = result.plan
        release = result.release
        ranOn = result.toolstackAndHost
        startedAt = result.startedAt
        cases = result.cases.map { Verdict(id: $0.id, status: $0.status, reason: $0.reason) }
    }

    /// Reads the baseline from a run directory, its `journal.jsonl`, or its `report.json`.
    public static func load(run path: String) throws(RunReadError) -> BaselineRun {
        BaselineRun(try RunResult.load(run: path))
    }
}

/// How each case of a run stands against the baseline, and which failures still fail the run.
///
/// Cases are matched by id, so a run of rc6 can be measured against one of rc5. A baseline only ever excuses a
/// failure that was already there: a case that fails the run without a baseline (fail, error, timeout, xpass)
/// fails it with one too, unless it also failed or broke in the baseline. So a run that passes without a baseline
/// passes with one, and a CI job gated on a baseline goes red on what is new, as OSSTest's regression check does.
public struct BaselineComparison: Sendable, Hashable, Codable {
    /// The baseline run's id.
    public var runID: String
    /// The baseline's plan name.
    public var plan: String
    /// The release the baseline tested.
    public var release: String
    /// The toolstack and host the baseline ran on (`RunResult.toolstackAndHost`).
    public var ranOn: String
    /// When the baseline run started.
    public var startedAt: Date
    /// Every case of the run, in the run's order.
    public var cases: [CaseChange]

    /// One case: its verdict then and now.
    public struct CaseChange: Sendable, Hashable, Codable {
        /// The case's id.
        public var id: String
        /// nil when the baseline's plan has no such case.
        public var before: CaseStatus?
        /// How it ended in this run.
        public var now: CaseStatus
        /// How `now` compares with `before`.
        public var change: Change
        /// Whether the case makes the run's exit status 1.
        public var blocking: Bool
    }

    /// What changed for a case.
    public enum Change: String, Sendable, Hashable, Codable, CaseIterable {
        /// Worked in the baseline; fails or breaks now (also when a known issue now explains it: xfail).
        case regression
        /// Failed or broke in the baseline; works now.
        case fixed
        /// Failed or broke in the baseline and now (perhaps the other way): not new, so not blocking.
        case stillFailing = "still-failing"
        /// Not in the baseline's plan, or not tried there; tried now.
        case new
        /// Tried in the baseline, not now (skipped or interrupted): what it would show now is not known.
        case notTried = "not-tried"
        /// As it was: worked both times, or not tried either time.
        case unchanged
    }

    /// Measures `cases` (a run's results) against `baseline`.
    public init(baseline: BaselineRun, cases: [CaseResult]) {
        runID = baseline.runID
        plan = baseline.plan
        release = baseline.release
        ranOn = baseline.ranOn
        startedAt = baseline.startedAt
        let before = Dictionary(baseline.cases.map { ($0.id, $0.status) }) { first, _ in first }
        self.cases = cases.map { testCase in
            let then = before[testCase.id]
            let change = Self.change(from: then?.outcome, to: testCase.status.outcome)
            return CaseChange(
                id: testCase.id,
                before: then,
                now: testCase.status,
                change: change,
                blocking: testCase.status.isFailure && change != .stillFailing
            )
        }
    }

    static func change(from before: CaseOutcome?, to now: CaseOutcome?) -> Change {
        switch (before, now) {
        case (nil, nil): .unchanged
        case (nil, _): .new
        case (_, nil): .notTried
        case (.worked, .worked): .unchanged
        case (.worked, _): .regression
        case (_, .worked): .fixed
        default: .stillFailing
        }
    }

    /// The cases with this change, in the run's order.
    public func cases(_ change: Change) -> [CaseChange] { cases.filter { $0.change == change } }

    /// The cases that fail the run.
    public var blocking: [CaseChange] { cases.filter(\.blocking) }

    /// `1 regression (network-vif-ping), 2 fixed (...)`: every change but `unchanged`, or `no change`.
    public var changeCounts: String {
        let parts = Change.allCases.filter { $0 != .unchanged }
            .compactMap { change -> String? in
                let ids = cases(change).map(\.id)
                guard !ids.isEmpty else { return nil }
                return "\(ids.count) \(change.rawValue) (\(ids.joined(separator: ", ")))"
            }
        return parts.isEmpty ? "no change" : parts.joined(separator: ", ")
    }
}
