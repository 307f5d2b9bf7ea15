import Foundation
import XentestRun
import XentestSupport

/// Where a finished run's time went, from its journal: the wall time, the time inside the hypervisor's commands
/// and calls, what the transport adds to them, and the time spent waiting between a step's attempts.
struct RunBreakdown {
    var path: String
    var result: RunResult
    /// Seconds from the run's start to its end.
    var wallSeconds: Double
    /// Commands run over SSH or locally (evidence of kind `command`), and their summed time.
    var commands: Int
    var commandSeconds: Double
    /// libvirt API calls and console exchanges, and their summed time.
    var calls: Int
    var callSeconds: Double
    /// Steps that needed more than one attempt, and the time of theirs not inside a command or call: the waits.
    var retriedSteps: Int
    var retryWaitSeconds: Double

    init(runDirectory: String) throws {
        path = runDirectory
        guard let result = try Journal.result(path: runDirectory + "/journal.jsonl") else {
            throw BenchError("\(runDirectory): no run in its journal")
        }
        self.result = result
        wallSeconds = result.finishedAt.timeIntervalSince(result.startedAt)
        let steps = result.cases.flatMap { $0.steps + $0.teardown }
        let evidence = steps.flatMap(\.evidence)
        let commandEvidence = evidence.filter { $0.kind == "command" }
        commands = commandEvidence.count
        commandSeconds = commandEvidence.reduce(0) { $0 + $1.durationSeconds }
        let callEvidence = evidence.filter { $0.kind != "command" }
        calls = callEvidence.count
        callSeconds = callEvidence.reduce(0) { $0 + $1.durationSeconds }
        let retried = steps.filter { $0.attempts > 1 }
        retriedSteps = retried.count
        retryWaitSeconds = retried.reduce(0) { total, step in
            total + max(0, step.durationSeconds - step.evidence.reduce(0) { $0 + $1.durationSeconds })
        }
    }

    /// `xentest-bench breakdown [--per-command-ms MS] RUN_DIR...`: a table of the runs, and how their verdicts differ.
    static func main(_ arguments: ArraySlice<String>) throws {
        var rest = arguments
        var perCommandMilliseconds: Double?
        var directories: [String] = []
        while let argument = rest.popFirst() {
            if argument == "--per-command-ms" {
                perCommandMilliseconds = Double(rest.popFirst() ?? "")
            } else {
                directories.append(argument)
            }
        }
        guard !directories.isEmpty else {
            throw BenchError("usage: xentest-bench breakdown [--per-command-ms MS] RUN_DIR...")
        }
        let runs = try directories.map(RunBreakdown.init(runDirectory:))
        print("| run | cases | wall | in commands | commands | transport (est.) | in API/console | retry waits |")
        print("|---|---|---:|---:|---:|---:|---:|---:|")
        for run in runs {
            let summary = run.result.summary
            let counts =
                "\(summary.pass) pass, \(summary.fail) fail, \(summary.skip) skip, \(summary.xfail) xfail"
                + (summary.error + summary.timeout > 0 ? ", \(summary.error + summary.timeout) error/timeout" : "")
            let transport = perCommandMilliseconds.map { String(format: "%.0f s", Double(run.commands) * $0 / 1000) }
            print(
                String(
                    format: "| %@ | %@ | %.0f s | %.0f s | %d | %@ | %.0f s (%d) | %.0f s (%d steps) |",
                    (run.path as NSString).lastPathComponent,
                    counts,
                    run.wallSeconds,
                    run.commandSeconds,
                    run.commands,
                    transport ?? "-",
                    run.callSeconds,
                    run.calls,
                    run.retryWaitSeconds,
                    run.retriedSteps
                )
            )
        }
        guard let first = runs.first else { return }
        for other in runs.dropFirst() {
            print(
                String(
                    format: "%@ / %@: %.2fx the wall time",
                    other.path,
                    first.path,
                    other.wallSeconds / first.wallSeconds
                )
            )
            let verdicts = Dictionary(uniqueKeysWithValues: first.result.cases.map { ($0.id, $0.status) })
            let differing = other.result.cases.filter { verdicts[$0.id] != $0.status }
            if differing.isEmpty {
                print("  the same verdict for every case")
            } else {
                for testCase in differing {
                    print(
                        "  \(testCase.id): \(verdicts[testCase.id]?.rawValue ?? "absent") -> \(testCase.status.rawValue): "
                            + (testCase.reason ?? "")
                    )
                }
            }
        }
    }
}
