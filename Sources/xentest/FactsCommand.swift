import ArgumentParser
import XentestBackends
import XentestReport
import XentestRun

struct FactsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "facts",
        abstract: "The host's facts as a run collects them and every report carries; creates nothing.",
        discussion: """
            Xen's version, dom0's kernel, CPUs, memory, IOMMU, HVM and PVH support, bridges. In dom0 they come \
            from libxl in-process (or `xl info` if libxl cannot be asked); over SSH from `xl info`; through \
            libvirt from libvirt. Exit status 0, or 2 when the host cannot be reached or asked.
            Examples:
              xentest facts                                  in dom0
              xentest facts --host ssh://root@xen1 --json    another Xen host, as JSON
              xentest facts --connect qemu:///system
            """
    )

    @OptionGroup var target: BackendOptions

    @Flag(help: "Print JSON (as report.json's host) instead of text.") var json = false

    func run() async throws {
        let selection = target.selection()
        do { try await show(selection) } catch {
            await selection.close()
            throw error
        }
        await selection.close()
    }

    private func show(_ selection: BackendSelection) async throws {
        let backend = try makeBackend(selection, advice: .facts)
        do {
            let host = try RunJob.hostConfig(target.hostConfig, backend: backend)
            let facts = try await backend.collectFacts(host: host)
            Console.out(json ? HostFactsRenderer.json(facts) : HostFactsRenderer.text(facts))
        } catch let error as RunNotStarted {
            Console.error(error.lines)
            throw ExitCode(error.status)
        } catch {
            Console.error("error: cannot collect the host's facts through \(backend.kind.rawValue): \(error)")
            throw ExitCode(XentestExitStatus.unusable)
        }
    }
}
