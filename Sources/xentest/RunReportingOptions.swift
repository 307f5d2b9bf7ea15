import ArgumentParser
import Logging
import XentestPlan
import XentestReport
import XentestRun
import XentestSupport

/// The options every command that runs a plan shares (`xentest run`, `xentest lab run`): which cases, where the
/// results go, which extra reports, the run's time limit, the baseline, and logging.
struct RunReportingOptions: ParsableArguments {
    @Option(help: "Run only cases with this id or area (repeatable).") var only: [String] = []

    @Option(help: "Where run directories are created.", completion: .directory) var results = "results"

    @Option(help: "Also write a report: FORMAT:PATH with FORMAT \(ReportFormat.names) (repeatable).") var report:
        [String] = []

    @Option(help: "A time limit for the whole run (30m, 2h); cases not started by then are timeouts.") var timeout:
        String?

    @Option(
        help: ArgumentHelp(
            "Measure the run against an earlier one: its directory, journal.jsonl or report.json.",
            discussion: "The reports list each case's change (regression, fixed, still-failing, new, not-tried), and "
                + "a failure that also failed in the baseline no longer makes the exit status 1."
        )
    ) var baseline: String?

    @Option(
        name: .shortAndLong,
        help: ArgumentHelp(
            "Run up to N cases at once (default 1).",
            discussion: "Cases start in plan order, each when what it holds is free: a PCI device by role, the guest "
                + "addresses on the bridge, memory and CPUs within the host's, the host to itself for a case marked "
                + "exclusive. The host-health check then judges the cases that ran together at once. --dry-run "
                + "shows what each case holds."
        )
    ) var jobs = 1

    @Option(help: "Then send the run to this results server (see `xentest submit`; token in XENTEST_TOKEN).")
    var submit: String?

    @Option(help: "With --submit: a file holding your token (else XENTEST_TOKEN).", completion: .file()) var tokenFile:
        String?

    @Flag(name: .shortAndLong, help: "Log debug details to stderr.") var verbose = false

    /// Where to send the run, checked (URL, token) before anything runs; nil without --submit.
    func uploader() throws -> RunUploader? {
        try submit.map { try SubmitTarget(server: $0, tokenFile: tokenFile).uploader() }
    }

    func validate() throws {
        _ = try reports()
        _ = try uploader()
        guard (1...64).contains(jobs) else { throw ValidationError("--jobs takes a number from 1 to 64") }
        if let timeout, PlanDuration(parsing: timeout) == nil {
            throw ValidationError("--timeout '\(timeout)' is not a duration such as 30m or 2h")
        }
    }

    /// `--report` values as formats and paths.
    func reports() throws -> [(ReportFormat, String)] {
        try report.map { value in
            let parts = value.split(separator: ":", maxSplits: 1).map(String.init)
            guard parts.count == 2, let format = ReportFormat(rawValue: parts[0]), !parts[1].isEmpty else {
                throw ValidationError("--report '\(value)' must be FORMAT:PATH with FORMAT \(ReportFormat.names)")
            }
            return (format, parts[1])
        }
    }

    /// Run options for `plan` with these settings; the caller adds its backend choices.
    func runOptions(plan: String) throws -> RunOptions {
        RunOptions(
            plan: plan,
            only: only,
            resultsRoot: results,
            runTimeout: timeout.flatMap { PlanDuration(parsing: $0) },
            baselinePath: baseline,
            jobs: jobs
        )
    }

    /// A logger at debug level with `--verbose`, warnings otherwise.
    var logger: Logger {
        var logger = Logger(label: "xentest")
        logger.logLevel = verbose ? .debug : .warning
        return logger
    }
}
