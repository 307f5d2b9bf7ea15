import Foundation
import XentestPlan
import XentestSupport

/// What happens during a run, in order. The runner only emits these; the journal, the progress lines and the
/// result are all built from them.
public enum RunEvent: Sendable, Hashable, Codable {
    /// The run began; everything a report needs about the run and host.
    case runStarted(RunHeader)
    /// A case was resolved to skip before anything was created.
    case caseSkipped(caseID: String, backend: BackendKind, reason: String)
    /// A case began.
    case caseStarted(caseID: String, backend: BackendKind, at: Date)
    /// A step (or a teardown step) ended.
    case stepEnded(caseID: String, step: StepResult, teardown: Bool)
    /// A case ended.
    case caseEnded(caseID: String, status: CaseStatus, reason: String?, knownIssue: String?, durationSeconds: Double)
    /// The run ended; `interrupted` after Ctrl-C or SIGTERM.
    case runEnded(at: Date, interrupted: Bool)
}

/// The facts fixed at a run's start.
public struct RunHeader: Sendable, Hashable, Codable {
    public var runID: String
    public var plan: String
    public var planTitle: String
    public var release: String
    public var xentestVersion: String
    public var host: HostFacts
    public var hostConfig: String
    public var startedAt: Date
    /// Every case x backend in plan order, with its title and area, so a fold knows cases that never started.
    public var cases: [PlannedCase]
    /// The earlier run this one is measured against (`--baseline`).
    public var baseline: BaselineRun? = nil

    /// A case as planned for this run.
    public struct PlannedCase: Sendable, Hashable, Codable {
        public var id: String
        public var title: String
        public var area: String
        public var backend: BackendKind
    }
}
