import Foundation
import XentestPlan
import XentestRun
import XentestSupport
import XentestXLParsing

extension XLBackend {
    /// What `xl info` says, and where it was read: libxl in this process, or `xl info` through the runner.
    func hostInfo() async throws -> (info: XLInfo, source: String) {
        var source = "xl info"
        if readsLibxl {
            do { return (try LibxlHostInfo.read(), "libxl") } catch { source = "xl info (libxl: \(error))" }
        }
        let result = try await runner.run(["xl", "info"], timeout: .seconds(30))
        guard result.succeeded else {
            throw BackendUnavailable(
                "`xl info` failed on \(runner) (exit \(result.status)): \(XLParse.stderr(result.stderr).summary ?? result.stderr)"
            )
        }
        return (try XLParse.info(result.stdout), source)
    }

    /// The host's facts from `xl info` (or libxl in dom0) and dom0's bridges; `host` is not consulted. Throws
    /// `BackendUnavailable` when `xl info` fails, and `XLParseError` when its output cannot be read.
    public func collectFacts(host: HostConfig) async throws -> HostFacts {
        let (info, source) = try await hostInfo()
        let bridges = try await runner.run(HostShellQuery.bridges, timeout: .seconds(30))
        var facts = HostFacts(
            hostname: info.hostname,
            toolstack: "xl (Xen \(info.xenVersion))",
            hypervisorVersion: info.xenVersion,
            xenVersion: info.xenVersion,
            kernel: info.release,
            cpuModel: info.machine,
            cpus: info.cpus,
            totalMemoryMiB: info.totalMemoryMiB,
            freeMemoryMiB: info.freeMemoryMiB,
            virtCaps: info.virtCaps,
            iommu: info.canPassThroughPCI,
            hvm: info.virtCaps.contains("hvm"),
            pvh: info.virtCaps.contains("hap"),
            bridges: HostShellQuery.bridgeNames(bridges.stdout),
            runsGuestCode: true,
            factsSource: source
        )
        facts.diskFormats = await DiskImages.formats(through: runner)
        facts.distribution = await HostShellQuery.distribution(through: runner)
        return facts
    }
}
