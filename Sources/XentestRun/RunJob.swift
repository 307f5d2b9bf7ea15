import Foundation
import Logging
import XentestPlan
import XentestSupport

/// What `xentest run` was asked to do, apart from the backend (which the caller makes and hands in).
public struct RunOptions: Sendable {
    /// A plan name (`rc6`) or path.
    public var plan: String
    /// The host file, or nil for none (libvirt's test driver then gets its built-in one).
    public var hostConfigPath: String?
    /// Run only cases with these ids or areas.
    public var only: [String]
    /// Where run directories are created.
    public var resultsRoot: String
    /// A limit for the whole run.
    public var runTimeout: PlanDuration?
    /// An earlier run to measure this one against (`--baseline`): its directory, journal or report.json.
    public var baselinePath: String?
    /// How many cases may run at once (`--jobs`).
    public var jobs: Int

    /// Options for `plan`; every other choice has its default.
    public init(
        plan: String,
        hostConfigPath: String? = nil,
        only: [String] = [],
        resultsRoot: String = "results",
        runTimeout: PlanDuration? = nil,
        baselinePath: String? = nil,
        jobs: Int = 1
    ) {
        self.plan = plan
        self.hostConfigPath = hostConfigPath
        self.only = only
        self.resultsRoot = resultsRoot
        self.runTimeout = runTimeout
        self.baselinePath = baselinePath
        self.jobs = jobs
    }
}

/// A run that could not start: every problem, compiler-style, and nothing was created.
public struct RunNotStarted: Error, CustomStringConvertible {
    /// The problems, one a line (`file:line:col: error: ...` for plans and host files).
    public var lines: [String]

    /// A run that could not start for these reasons.
    public init(_ lines: [String]) { self.lines = lines }

    /// The exit status it earns: a plan, usage or backend problem.
    public var status: XentestExitStatus { .unusable }

    /// The problems, one a line.
    public var description: String { lines.joined(separator: "\n") }
}

/// A plan resolved against a host: what will run and what is skipped, with nothing created yet.
public struct PreparedRun: Sendable {
    /// The loaded plan.
    public var plan: Plan
    /// Each case's decision on this host.
    public var runPlan: RunPlan
    /// The host's facts, as every report carries them.
    public var facts: HostFacts
    /// The host file in force.
    public var host: HostConfig
    /// The runner, with the run's id; it records nowhere until `RunJob.run` gives it a journal.
    public var runner: Runner
}

/// A plan and the baseline it is measured against, loaded and checked; no host asked yet.
public struct LoadedRun: Sendable {
    /// The plan.
    public var plan: Plan
    /// The earlier run named with `--baseline`.
    public var baseline: BaselineRun?
    /// The plan's warnings, compiler-style, for the caller to show.
    public var warnings: [String]
}

/// How a run ended: its result (folded from its journal, as `xentest report` folds it), where it is, and its exit
/// status; the caller renders the reports.
public struct RunOutcome: Sendable {
    /// The run's result.
    public var result: RunResult
    /// The run's directory.
    public var directory: ResultsDirectory
    /// The exit status the run earns.
    public var status: XentestExitStatus { result.exitStatus }
}

/// `xentest run`: load, resolve, run. It returns values and prints nothing: the caller shows the warnings, the
/// dry-run listing, progress (through a recorder) and the closing lines, and writes the reports.
public enum RunJob {
    /// Loads the plan and the baseline: every problem in them stops the run before a backend is even asked.
    public static func load(_ options: RunOptions) throws(RunNotStarted) -> LoadedRun {
        let loaded: (plan: Plan, warnings: [Diagnostic])
        do { loaded = try PlanLoader().load(nameOrPath: options.plan) } catch {
            throw RunNotStarted(error.diagnostics.map(\.description))
        }
        var baseline: BaselineRun?
        if let path = options.baselinePath {
            do { baseline = try BaselineRun.load(run: path) } catch {
                throw RunNotStarted(["error: cannot read the baseline \(error)"])
            }
        }
        return LoadedRun(plan: loaded.plan, baseline: baseline, warnings: loaded.warnings.map(\.description))
    }

