import XentestPlan
import XentestXLParsing
import XentestRun
import XentestSupport
/// One `xl` (or other dom0 tool) invocation as a value: argv and time limit, never a shell string.
public struct XLCommand: Sendable, Hashable, CustomStringConvertible {
    /// The program and its arguments.
    public var argv: [String]
    /// How long it may run before it is killed.
    public var timeout: PlanDuration

    /// An invocation of `argv`.
    public init(_ argv: [String], timeout: PlanDuration = .seconds(30)) {
        self.argv = argv
        self.timeout = timeout
    }

    /// The command as a tester would type it; arguments quoted only where a shell would need it.
    public var description: String { argv.map(shellQuoted).joined(separator: " ") }
}

/// What an xl step needs to know beyond the plan: the concrete guest and the state the case has built up.
public struct XLStepContext: Sendable {
    /// The case's guest; nil for a case that acts on the host only (commands then name `GUEST`).
    public var guest: GuestInstance?
    /// The host file, for the addresses of PCI roles.
    public var host: HostConfig
    /// Where the guest's xl.cfg is written.
    public var configPath: String
    /// Interfaces attached by `network-attach` so far (detach takes the last).
    public var attachedNICs: Int
    /// Disks attached by `block-attach` so far, after the guest's own (detach takes the last).
    public var attachedDisks: [DiskSpec]
    /// Media put in the guest's CD-ROM drive by `cd-insert` so far (the next is medium number this plus one).
    public var insertedMedia = 0
    /// The case's guests by their plan names, for a step that names another one (`ping: NAME`).
    public var peers: [String: GuestInstance] = [:]
    /// Pass `-i` to `vcpu-set` so xl does not refuse more vCPUs than physical CPUs (xl 4.5 and later).
    public var ignoreHostCPUCount: Bool
    /// Where `save` writes the guest's state and `restore` reads it: beside its xl.cfg.
    public var savePath: String {
        (configPath.hasSuffix(".cfg") ? String(configPath.dropLast(4)) : configPath) + ".save"
    }
    /// The folder of the guest's xl.cfg, where its disk images go too; nil for a bare file name.
    public var configDirectory: String? { configPath.lastIndex(of: "/").map { String(configPath[..<$0]) } }
    /// CD-ROM medium `index`'s image, beside the guest's xl.cfg.
    public func mediumPath(_ index: Int) -> String { guest?.cdMediumPath(index, in: configDirectory) ?? "MEDIUM_IMAGE" }
    /// How many disks the guest has now: its own and those attached.
    public var diskCount: Int { (guest?.spec.disks.count ?? 0) + attachedDisks.count }
    /// Disk `index`'s image, beside the guest's xl.cfg.
    public func imagePath(_ index: Int, _ format: DiskFormat) -> String {
        guest?.diskImagePath(index, format, in: configDirectory) ?? "DISK_IMAGE"
    }

    /// A context for `guest` on `host`.
    public init(
        guest: GuestInstance?,
        host: HostConfig,
        configPath: String,
        attachedNICs: Int = 0,
        attachedDisks: [DiskSpec] = [],
        ignoreHostCPUCount: Bool = true
    ) {
        self.guest = guest
        self.host = host
        self.configPath = configPath
        self.attachedNICs = attachedNICs
        self.attachedDisks = attachedDisks
        self.ignoreHostCPUCount = ignoreHostCPUCount
    }
}

