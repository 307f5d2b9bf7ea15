import ArgumentParser
import Foundation
import Logging
import XentestCore

struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run a plan on this host through xl or libvirt and write the reports.",
        discussion: """
            Examples:
              xentest run rc6 --connect test:///default            libvirt's simulated host (no Xen needed)
              xentest run rc6 --host-config host.yaml               on a Xen host, through xl
              xentest run rc6 --host ssh://root@xen1 --host-config host.yaml   xl on another machine
              xentest run smoke --connect test:///default --report junit:out.xml --only cpu-hotplug
              xentest run rc6 --dry-run --connect test:///default   what would run and be skipped, and why

            Exit status: 0 nothing failed; 1 a case failed, errored, timed out or passed unexpectedly;
            2 a plan, usage or backend problem (nothing was started); 130 interrupted (teardown done,
            partial report written).
            """
    )

    @Argument(help: "A plan name (rc6) or path.")
    var plan: String

    @Option(help: "The toolstack: xl or libvirt. Default: xl on a Xen host.")
    var backend: BackendKind?

    @Option(help: "A libvirt URI (implies --backend libvirt): xen:///system, qemu:///system, test:///default.")
    var connect: String?

    @Option(help: "Run xl on this Xen host over SSH: ssh://root@HOST[:PORT] (a key, no password).")
    var host: String?

    @Option(name: .customLong("host-config"), help: "The host file: PCI devices by role, bridge, test guest.")
    var hostConfig: String?

    @Option(help: "Run only cases with this id or area (repeatable).")
    var only: [String] = []

    @Option(help: "Where run directories are created.")
    var results = "results"

    @Option(help: "Also write a report: FORMAT:PATH with FORMAT json, junit, markdown or tap (repeatable).")
    var report: [String] = []

    @Flag(name: .customLong("dry-run"), help: "Print what would run and be skipped, and why; create nothing.")
    var dryRun = false

    @Option(help: "A time limit for the whole run (30m, 2h); cases not started by then are timeouts.")
    var timeout: String?

    @Flag(name: .shortAndLong, help: "Log debug details to stderr.")
    var verbose = false

    func validate() throws {
        if backend == .xl, connect != nil {
            throw ValidationError("--connect names a libvirt URI; it cannot be used with --backend xl")
        }
        if let host {
            guard SSHCommandRunner(url: host) != nil else {
                throw ValidationError("--host '\(host)' must be ssh://[USER@]HOST[:PORT]")
            }
            if connect != nil || backend == .libvirt {
                throw ValidationError("--host runs xl over SSH; for libvirt name the remote URI with --connect")
            }
        }
        _ = try parsedReports()
        if let timeout, parseDuration(timeout) == nil {
            throw ValidationError("--timeout '\(timeout)' is not a duration such as 30m or 2h")
        }
    }

    func parsedReports() throws -> [(ReportFormat, String)] {
        try report.map { value in
            let parts = value.split(separator: ":", maxSplits: 1).map(String.init)
            guard parts.count == 2, let format = ReportFormat(rawValue: parts[0]), !parts[1].isEmpty else {
                throw ValidationError("--report '\(value)' must be FORMAT:PATH with FORMAT json, junit, markdown or tap")
            }
            return (format, parts[1])
        }
    }

    func run() async throws {
        var logger = Logger(label: "xentest")
        logger.logLevel = verbose ? .debug : .warning
        let options = RunOptions(
            plan: plan,
            backend: backend,
            connect: connect,
            hostConfigPath: hostConfig,
            only: only,
            resultsRoot: results,
            reports: try parsedReports(),
            dryRun: dryRun,
            runTimeout: timeout.flatMap(parseDuration),
            xlRunner: host.flatMap(SSHCommandRunner.init(url:))
        )
        let status = await RunJob.execute(options, logger: logger)
        if status != 0 { throw ExitCode(status) }
    }
}

extension BackendKind: ExpressibleByArgument {}
