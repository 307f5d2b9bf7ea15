import Foundation
import Synchronization
import Logging

/// What `xentest run` was asked to do.
public struct RunOptions: Sendable {
    public var plan: String
    public var backend: BackendKind?
    public var connect: String?
    public var hostConfigPath: String?
    public var only: [String]
    public var resultsRoot: String
    public var reports: [(ReportFormat, String)]
    public var dryRun: Bool
    public var runTimeout: PlanDuration?
    /// An earlier run to measure this one against (`--baseline`): its directory, journal or report.json.
    public var baselinePath: String?
    /// A shell on the Xen host over SSH (`--host`; `xentest lab` passes its own): where the xl backend runs its
    /// commands, and where the libvirt backend of a remote URI reads what libvirt does not report and pings from.
    public var hostShell: (any CommandRunner)?

    public init(
        plan: String,
        backend: BackendKind? = nil,
        connect: String? = nil,
        hostConfigPath: String? = nil,
        only: [String] = [],
        resultsRoot: String = "results",
        reports: [(ReportFormat, String)] = [],
        dryRun: Bool = false,
        runTimeout: PlanDuration? = nil,
        baselinePath: String? = nil,
        hostShell: (any CommandRunner)? = nil
    ) {
        self.plan = plan
        self.backend = backend
        self.connect = connect
        self.hostConfigPath = hostConfigPath
        self.only = only
        self.resultsRoot = resultsRoot
        self.reports = reports
        self.dryRun = dryRun
        self.runTimeout = runTimeout
        self.baselinePath = baselinePath
        self.hostShell = hostShell
    }
}

/// `xentest run`: load, resolve, run, report. Returns the exit status; writes progress and problems to stderr and
/// only what was asked for (the dry-run listing) to stdout.
public enum RunJob {
    /// Runs the whole job; cancel the calling task to interrupt (teardown still runs, the partial report is written).
    public static func execute(_ options: RunOptions, logger: Logger) async -> Int32 {
        let plan: Plan
        do {
            let loaded = try PlanLoader().load(nameOrPath: options.plan)
            printError(loaded.warnings.map(\.description))
            plan = loaded.plan
        } catch {
            printError(error.diagnostics.map(\.description))
            return 2
        }
        var baseline: BaselineRun?
        if let path = options.baselinePath {
            do {
                baseline = try BaselineRun.load(run: path)
            } catch {
                printError(["error: cannot read the baseline \(error)"])
                return 2
            }
        }
        guard let (backend, host) = backendAndHost(options) else { return 2 }
        let facts: HostFacts
        let runPlan: RunPlan
        do {
            facts = try await backend.collectFacts(host: host)
            runPlan = try RunPlanner.resolve(plan, only: options.only, backend: backend, facts: facts, host: host)
        } catch let error as DiagnosticsError {
            printError(error.diagnostics.map(\.description))
            return 2
        } catch {
            printError(["error: cannot collect the host's facts through \(backend.kind.rawValue): \(error)"])
            return 2
        }
        let runID = makeRunID()
        let runner = Runner(
            backend: backend,
            host: host,
            facts: facts,
            runID: runID,
            casesDirectory: "",
            runTimeout: options.runTimeout,
            logger: logger,
            emit: { _ in }
        )
        if options.dryRun {
            print(dryRunListing(runPlan, runner: runner, facts: facts, host: host), terminator: "")
            return 0
        }
        if let leftovers = try? await backend.leftovers(), !leftovers.isEmpty {
            printError([
                "warning: \(leftovers.count) object(s) left by earlier runs: \(leftovers.joined(separator: ", ")); "
                    + "remove them with `xentest clean`"
            ])
        }
        let results: ResultsDirectory
        do {
            results = try ResultsDirectory(root: options.resultsRoot, plan: plan.name, host: facts.hostname, at: Date())
        } catch {
            printError(["error: cannot create the results directory under \(options.resultsRoot): \(error)"])
            return 2
        }
        let progress = ConsoleProgress()
        var live = runner
        live.baseline = baseline
        live.casesDirectory = results.casesPath
        live.emit = { event in
            results.record(event)
            progress.record(event)
        }
        let job = live
        // Signals are handled from before the run starts: a Ctrl-C in its first moments must not be lost.
        let control = RunControl()
        let interrupts = Interrupts { _ in control.cancel() }
        let task = Task { await job.run(runPlan) }
        control.attach(task)
        _ = await task.value
        withExtendedLifetime(interrupts) {}
        // Reports come from the journal, as `xentest report` makes them, so both give the same bytes.
        guard let result = (try? Journal.result(path: results.journal.path)) ?? results.result() else {
            printError(["error: the run recorded nothing; see \(results.journal.path)"])
            return 2
        }
        do {
            try results.writeReports(result, extra: options.reports)
        } catch {
            printError(["error: cannot write reports: \(error)"])
        }
        printError(results.problems.map { "warning: \($0)" })
        let counts = CaseStatus.allCases.filter { result.summary.count(of: $0) > 0 }
            .map { "\(result.summary.count(of: $0)) \($0.rawValue)" }
        if let comparison = result.baseline {
            printError([
                "since the baseline (run \(comparison.runID) of \(comparison.plan), \(comparison.ranOn)): "
                    + comparison.changeCounts
                    + (comparison.blocking.isEmpty ? "" : "; failing the run: " + comparison.blocking.map(\.id).joined(separator: ", "))
            ])
        }
        printError([
            "\(counts.joined(separator: ", ")) in \(String(format: "%.2fs", result.finishedAt.timeIntervalSince(result.startedAt)))",
            "results: \(results.path) (summary.md to paste into the TestDay thread)",
        ])
        return result.exitStatus
    }

