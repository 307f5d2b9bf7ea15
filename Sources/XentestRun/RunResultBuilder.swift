import Foundation
import XentestPlan
import XentestSupport

/// Folds events into a `RunResult`. Works on a complete journal and on one cut anywhere: cases that started
/// but did not end, or never started, become `interrupted`.
public struct RunResultBuilder: Sendable {
    private var header: RunHeader?
    private var results: [String: CaseResult] = [:]
    private var lastEventTime: Date?
    private var ended: (at: Date, interrupted: Bool)?

    /// An empty fold.
    public init() {}

    /// Adds one event.
    public mutating func add(_ event: RunEvent) {
        switch event {
        case .runStarted(let header):
            self.header = header
            planned = Dictionary(header.cases.map { (key($0.id, $0.backend), $0) }) { first, _ in first }
            lastEventTime = header.startedAt
        case .caseSkipped(let id, let backend, let reason):
            var result = emptyResult(id, backend: backend)
            result.status = .skip
            result.reason = reason
            results[key(id, backend)] = result
        case .caseStarted(let id, let backend, let at):
            var result = emptyResult(id, backend: backend)
            result.status = .interrupted
            result.reason = "the run stopped while this case was running"
            results[key(id, backend)] = result
            openKeys[id] = key(id, backend)
            lastEventTime = at
        case .stepEnded(let id, let step, let teardown):
            guard let backendKey = openKeys[id] else { return }
            if teardown { results[backendKey]?.teardown.append(step) } else { results[backendKey]?.steps.append(step) }
        case .caseEnded(let id, let status, let reason, let knownIssue, let duration):
            guard let backendKey = openKeys.removeValue(forKey: id) else { return }
            results[backendKey]?.status = status
            results[backendKey]?.reason = reason
            results[backendKey]?.knownIssue = knownIssue
            results[backendKey]?.durationSeconds = duration
        case .runEnded(let at, let interrupted):
            ended = (at, interrupted)
            lastEventTime = at
        }
    }

    /// The result so far; nil before `runStarted`.
    public func result() -> RunResult? {
        guard let header else { return nil }
        var cases: [CaseResult] = []
        for planned in header.cases {
            if var result = results[key(planned.id, planned.backend)] {
                if result.status == .interrupted && !result.steps.isEmpty {
                    result.durationSeconds = result.steps.reduce(0) { $0 + $1.durationSeconds }
                }
                cases.append(result)
            } else {
                var result = emptyResult(planned.id, backend: planned.backend)
                result.status = .interrupted
                result.reason = "the run stopped before this case started"
                cases.append(result)
            }
        }
        let interrupted = ended?.interrupted ?? true
        return RunResult(
            schemaVersion: RunResult.currentSchemaVersion,
            runID: header.runID,
            plan: header.plan,
            planTitle: header.planTitle,
            release: header.release,
            xentestVersion: header.xentestVersion,
            host: header.host,
            hostConfig: header.hostConfig,
            startedAt: header.startedAt,
            finishedAt: ended?.at ?? lastEventTime ?? header.startedAt,
            interrupted: interrupted,
            summary: RunSummary(cases),
            cases: cases,
            baseline: header.baseline.map { BaselineComparison(baseline: $0, cases: cases) }
        )
    }

    /// The cases that started and have not ended, by id: one at a time, or several under `run --jobs` (a case
    /// runs on one backend at a time).
    private var openKeys: [String: String] = [:]
    /// The header's cases by key, so each event is folded in constant time.
    private var planned: [String: RunHeader.PlannedCase] = [:]

    /// The case `id` when it has started and not ended.
    public func openCase(_ id: String) -> CaseResult? { openKeys[id].flatMap { results[$0] } }

    /// One case's result so far, without folding the whole run.
    public func caseResult(_ id: String, backend: BackendKind) -> CaseResult? { results[key(id, backend)] }

    private func key(_ id: String, _ backend: BackendKind) -> String { backend.rawValue + "/" + id }

    private func emptyResult(_ id: String, backend: BackendKind) -> CaseResult {
        let planned = planned[key(id, backend)]
        return CaseResult(
            id: id,
            title: planned?.title ?? id,
            area: planned?.area ?? "",
            backend: backend,
            status: .interrupted,
            reason: nil,
            knownIssue: nil,
            durationSeconds: 0,
            steps: [],
            teardown: []
        )
    }
}