    /// Reads the host file, collects the host's facts through `backend` and resolves every case of a loaded plan;
    /// nothing is created. Throws every problem that stops the run.
    public static func prepare(_ loaded: LoadedRun, options: RunOptions, backend: any Backend, logger: Logger)
        async throws(RunNotStarted) -> PreparedRun
    {
        let plan = loaded.plan
        let host = try hostConfig(options.hostConfigPath, backend: backend)
        let facts: HostFacts
        let runPlan: RunPlan
        do {
            facts = try await backend.collectFacts(host: host)
            runPlan = try RunPlanner.resolve(plan, only: options.only, backend: backend, facts: facts, host: host)
        } catch let error as DiagnosticsError { throw RunNotStarted(error.diagnostics.map(\.description)) } catch {
            throw RunNotStarted(["error: cannot collect the host's facts through \(backend.kind.rawValue): \(error)"])
        }
        var runner = Runner(
            backend: backend,
            host: host,
            facts: facts,
            runID: makeRunID(),
            casesDirectory: "",
            runTimeout: options.runTimeout,
            logger: logger,
            emit: { _ in }
        )
        runner.baseline = loaded.baseline
        runner.jobs = options.jobs
        return PreparedRun(plan: plan, runPlan: runPlan, facts: facts, host: host, runner: runner)
    }

    /// The host file at `path`, or without one the built-in host of libvirt's test driver (elsewhere: none, and
    /// cases that need a device, bridge or test guest are skipped).
    public static func hostConfig(_ path: String?, backend: any Backend) throws(RunNotStarted) -> HostConfig {
        if let path {
            do { return try HostConfig.load(path: path) } catch {
                throw RunNotStarted(error.diagnostics.map(\.description))
            }
        }
        if backend.driver == .test { return .testDriverDefault }
        return .empty(
            source: "none (without --host-config, cases that need a device, bridge or test guest are skipped)"
        )
    }

    /// Runs a prepared plan into a new run directory under `resultsRoot`, recording every event there (journal and
    /// evidence) and to `progress`. Cancel the calling task to interrupt: teardown still runs, and the outcome is
    /// the partial run. Throws only when the directory cannot be made, or the run recorded nothing.
    public static func run(_ prepared: PreparedRun, resultsRoot: String, progress: any RunRecorder)
        async throws(RunNotStarted) -> RunOutcome
    {
        let results: ResultsDirectory
        do {
            results = try ResultsDirectory(
                root: resultsRoot,
                plan: prepared.plan.name,
                host: prepared.facts.hostname,
                at: Date()
            )
        } catch { throw RunNotStarted(["error: cannot create the results directory under \(resultsRoot): \(error)"]) }
        var runner = prepared.runner
        runner.casesDirectory = results.casesPath
        runner.emit = { event in
            results.record(event)
            progress.record(event)
        }
        await runner.run(prepared.runPlan)
        // The result comes from the journal, as `xentest report` makes it, so both give the same reports.
        guard let result = (try? Journal.result(path: results.journal.path)) ?? results.result() else {
            throw RunNotStarted(["error: the run recorded nothing; see \(results.journal.path)"])
        }
        return RunOutcome(result: result, directory: results)
    }

    static func makeRunID() -> String { String((0..<6).map { _ in "0123456789abcdef".randomElement()! }) }
}

/// Consumes a run's events as they happen: the results directory (journal and evidence) and the console progress.
public protocol RunRecorder: Sendable {
    /// Records one event; called in the run's order, never concurrently for one run.
    func record(_ event: RunEvent)
}

/// Records nothing: a run seen only through its journal.
public struct SilentRecorder: RunRecorder {
    /// A recorder that drops every event.
    public init() {}

    /// Drops the event.
    public func record(_ event: RunEvent) {}
}
