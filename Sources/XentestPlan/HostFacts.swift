import XentestSupport
/// Facts about the host a run is on, collected once before anything is created; they go into every report.
public struct HostFacts: Sendable, Hashable, Codable {
    /// The host's name.
    public var hostname: String
    /// The toolstack: `xl`, or `libvirt` with its driver.
    public var toolstack: String
    /// The libvirt connection URI, for the libvirt backend.
    public var libvirtURI: String?
    /// libvirt's driver type (`TEST`, `QEMU`, `Xen`).
    public var libvirtDriver: String?
    /// The libvirt library version.
    public var libvirtVersion: String?
    /// The hypervisor's own version as the toolstack reports it.
    public var hypervisorVersion: String?
    /// Xen's version when the hypervisor is Xen (`4.17.7`); nil otherwise.
    public var xenVersion: String?
    /// dom0's (or the host's) kernel release.
    public var kernel: String?
    /// dom0's (or the host's) distribution, from its `/etc/os-release`; nil when there is none or no shell to read
    /// it with.
    public var distribution: String?
    /// The CPU model.
    public var cpuModel: String?
    /// Physical CPUs (threads).
    public var cpus: Int
    /// Total memory in MiB.
    public var totalMemoryMiB: Int
    /// Memory free for guests in MiB; nil when the toolstack cannot tell.
    public var freeMemoryMiB: Int?
    /// Xen's `virt_caps` (`hvm`, `hvm_directio`, `pv_directio`, ...) or the libvirt equivalents.
    public var virtCaps: [String]
    /// Whether an IOMMU usable for passthrough is present; nil when the toolstack cannot tell.
    public var iommu: Bool?
    /// Whether HVM guests can run.
    public var hvm: Bool?
    /// Whether PVH guests can run.
    public var pvh: Bool?
    /// Bridges (or libvirt networks) guests can join.
    public var bridges: [String]
    /// Whether guests run real code (false on libvirt's simulated test driver), so in-guest checks can work.
    public var runsGuestCode: Bool
    /// The host file's PCI devices that have no reset method (no `/sys/bus/pci/devices/BDF/reset`: no FLR, PM or bus
    /// reset), as `dddd:bb:dd.f`; nil when not looked at.
    public var pciDevicesWithoutReset: [String]?
    /// Where the Xen facts were read: `libxl` (in-process, xentest in dom0) or `xl info`; nil for libvirt.
    public var factsSource: String?
    /// The formats the run can make disk images in on the host (raw always, qcow2 with `qemu-img`); nil when it
    /// has no shell there to make them with.
    public var diskFormats: [DiskFormat]?

    /// The parsed Xen version.
    public var parsedXenVersion: Version? { xenVersion.flatMap(Version.init) }

    /// Facts from their parts.
    public init(
        hostname: String,
        toolstack: String,
        libvirtURI: String? = nil,
        libvirtDriver: String? = nil,
        libvirtVersion: String? = nil,
        hypervisorVersion: String? = nil,
        xenVersion: String? = nil,
        kernel: String? = nil,
        cpuModel: String? = nil,
        cpus: Int,
        totalMemoryMiB: Int,
        freeMemoryMiB: Int?,
        virtCaps: [String] = [],
        iommu: Bool? = nil,
        hvm: Bool? = nil,
        pvh: Bool? = nil,
        bridges: [String] = [],
        runsGuestCode: Bool,
        factsSource: String? = nil
    ) {
        self.hostname = hostname
        self.toolstack = toolstack
        self.libvirtURI = libvirtURI
        self.libvirtDriver = libvirtDriver
        self.libvirtVersion = libvirtVersion
        self.hypervisorVersion = hypervisorVersion
        self.xenVersion = xenVersion
        self.kernel = kernel
        self.cpuModel = cpuModel
        self.cpus = cpus
        self.totalMemoryMiB = totalMemoryMiB
        self.freeMemoryMiB = freeMemoryMiB
        self.virtCaps = virtCaps
        self.iommu = iommu
        self.hvm = hvm
        self.pvh = pvh
        self.bridges = bridges
        self.runsGuestCode = runsGuestCode
        self.factsSource = factsSource
    }

    /// `qemu:///system` is local; `qemu+ssh://host/system` is not.
    public static func isLocalLibvirtURI(_ uri: String) -> Bool {
        guard let schemeEnd = uri.range(of: "://") else { return true }
        let rest = uri[schemeEnd.upperBound...]
        return rest.hasPrefix("/") || rest.hasPrefix("localhost/") || rest.hasPrefix("127.0.0.1/")
    }
}

/// Questions put to a host's shell (dom0's, locally or over SSH) that a toolstack does not answer itself.
package enum HostShellQuery {
    /// Lists `/sys/class/net/NAME/bridge` for each bridge.
    package static let bridges = ["find", "-L", "/sys/class/net/", "-maxdepth", "2", "-name", "bridge"]

    /// `/sys/class/net/xenbr0/bridge` lines to `xenbr0`.
    package static func bridgeNames(_ text: String) -> [String] {
        text.split(separator: "\n")
            .compactMap { line in
                let parts = line.split(separator: "/")
                return parts.count >= 4 && parts.last == "bridge" ? String(parts[parts.count - 2]) : nil
            }
            .sorted()
    }

    /// The distribution's name, from `/etc/os-release` (the freedesktop format every current distribution writes).
    package static let osRelease = ["cat", "/etc/os-release"]

    /// The distribution of the host `runner` reaches; nil when it has no `/etc/os-release` or does not answer.
    package static func distribution(through runner: any CommandRunner) async -> String? {
        guard let result = try? await runner.run(osRelease, timeout: .seconds(30)), result.succeeded else { return nil }
        return distribution(result.stdout)
    }

    /// `PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"` to `Debian GNU/Linux 12 (bookworm)` (else `NAME` and
    /// `VERSION_ID`); nil when neither is there.
    package static func distribution(_ text: String) -> String? {
        var fields: [String: String] = [:]
        for line in text.split(separator: "\n") {
            guard let equals = line.firstIndex(of: "=") else { continue }
            var value = line[line.index(after: equals)...].trimmingCharacters(in: .whitespaces)
            if value.count >= 2, let first = value.first, first == "\"" || first == "'", value.last == first {
                value = String(value.dropFirst().dropLast())
            }
            fields[String(line[..<equals])] = value
        }
        if let pretty = fields["PRETTY_NAME"], !pretty.isEmpty { return pretty }
        guard let name = fields["NAME"], !name.isEmpty else { return nil }
        return [name, fields["VERSION_ID"]].compactMap { $0 }.joined(separator: " ")
    }
}
