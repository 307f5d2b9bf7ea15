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
    /// How it ended: pass, fail, error, timeout or interrupted.
    public var status: CaseStatus
    /// Why it failed, errored or timed out.
    public var message: String?
    /// Seconds from its first attempt's start to its end, retries included.
    public var durationSeconds: Double
    /// How many times it was tried (more than 1 with retry-for).
    public var attempts: Int
    /// The commands and calls it made, with their results, over all its attempts.
    public var evidence: [Evidence]
}

/// How one case ended on one backend.
public struct CaseResult: Sendable, Hashable, Codable {
    /// The case's id.
    public var id: String
    /// The case's title.
    public var title: String
    /// The case's area.
    public var area: String
    /// The toolstack it ran on.
    public var backend: BackendKind
    /// How it ended; `interrupted` when the run stopped before it ended.
    public var status: CaseStatus
    /// Required for skip, error, timeout, xfail and interrupted; the failing step's message for fail.
    public var reason: String?
    /// The known issue that applied, if any.
    public var knownIssue: String?
    /// Seconds from its start to its end, teardown included; 0 for a case that never ran, and for a case the run
    /// stopped in, the sum of its steps'.
    public var durationSeconds: Double
    /// Its steps that ran, in order: all of them, or those up to the first that did not pass.
    public var steps: [StepResult]
    /// Teardown of what the case created, in the order it ran.
    public var teardown: [StepResult]
}

/// Counts of cases per status.
public struct RunSummary: Sendable, Hashable, Codable {
    /// All cases.
    public var total: Int
    /// Cases that passed.
    public var pass: Int
    /// Cases whose expectations were not met.
    public var fail: Int
    /// Cases where the harness, the toolstack or the environment broke.
    public var error: Int
    /// Cases skipped before anything was created.
    public var skip: Int
    /// Cases that failed as a known issue says.
    public var xfail: Int
    /// Cases that passed though a known issue says they fail.
    public var xpass: Int
    /// Cases that ran out of time.
    public var timeout: Int
    /// Cases the run stopped in or before.
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

    /// The format version it was written in: `currentSchemaVersion` for a result this build made.
    public var schemaVersion: Int
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
    /// The host file used.
    public var hostConfig: String
    /// When the run started.
    public var startedAt: Date
    /// When it ended; for a journal cut short, the time of its last event.
    public var finishedAt: Date
    /// True when the run was stopped (Ctrl-C, SIGTERM, or a crash rebuilt from the journal).
    public var interrupted: Bool
    /// The counts of `cases` by status.
    public var summary: RunSummary
    /// Every planned case on its backend, in plan order, also those skipped or never started.
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

    /// Whether the run tested nothing: it had cases and every one was skipped (this host lacks what they need).
    public var nothingTested: Bool { !cases.isEmpty && cases.allSatisfy { $0.status == .skip } }

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
        var file = path
        if isDirectory.boolValue {
            // A run directory has its journal; one copied without it may still have its report.
            let candidates = [path + "/journal.jsonl", path + "/report.json"]
            guard let found = candidates.first(where: { FileManager.default.fileExists(atPath: $0) }) else {
                throw RunReadError(path: path, message: "no journal.jsonl or report.json here: not a run directory")
            }
            file = found
        }
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
    /// The file or folder that could not be read.
    public var path: String
    /// What is wrong with it.
    public var message: String
    /// `PATH: MESSAGE`.
    public var description: String { "\(path): \(message)" }
}
