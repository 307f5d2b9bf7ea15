import Foundation
import XentestPlan
import XentestSupport

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

    /// What the status says about the case when runs are compared: nil when the run did not try it. xfail counts
    /// as failed and xpass as worked, as the case itself did; a skip is no verdict.
    public var outcome: CaseOutcome? {
        switch self {
        case .pass, .xpass: .worked
        case .fail, .xfail: .failed
        case .error, .timeout: .broke
        case .skip, .interrupted: nil
        }
    }
}

/// Whether a case that was tried worked, failed its expectations, or broke (error, timeout).
public enum CaseOutcome: String, Sendable, Hashable, Codable { case worked, failed, broke }

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
    public var backend: BackendKind
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
    /// Each case against the earlier run named with `--baseline`; nil without one.
    public var baseline: BaselineComparison? = nil

    /// The exit status the run earns: 130 interrupted; 1 when a case failed, errored, timed out or passed
    /// unexpectedly (with a baseline: and did not fail or break there too); else 0.
    public var exitStatus: XentestExitStatus {
        if interrupted { return .interrupted }
        if let baseline { return baseline.blocking.isEmpty ? .success : .failed }
        return cases.contains { $0.status.isFailure } ? .failed : .success
    }

    /// `xl (Xen 4.17.7) on xentest-lab`, `libvirt qemu:///system`, `libvirt xen+ssh (Xen 4.17.7) on xentest-lab`:
    /// the toolstack and host, naming a remote URI by scheme (its port and options change from run to run).
    public var toolstackAndHost: String {
        if let uri = host.libvirtURI {
            guard !HostFacts.isLocalLibvirtURI(uri) else { return "libvirt \(uri)" }
            let version = host.xenVersion.map { " (Xen \($0))" } ?? ""
            return "libvirt \(uri.prefix { $0 != ":" })\(version) on \(host.hostname)"
        }
        return host.toolstack + " on \(host.hostname)"
    }

    /// Reads a finished (or cut-off) run: its directory, its `journal.jsonl`, or its `report.json`.
    public static func load(run path: String) throws(RunReadError) -> RunResult {
        var isDirectory: ObjCBool = false
        let exists = FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory)
        guard exists else { throw RunReadError(path: path, message: "no such file or directory") }
        let file = isDirectory.boolValue ? path + "/journal.jsonl" : path
        do {
            if file.hasSuffix(".json") {
                return try JSONCoders.makeDecoder()
                    .decode(RunResult.self, from: Data(contentsOf: URL(fileURLWithPath: file)))
            }
            guard let result = try Journal.result(path: file) else {
                throw RunReadError(path: file, message: "holds no run")
            }
            return result
        } catch let error as RunReadError { throw error } catch let error as JournalError {
            throw RunReadError(path: file, message: error.message + " (line \(error.line))")
        } catch { throw RunReadError(path: file, message: "not a run's journal or report.json: \(error)") }
    }
}

/// A run that could not be read back.
public struct RunReadError: Error, CustomStringConvertible {
    public var path: String
    public var message: String
    public var description: String { "\(path): \(message)" }
}
