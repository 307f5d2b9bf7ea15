import Foundation

/// How a case (or step) ended.
public enum CaseStatus: String, Sendable, Hashable, Codable, CaseIterable {
    case pass, fail, error, skip, xfail, xpass, timeout, interrupted

    /// Whether this status makes the run's exit status 1.
    public var isFailure: Bool {
        switch self {
        case .fail, .error, .timeout, .xpass: true
        case .pass, .skip, .xfail, .interrupted: false
        }
    }
}

/// One thing the harness did to the system, kept as evidence: an API call or a command with its outcome.
public struct Evidence: Sendable, Hashable, Codable {
    /// `api` (a libvirt call), `command` (a program run), or `console` (in-guest).
    public var kind: String
    /// What was called: `virDomainSetVcpusFlags` or the program.
    public var call: String
    /// Its arguments, as values.
    public var arguments: [String]
    /// Exit status of a command; 0 or -1 for an API call that succeeded or failed.
    public var status: Int
    /// What it returned or printed.
    public var output: String
    /// Its error text, if any.
    public var error: String
    /// How long it took.
    public var durationSeconds: Double

    /// Evidence of one call.
    public init(
        kind: String,
        call: String,
        arguments: [String],
        status: Int,
        output: String = "",
        error: String = "",
        durationSeconds: Double
    ) {
        self.kind = kind
        self.call = call
        self.arguments = arguments
        self.status = status
        self.output = output
        self.error = error
        self.durationSeconds = durationSeconds
    }
}

/// How one step ended, with what it did.
public struct StepResult: Sendable, Hashable, Codable {
    /// 0-based position in the case; teardown steps are numbered after the case's steps.
    public var index: Int
    /// `vcpu-set 2`, or `teardown: destroy xentest-...`.
    public var label: String
    /// What was expected, in words.
    public var expected: String
    public var status: CaseStatus
    /// Why it failed, errored or timed out.
    public var message: String?
    public var durationSeconds: Double
    /// How many times it was tried (more than 1 with retry-for).
    public var attempts: Int
    public var evidence: [Evidence]
}

/// How one case ended on one backend.
public struct CaseResult: Sendable, Hashable, Codable {
    public var id: String
    public var title: String
    public var area: String
    public var backend: String
    public var status: CaseStatus
    /// Required for skip, error, timeout, xfail and interrupted; the failing step's message for fail.
    public var reason: String?
    /// The known issue that applied, if any.
    public var knownIssue: String?
    public var durationSeconds: Double
    public var steps: [StepResult]
    /// Teardown of what the case created, in the order it ran.
    public var teardown: [StepResult]
}

/// Counts of cases per status.
public struct RunSummary: Sendable, Hashable, Codable {
    public var total: Int
    public var pass: Int
    public var fail: Int
    public var error: Int
    public var skip: Int
    public var xfail: Int
    public var xpass: Int
    public var timeout: Int
    public var interrupted: Int

    /// Counts the statuses of `cases`.
    public init(_ cases: [CaseResult]) {
        func count(_ status: CaseStatus) -> Int { cases.filter { $0.status == status }.count }
        total = cases.count
        pass = count(.pass)
        fail = count(.fail)
        error = count(.error)
        skip = count(.skip)
        xfail = count(.xfail)
        xpass = count(.xpass)
        timeout = count(.timeout)
        interrupted = count(.interrupted)
    }

    /// The count for one status.
    public func count(of status: CaseStatus) -> Int {
        switch status {
        case .pass: pass
        case .fail: fail
        case .error: error
        case .skip: skip
        case .xfail: xfail
        case .xpass: xpass
        case .timeout: timeout
        case .interrupted: interrupted
        }
    }
}

/// A finished (or interrupted) run: what reports are rendered from. Versioned: see `schemas/report.schema.json`.
public struct RunResult: Sendable, Hashable, Codable {
    /// The version of this format; bumped on incompatible changes.
    public static let currentSchemaVersion = 1

    public var schemaVersion: Int
    public var runID: String
    /// The plan's name (`rc6`).
    public var plan: String
    public var planTitle: String
    public var release: String
    public var xentestVersion: String
    public var host: HostFacts
    /// The host file used.
    public var hostConfig: String
    public var startedAt: Date
    public var finishedAt: Date
    /// True when the run was stopped (Ctrl-C, SIGTERM, or a crash rebuilt from the journal).
    public var interrupted: Bool
    public var summary: RunSummary
    public var cases: [CaseResult]

    /// The exit status the run earns: 130 interrupted, 1 any failure, else 0.
    public var exitStatus: Int32 {
        if interrupted { return 130 }
        return cases.contains { $0.status.isFailure } ? 1 : 0
    }
}
