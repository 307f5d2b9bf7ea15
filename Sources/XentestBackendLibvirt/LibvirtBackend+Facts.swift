import Foundation
import Libvirt
import XentestPlan
import XentestXLParsing
import XentestRun
import XentestSupport

extension LibvirtBackend {
    /// The host's facts from libvirt (node info, capabilities, active networks and their bridges) and, except on the
    /// test driver, from the shell on the hypervisor's host when there is one: its kernel and bridges, on Xen
    /// `xl info`'s version and IOMMU, and which of `host`'s PCI devices have no reset method. Throws
    /// `BackendUnavailable` when that shell does not answer.
    public func collectFacts(host: HostConfig) async throws -> HostFacts {
        var facts = try await Self.offPool { [self] in
            let node = try connection.nodeInfo()
            // Some hosts cannot say (libvirt's test driver on a host file without NUMA cells): unknown, not zero.
            let free = try? connection.freeMemoryBytes()
            let capabilities = try connection.capabilitiesXML()
            var bridges: [String] = []
            for network in try connection.networks() where try network.isActive {
                bridges.append(network.name)
                if let bridge = try? network.bridgeName { bridges.append(bridge) }
            }
            let osTypes = LibvirtXML(capabilities).osTypes
            let hypervisor = try connection.hypervisorVersion.description
            return HostFacts(
                hostname: try connection.hostname,
                toolstack: "libvirt \(try connection.driverType) driver",
                libvirtURI: try connection.uri,
                libvirtDriver: try connection.driverType,
                libvirtVersion: try connection.libraryVersion.description,
                hypervisorVersion: hypervisor,
                xenVersion: driver == .xen ? hypervisor : nil,
                cpuModel: node.model,
                cpus: node.cpus,
                totalMemoryMiB: Int(node.memoryKiB / 1024),
                freeMemoryMiB: free.map { Int($0 / 1024 / 1024) },
                virtCaps: osTypes.sorted(),
                iommu: driver == .test ? false : hostIOMMU,
                hvm: osTypes.contains("hvm"),
                pvh: osTypes.contains("xenpvh"),
                bridges: bridges,
                runsGuestCode: driver != .test
            )
        }
        if driver != .test, let shell = hostShell {
            try await readHost(through: shell, into: &facts)
            facts.pciDevicesWithoutReset = try await Self.devicesWithoutReset(
                host.pciDevices.values.map(\.address),
                through: shell
            )
        }
        if let shell = hostShell { facts.diskFormats = await DiskImages.formats(through: shell) }
        if facts.iommu == true, driver != .xen { facts.virtCaps.append("iommu") }
        facts.bridges = Array(Set(facts.bridges)).sorted()
        return facts
    }

    /// What libvirt does not report, read on the hypervisor's host: its bridges and kernel, and on Xen whether
    /// Xen has an IOMMU (`xl info`'s virt_caps; libvirt's libxl driver always says `<iommu support='no'/>`).
    func readHost(through shell: any CommandRunner, into facts: inout HostFacts) async throws {
        let kernel = try await shell.run(["uname", "-r"], timeout: .seconds(30))
        guard kernel.succeeded else {
            throw BackendUnavailable(
                "the hypervisor's host does not answer through \(shell) (`uname -r` exit \(kernel.status)): "
                    + (kernel.stderr.trimmed.isEmpty ? kernel.stdout.trimmed : kernel.stderr.trimmed)
            )
        }
        facts.kernel = kernel.stdout.trimmed
        facts.distribution = await HostShellQuery.distribution(through: shell)
        let bridges = try await shell.run(HostShellQuery.bridges, timeout: .seconds(30))
        facts.bridges += HostShellQuery.bridgeNames(bridges.stdout)
        guard driver == .xen else { return }
        let info = try await shell.run(["xl", "info"], timeout: .seconds(30))
        if info.succeeded, let parsed = try? XLParse.info(info.stdout) {
            // libvirt's version of Xen leaves the patch level out (4.17.0 for 4.17.7): known issues scoped to Xen
            // versions need it.
            facts.xenVersion = parsed.xenVersion
            facts.hypervisorVersion = parsed.xenVersion
            facts.virtCaps = parsed.virtCaps
            iommu.withLock { $0 = parsed.canPassThroughPCI }
            facts.iommu = parsed.canPassThroughPCI
        } else {
            xlInfoProblem.withLock {
                $0 = "`xl info` on \(shell) failed (exit \(info.status)): \(info.stderr.trimmed.suffix(200))"
            }
        }
    }

    /// libvirt's log of the guest (libxl's on Xen, QEMU's command line and messages on QEMU) and, on Xen, its device
    /// model's, read on the hypervisor's host.
    public func logs(for session: CaseSession) async -> [Evidence] {
        guard session.guest != nil, let shell = hostShell else { return [] }
        let name = session.domainName
        switch driver {
        case .xen:
            return await logTails(
                ["/var/log/libvirt/libxl/\(name).log", "/var/log/xen/qemu-dm-\(name).log"],
                through: shell
            )
        case .qemu: return await logTails(["/var/log/libvirt/qemu/\(name).log"], through: shell)
        case .test: return []
        }
    }
}
