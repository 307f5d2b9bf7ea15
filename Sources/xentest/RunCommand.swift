import ArgumentParser
import Foundation
import XentestRun

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

            Results go to results/<plan>-<UTC time>-<host>/ in the current folder (--results DIR to change): \
            summary.md to paste into the TestDay thread, report.html to open in a browser, report.json, junit.xml, \
            journal.jsonl, each case's evidence.

            Exit status: 0 nothing failed; 1 a case failed, errored, timed out or passed unexpectedly;
            2 a plan, usage or backend problem (nothing was started); 130 interrupted (teardown done,
            partial report written).
            """
    )

    @Argument(help: "A plan name (rc6) or path.", completion: Completions.plan) var plan: String

    @OptionGroup var target: BackendOptions

    @Flag(name: .customLong("dry-run"), help: "Print what would run and be skipped, and why; create nothing.")
    var dryRun = false

    @OptionGroup var reporting: RunReportingOptions

    func run() async throws {
        var options = try reporting.runOptions(plan: plan)
        options.hostConfigPath = target.hostConfig
        try await PlanRun(
            options: options,
            selection: target.selection(),
            reports: try reporting.reports(),
            dryRun: dryRun,
            logger: reporting.logger,
            uploader: try reporting.uploader()
        )
        .execute()
    }
}
