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
    /// The run's id, part of every guest's name (`xentest-<run-id>-<case>`).
    public var runID: String
    /// The plan's name (`rc6`).
    public var plan: String
    /// The plan's title.
    public var planTitle: String
    /// The release under test, as the plan writes it (`4.3.0-rc6`).
    public var release: String
    /// The version of xentest that ran it.
    public var xentestVersion: String
    /// The host's facts, collected before any case.
    public var host: HostFacts
    /// Where the host file came from: its path, or which built-in one (`HostConfig.source`).
    public var hostConfig: String
    /// When the run started.
    public var startedAt: Date
    /// Every case x backend in plan order, with its title and area, so a fold knows cases that never started.
    public var cases: [PlannedCase]
    /// The earlier run this one is measured against (`--baseline`).
    public var baseline: BaselineRun? = nil

    /// A case as planned for this run.
    public struct PlannedCase: Sendable, Hashable, Codable {
        /// The case's id.
        public var id: String
        /// The case's title.
        public var title: String
        /// The case's area.
        public var area: String
        /// The toolstack it is to run on.
        public var backend: BackendKind
    }
}