    /// The backend and the host file the options name (the built-in one on libvirt's test driver); nil after
    /// printing why not.
    static func backendAndHost(_ options: RunOptions) -> (any Backend, HostConfig)? {
        let backend: any Backend
        do {
            backend = try makeBackend(options)
        } catch {
            printError(["error: \(error.message)"])
            return nil
        }
        if let path = options.hostConfigPath {
            do {
                return (backend, try HostConfig.load(path: path))
            } catch {
                printError(error.diagnostics.map(\.description))
                return nil
            }
        }
        if backend.driver == LibvirtDialect.test.rawValue { return (backend, .testDriverDefault) }
        return (backend, .empty(source: "none (without --host-config, cases that need a device, bridge or test guest are skipped)"))
    }

    /// `xentest facts`: the host's facts as a run would collect them and every report carries, as text or JSON on
    /// stdout. Exit status 0, or 2 when the backend cannot be reached or asked.
    public static func facts(_ options: RunOptions, json: Bool) async -> Int32 {
        guard let (backend, host) = backendAndHost(options) else { return 2 }
        do {
            let facts = try await backend.collectFacts(host: host)
            print(json ? HostFactsRenderer.json(facts) : HostFactsRenderer.text(facts), terminator: "")
            return 0
        } catch {
            printError(["error: cannot collect the host's facts through \(backend.kind.rawValue): \(error)"])
            return 2
        }
    }

    /// Picks the backend from the options and the host: xl where Xen is, libvirt when a URI is named.
    static func makeBackend(_ options: RunOptions) throws(BackendUnavailable) -> any Backend {
        let xenHere = XenHost.isPresent
        if let uri = options.connect { return try LibvirtBackend(uri: uri, hostShell: options.hostShell) }
        switch options.backend {
        case .libvirt:
            guard xenHere else {
                throw BackendUnavailable(
                    "no Xen hypervisor here for libvirt's xen:///system; name a URI with --connect "
                        + "(test:///default for libvirt's simulated host, qemu:///system for QEMU)"
                )
            }
            return try LibvirtBackend(uri: "xen:///system")
        case .xl, nil:
            if let runner = options.hostShell { return XLBackend(runner: runner) }
            guard xenHere else {
                // `xentest facts` has no plan.
                let lab = options.plan.isEmpty ? "xentest lab up" : "xentest lab run \(options.plan)"
                let here = options.plan.isEmpty ? "xentest facts" : "xentest run \(options.plan)"
                throw BackendUnavailable(
                    "no Xen host detected (no /proc/xen/capabilities). Run on a Xen host's dom0, name one with "
                        + "--host ssh://root@HOST, boot one with `\(lab)`, or try xentest on libvirt's simulated host: "
                        + "\(here) --connect test:///default"
                )
            }
            return XLBackend(runner: LocalCommandRunner(), readsLibxl: true)
        }
    }

    /// What would run and what would be skipped, and why; nothing is created.
    static func dryRunListing(_ runPlan: RunPlan, runner: Runner, facts: HostFacts, host: HostConfig) -> String {
        var lines = [
            "Plan \(runPlan.plan.name) (\(runPlan.plan.release)) on \(facts.toolstack)"
                + (facts.libvirtURI.map { " (\($0))" } ?? "") + "; host file: \(host.source)"
        ]
        var toRun = 0
        for entry in runPlan.entries {
            switch entry.decision {
            case .run:
                toRun += 1
                let guest = entry.testCase.guest.map { _ in "  guest \(runner.domainName(for: entry.testCase))" } ?? ""
                lines.append("run   \(entry.testCase.id)\(guest)")
                for step in entry.testCase.steps {
                    lines.append("        \(step.action.label): expect \(step.expectation)")
                }
            case .skip(let reasons):
                lines.append("skip  \(entry.testCase.id): \(reasons.joined(separator: "; "))")
            }
        }
        lines.append("\(toRun) to run, \(runPlan.entries.count - toRun) to skip. Dry run: nothing was created.")
        return lines.joined(separator: "\n") + "\n"
    }

    static func makeRunID() -> String {
        String((0..<6).map { _ in "0123456789abcdef".randomElement()! })
    }

    static func printError(_ lines: [String]) {
        guard !lines.isEmpty else { return }
        FileHandle.standardError.write(Data((lines.joined(separator: "\n") + "\n").utf8))
    }
}

/// Whether this machine is a Xen host (dom0).
public enum XenHost {
    /// True where Xen's privileged interfaces exist.
    public static var isPresent: Bool {
        FileManager.default.fileExists(atPath: "/proc/xen/capabilities")
            || FileManager.default.fileExists(atPath: "/dev/xen/privcmd")
    }
}

/// Cancels the run's task, also when the cancel comes before the task exists.
final class RunControl: Sendable {
    private let state = Mutex<(task: Task<Bool, Never>?, cancelled: Bool)>((nil, false))

    func attach(_ task: Task<Bool, Never>) {
        let cancelNow = state.withLock { state -> Bool in
            state.task = task
            return state.cancelled
        }
        if cancelNow { task.cancel() }
    }

    func cancel() {
        let task = state.withLock { state -> Task<Bool, Never>? in
            state.cancelled = true
            return state.task
        }
        task?.cancel()
    }
}
