import XentestRun

/// One stored run as the history sees it.
public struct RunRef: Sendable, Hashable, Codable {
    /// The server's number for it (`/runs/<id>`).
    public var id: Int64
    /// xentest's run id.
    public var runID: String
    /// The release it tested.
    public var release: String
    /// When it started, ISO 8601 in UTC (so text order is time order).
    public var startedAt: String
    /// The server's number for its host.
    public var hostID: Int64
}

/// One case's verdict in one stored run.
public struct CaseVerdict: Sendable, Hashable, Codable {
    /// The run.
    public var run: RunRef
    /// The case's id.
    public var caseID: String
    /// How it ended.
    public var status: CaseStatus
    /// How it failed: its status and failing step (`fail: vcpu-set 2`), the same for the same failure in any run;
    /// nil when it did not fail.
    public var failure: String?
}

/// OSSTest's history labels for a case that did not work in a run, from every stored run of the same host.
public enum HistoryLabel: Sendable, Hashable {
    /// It worked in the newest run of the previous release on this host.
    case regression(vs: RunRef)
    /// Another run of the same release on this host: it worked there (flaky).
    case passIn(RunRef)
    /// It never worked in any run on this host.
    case neverPass
    /// It failed the same way (status and failing step) in an earlier run on this host.
    case like(RunRef)
    /// The previous release was not run on this host, or its newest run did not try the case.
    case baselineUntested

    /// `REGR. vs 1a2b3c`, `pass in 1a2b3c`, `never pass`, `like 1a2b3c`, `baseline untested`.
    public var text: String {
        switch self {
        case .regression(let run): "REGR. vs \(run.runID)"
        case .passIn(let run): "pass in \(run.runID)"
        case .neverPass: "never pass"
        case .like(let run): "like \(run.runID)"
        case .baselineUntested: "baseline untested"
        }
    }

    /// The run it names, if any.
    public var run: RunRef? {
        switch self {
        case .regression(let run), .passIn(let run), .like(let run): run
        case .neverPass, .baselineUntested: nil
        }
    }

    /// A one-word class for styles and the JSON API: `regression`, `pass-in`, `never-pass`, `like`,
    /// `baseline-untested`.
    public var kind: String {
        switch self {
        case .regression: "regression"
        case .passIn: "pass-in"
        case .neverPass: "never-pass"
        case .like: "like"
        case .baselineUntested: "baseline-untested"
        }
    }
}

/// Every stored run of one host and the verdicts in them, to label a verdict with its history.
public struct CaseHistory: Sendable {
    private let runsByRelease: [String: [RunRef]]
    private let verdictsByCase: [String: [CaseVerdict]]

    /// The history of one host: all its runs, and the verdicts of the cases in them.
    public init(hostRuns: [RunRef], verdicts: [CaseVerdict]) {
        runsByRelease = Dictionary(grouping: hostRuns, by: \.release)
        verdictsByCase = Dictionary(grouping: verdicts, by: \.caseID)
    }

    /// The newest run of the release before `release` on this host, if this host ran one.
    public func baselineRun(before release: String) -> RunRef? {
        let earlier = runsByRelease.keys.filter { ReleaseOrder.precedes($0, release) }
        guard let previous = earlier.max(by: ReleaseOrder.precedes) else { return nil }
        return runsByRelease[previous]?.max { $0.startedAt < $1.startedAt }
    }

    /// The label of `verdict`, when the case failed or broke (fail, xfail, error, timeout); nil otherwise, and for a
    /// failure none of the labels fits (it failed another way in the baseline, and has worked before).
    ///
    /// In order: `pass in` (flaky) over `REGR.` over `never pass` over `like` over `baseline untested`.
    public func label(for verdict: CaseVerdict) -> HistoryLabel? {
        guard let outcome = verdict.status.outcome, outcome != .worked else { return nil }
        let others = (verdictsByCase[verdict.caseID] ?? []).filter { $0.run.id != verdict.run.id }
        func newest(_ candidates: [CaseVerdict]) -> RunRef? {
            candidates.max { $0.run.startedAt < $1.run.startedAt }?.run
        }
        if let flaky = newest(others.filter { $0.run.release == verdict.run.release && $0.status.outcome == .worked }) {
            return .passIn(flaky)
        }
        let baseline = baselineRun(before: verdict.run.release)
        let inBaseline = baseline.flatMap { run in others.first { $0.run.id == run.id } }
        if let baseline, inBaseline?.status.outcome == .worked { return .regression(vs: baseline) }
        if !others.contains(where: { $0.status.outcome == .worked }) { return .neverPass }
        let sameWay = others.filter { $0.run.startedAt < verdict.run.startedAt && $0.failure == verdict.failure }
        if let like = newest(sameWay) { return .like(like) }
        if inBaseline?.status.outcome == nil { return .baselineUntested }
        return nil
    }
}
