import ArgumentParser
import Foundation
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

    @Option(
        help: ArgumentHelp(
            "Run xl on this Xen host over SSH: ssh://root@HOST[:PORT] (a key, no password).",
            discussion: "With --connect to a remote libvirt URI, the same host's shell reads what libvirt does not "
                + "report (bridges, kernel, Xen's IOMMU) and pings the guests."
        )
    )
    var host: String?

    @Option(name: .customLong("host-config"), help: "The host file: PCI devices by role, bridge, test guest.")
    var hostConfig: String?

    @Flag(name: .customLong("dry-run"), help: "Print what would run and be skipped, and why; create nothing.")
    var dryRun = false

    @OptionGroup var reporting: RunReportingOptions

    func validate() throws {
        if backend == .xl, connect != nil {
            throw ValidationError("--connect names a libvirt URI; it cannot be used with --backend xl")
        }
        if let host {
            guard SSHCommandRunner(url: host) != nil else {
                throw ValidationError("--host '\(host)' must be ssh://[USER@]HOST[:PORT]")
            }
            if connect == nil && backend == .libvirt {
                throw ValidationError("--host with --backend libvirt needs the remote libvirt URI: --connect xen+ssh://HOST/system")
            }
        }
    }

    func run() async throws {
        var options = try reporting.runOptions(plan: plan)
        options.backend = backend
        options.connect = connect
        options.hostConfigPath = hostConfig
        options.dryRun = dryRun
        options.hostShell = host.flatMap(SSHCommandRunner.init(url:))
        let status = await RunJob.execute(options, logger: reporting.logger)
        if status != 0 { throw ExitCode(status) }
    }
}

extension BackendKind: ExpressibleByArgument {}