extension XLCommand {
    /// The xl command an action maps to; nil for actions that are not one xl call (waits, in-guest commands,
    /// pings, xenstore reads need the domain id first).
    public static func forAction(_ action: Action, context: XLStepContext, timeout: PlanDuration) -> XLCommand? {
        let name = context.guest?.domainName ?? "GUEST"
        func address(_ role: String) -> String { context.host.pciDevices[role]?.address.description ?? "PCI_\(role)" }
        let argv: [String]
        switch action {
        case .create(let paused): argv = ["xl", "create"] + (paused ? ["-p"] : []) + [context.configPath]
        case .destroy: argv = ["xl", "destroy", name]
        case .shutdown: argv = ["xl", "shutdown", "-w", name]
        case .pause: argv = ["xl", "pause", name]
        case .unpause: argv = ["xl", "unpause", name]
        case .list: argv = ["xl", "list", name]
        case .vcpuSet(let count):
            argv = ["xl", "vcpu-set"] + (context.ignoreHostCPUCount ? ["-i"] : []) + [name, String(count)]
        case .vcpuList: argv = ["xl", "vcpu-list", name]
        case .vcpuPin(let vcpu, let cpus): argv = ["xl", "vcpu-pin", name, String(vcpu), cpus.description]
        case .pciAssignableAdd(let role): argv = ["xl", "pci-assignable-add", address(role)]
        case .pciAssignableRemove(let role): argv = ["xl", "pci-assignable-remove", "-r", address(role)]
        case .pciAssignableList: argv = ["xl", "pci-assignable-list"]
        case .pciAttach(let role): argv = ["xl", "pci-attach", name, address(role)]
        case .pciDetach(let role): argv = ["xl", "pci-detach", name, address(role)]
        case .pciList: argv = ["xl", "pci-list", name]
        case .networkAttach:
            let mac = context.guest?.macAddress(nic: (context.guest?.spec.nics ?? 0) + context.attachedNICs) ?? "MAC"
            argv = ["xl", "network-attach", name, "bridge=\(context.guest?.bridge ?? "BRIDGE")", "mac=\(mac)"]
        case .networkDetach:
            let index = (context.guest?.spec.nics ?? 0) + max(0, context.attachedNICs - 1)
            argv = ["xl", "network-detach", name, context.guest?.macAddress(nic: index) ?? "MAC"]
        case .networkList: argv = ["xl", "network-list", name]
        case .blockAttach(let disk):
            let index = context.diskCount
            argv = [
                "xl", "block-attach", name,
                diskSpecification(disk, index: index, path: context.imagePath(index, disk.format)),
            ]
        case .blockDetach: argv = ["xl", "block-detach", name, xlDiskName(max(0, context.diskCount - 1))]
        case .blockList: argv = ["xl", "block-list", name]
        case .cdInsert:
            argv = ["xl", "cd-insert", name, CDROMMedium.device, context.mediumPath(context.insertedMedia + 1)]
        case .cdEject: argv = ["xl", "cd-eject", name, CDROMMedium.device]
        case .save: argv = ["xl", "save", name, context.savePath]
        case .restore: argv = ["xl", "restore", context.savePath]
        case .migrate: argv = localMigration(name)
        case .reboot: argv = ["xl", "reboot", "-w", name]
        case .memSet(let size): argv = ["xl", "mem-set", name, "\(size.mebibytes)m"]
        case .memMax(let size): argv = ["xl", "mem-max", name, "\(size.mebibytes)m"]
        case .waitForState, .waitForConsole, .stayUp, .guestExec, .ping, .pingGuest, .xenstoreRead: return nil
        }
        return XLCommand(argv, timeout: timeout)
    }

    /// Disk `index` as xl's disk specification (xl-disk-configuration(5)): `format=raw,vdev=xvda,access=rw,target=PATH`,
    /// the target last, as xl wants it.
    static func diskSpecification(_ disk: DiskSpec, index: Int, path: String) -> String {
        "format=\(disk.format.rawValue),vdev=\(xlDiskName(index)),access=rw,target=\(path)"
    }

    /// The CD-ROM drive's entry in xl.cfg's `disk` list: read-only, its medium `path` (xl-disk-configuration(5)).
    static func cdromSpecification(path: String) -> String {
        "format=raw,vdev=\(CDROMMedium.device),access=ro,devtype=cdrom,target=\(path)"
    }

    /// Disk `index`'s virtual device: `xvda` for the first. HVM guests see the same name through Xen's PV drivers.
    static func xlDiskName(_ index: Int) -> String { GuestInstance.diskDeviceName(index, prefix: "xvd") }

    /// One local migration of `name`: with an empty SSH command (`-s ''`), xl runs its receiver
    /// (`xl migrate-receive`) on this host instead of over SSH, so no SSH to localhost is needed.
    static func localMigration(_ name: String) -> [String] { ["xl", "migrate", "-s", "", name, "xl migrate-receive"] }
}
