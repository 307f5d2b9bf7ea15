import ArgumentParser
import Foundation
import XentestCore

struct CleanCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "clean",
        abstract: "Remove what earlier runs left behind (domains and networks named xentest-*), and nothing else.",
        discussion: "Example: xentest clean --connect qemu:///system --dry-run"
    )

    @Option(help: "A libvirt URI; default: the xl toolstack of this Xen host.")
    var connect: String?

    @Option(help: "Clean a Xen host over SSH: ssh://root@HOST[:PORT].")
    var host: String?

    @Flag(name: .customLong("dry-run"), help: "Only list what would be removed.")
    var dryRun = false

    func run() async throws {
        let backend: any Backend
        do {
            backend = try CleanJob.backend(connect: connect, hostShell: host.flatMap(SSHCommandRunner.init(url:)))
        } catch {
            FileHandle.standardError.write(Data("error: \(error.message)\n".utf8))
            throw ExitCode(2)
        }
        let status = await CleanJob.execute(backend: backend, dryRun: dryRun)
        if status != 0 { throw ExitCode(status) }
    }
}
