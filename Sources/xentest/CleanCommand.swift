import ArgumentParser
import Foundation
import XentestBackends
import XentestRun
import XentestSupport

struct CleanCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "clean",
        abstract:
            "Remove what earlier runs left behind (domains, networks and files named xentest-*), and nothing else.",
        discussion: "Example: xentest clean --connect qemu:///system --dry-run"
    )

    @Option(help: "A libvirt URI; default: the xl toolstack of this Xen host.") var connect: String?

    @Option(help: "Clean a Xen host over SSH: ssh://root@HOST[:PORT].") var host: String?

    @Flag(name: .customLong("dry-run"), help: "Only list what would be removed.") var dryRun = false

    func run() async throws {
        let selection = BackendSelection(connect: connect, hostShell: host.flatMap { SSHCommandRunner(url: $0) })
        let backend = try makeBackend(selection, advice: .clean)
        let report = await CleanJob.execute(backend: backend, dryRun: dryRun)
        if let error = report.listingError {
            Console.error("error: cannot list leftovers: \(error)")
        } else if report.found.isEmpty {
            Console.error("nothing to clean: no xentest-* domains, networks or files")
        } else if dryRun {
            Console.out(report.found.map { "would remove \($0)\n" }.joined())
        } else {
            Console.out(report.removed.map { "removed \($0)\n" }.joined())
            Console.error(report.failures.map { "error: cannot remove \($0.name): \($0.error)" })
        }
        try endUnlessSuccess(report.status)
    }
}
