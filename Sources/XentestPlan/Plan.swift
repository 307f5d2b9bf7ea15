import XentestSupport
/// A validated test plan: what to test for one release, immutable once loaded.
public struct Plan: Sendable {
    /// The plan's short name: the file name without `.yaml` (`rc6`).
    public var name: String
    /// The file it was loaded from.
    public var path: String
    /// The release under test, as the release manager writes it (`4.3.0-rc6`).
    public var release: String
    /// A one-line title (`Xen 4.3 RC6 TestDay`).
    public var title: String
    /// What the release asks testers to look at; Markdown.
    public var summary: String?
    /// The cases in plan order (includes inlined where they stand).
    public var cases: [TestCase]
    /// What the check of the host around every case lets pass.
    public var hostHealth = HostHealthRules()

    /// The case with `id`, if any.
    public func testCase(_ id: String) -> TestCase? { cases.first { $0.id == id } }

    /// The areas in first-seen order.
    public var areas: [String] {
        var seen: [String] = []
        for testCase in cases where !seen.contains(testCase.area) { seen.append(testCase.area) }
        return seen
    }
}

/// What the host-health check around every case lets pass: log lines known to be benign, objects a host changes
/// of its own accord.
public struct HostHealthRules: Sendable {
    /// Warnings in the hypervisor's or dom0's log that say nothing about the release (each a pattern).
    public var benignLog: [PlanPattern] = []
    /// Objects that may appear during a case without being a leak, matched against `KIND NAME` (`files
    /// /var/lib/xen/some-cache`).
    public var ignore: [PlanPattern] = []

    /// No exceptions.
    public init() {}

    /// Whether `line` is a log line the plan calls benign.
    public func isBenign(_ line: String) -> Bool { benignLog.contains { $0.matches(line) } }
    /// Whether the object `name` of `kind` is one a host changes of its own accord.
    public func ignores(kind: String, name: String) -> Bool { ignore.contains { $0.matches("\(kind) \(name)") } }
}

/// The toolstacks a case can run through.
public enum BackendKind: String, Sendable, Hashable, Codable, CaseIterable, Comparable {
    case xl, libvirt

    /// By name: `libvirt` before `xl`.
    public static func < (lhs: BackendKind, rhs: BackendKind) -> Bool { lhs.rawValue < rhs.rawValue }
}

/// One test case: a guest, steps to run against it, and what the host must offer.
public struct TestCase: Sendable, Identifiable {
    /// Stable id, used in reports and baselines.
    public var id: String
    /// One line for the tester (`Hot-add a vCPU to a PV guest`).
    public var title: String
    /// The area it belongs to (`pci-passthrough`, `cpu-hotplug`, `network`, `lifecycle`).
    public var area: String
    /// Names the plan gives the case (`headline`, `qemu-xen`), shown with it in the instructions; empty when none.
    public var tags: [String]
    /// More words for the tester; Markdown.
    public var description: String?
    /// Explicit prerequisites and those implied by the guest and steps, without repeats.
    public var requirements: [Requirement]
    /// The toolstacks it runs on, sorted.
    public var backends: [BackendKind]
    /// The case's guests (`guest:`, or several with `guests:`), each with its own name; empty for a case that acts
    /// on the host only. A step acts on the first unless it names another (`on:`).
    public var guests: [GuestSpec]
    /// The first guest, which steps act on by default; nil for a case that acts on the host only.
    public var guest: GuestSpec? { guests.first }
    /// What to do, in order; the first step that does not pass ends the case (teardown still runs).
    public var steps: [Step]
    /// Expected failures: when one applies to the run, a failure reports `xfail` and a pass `xpass`.
    public var knownIssues: [KnownIssue]
    /// The whole case's time limit.
    public var timeout: PlanDuration
    /// Patterns no line the host logs during the case may match (`host-log-lacks`), besides the warnings the
    /// host-health check always looks for.
    public var hostLogLacks: [PlanPattern] = []
    /// Whether the case must have the host to itself under `run --jobs` (`exclusive: true`): nothing else runs
    /// while it does.
    public var exclusive = false
    /// Where the case starts in its file.
    public var location: SourceLocation
}

/// The kinds of guest Xen runs.
public enum GuestType: String, Sendable, Hashable, Codable, CaseIterable { case pv, pvh, hvm }

/// A toolstack-neutral guest: renders to an `xl.cfg` and to libvirt domain XML.
public struct GuestSpec: Sendable, Hashable {
    /// The name the plan gave it under `guests:`; for display only.
    public var name: String
    /// PV, PVH or HVM.
    public var type: GuestType
    /// Its memory: `memory` in `xl.cfg`, `<memory>` in domain XML (256M unless the plan says otherwise).
    public var memory: MemorySize
    /// vCPUs online at start.
    public var vcpus: Int
    /// The most vCPUs it can have (hot-add up to this).
    public var maxvcpus: Int
    /// How many network interfaces it starts with, each on the host's bridge.
    public var nics: Int
    /// PCI devices, by host-file role, passed through at creation.
    public var pci: [String]
    /// Whether PCI devices may be hot-plugged later (xl needs it set at creation).
    public var passthrough: Bool
    /// Disks it has from the start, each an image the run makes (the guest's first disks, in this order).
    public var disks: [DiskSpec] = []
    /// An emulated CD-ROM drive (HVM guests), holding from the start a medium the run makes of this size: an empty
    /// image the guest reads the size of. nil for none; `cd-insert` and `cd-eject` change its medium.
    public var cdrom: MemorySize? = nil
    /// Extra xl.cfg keys (`xl-config:`), in plan order: written after xentest's own; on libvirt, mapped where the
    /// libxl driver has an equivalent.
    public var xlConfig: [XLConfigSetting] = []
    /// The role of the tester's own guest this is a copy of (`from-host: ROLE`, a guest of the host file), nil for
    /// xentest's test guest. Such a guest's type, memory and devices are its original's: the fields above keep
    /// their defaults and the plan cannot set them.
    public var fromHost: String? = nil
}

extension GuestSpec {
    /// A guest of `type` with what a plan's guest has when it says nothing else: 256M, one vCPU, nothing attached.
    package init(name: String, type: GuestType) {
        self.init(
            name: name,
            type: type,
            memory: MemorySize(mebibytes: 256),
            vcpus: 1,
            maxvcpus: 1,
            nics: 0,
            pci: [],
            passthrough: false
        )
    }
}

/// The formats of the disk images a run makes.
public enum DiskFormat: String, Sendable, Hashable, Codable, CaseIterable {
    /// A plain file of the disk's size (sparse): `truncate -s`.
    case raw
    /// QEMU's copy-on-write format: `qemu-img create -f qcow2`, which the host must have.
    case qcow2
}

/// A disk a run makes for a guest: an empty image of this size and format, on the host, removed at teardown.
public struct DiskSpec: Sendable, Hashable, CustomStringConvertible {
    /// The size the guest sees.
    public var size: MemorySize
    /// The image's format.
    public var format: DiskFormat

    /// A disk of `size` in `format`.
    public init(size: MemorySize, format: DiskFormat = .raw) {
        self.size = size
        self.format = format
    }

    /// `64M`, or `64M qcow2`: as a plan can write it.
    public var description: String { format == .raw ? size.description : "\(size) \(format.rawValue)" }
}

/// A prerequisite a host must meet for a case to run; otherwise the case is skipped with the reason.
public enum Requirement: Sendable, Hashable, CustomStringConvertible {
    /// An IOMMU usable for passthrough (`hvm_directio` in `xl info` virt_caps).
    case iommu
    /// Hardware virtualisation for HVM guests.
    case hvm
    /// PVH guests (hardware-assisted paging).
    case pvh
    /// The host file names a PCI device for this role.
    case pciDevice(role: String)
    /// The host file's PCI device for this role has a large BAR (graphics cards with much video RAM).
    case largeBarDevice(role: String)
    /// The host file names a bridge (or libvirt network) that exists.
    case bridge
    /// The test guest (kernel and ramdisk) is available, so checks can run inside the guest.
    case testGuest
    /// Xen has shadow paging, which a PV guest's live migration needs to track the pages it dirties.
    case shadowPaging
    /// At least this much memory is free for guests.
    case minFreeMemory(MemorySize)
    /// At least this many physical CPUs.
    case minHostCPUs(Int)
    /// The host can make disk images in this format: xentest has a shell there, and for qcow2 `qemu-img`.
    case diskFormat(DiskFormat)
    /// The hypervisor's Xen version is in this range.
    case xenVersion(VersionRange)
    /// The host file names the tester's own guest for this role (`guests:`), in a form the backend can copy.
    case hostGuest(role: String)
    /// The host file gives the address of the tester's guest for this role, to ping it.
    case hostGuestAddress(role: String)

    /// As written in a plan.
    public var description: String {
        switch self {
        case .iommu: "iommu"
        case .hvm: "hvm"
        case .pvh: "pvh"
        case .pciDevice(let role): "pci-device: \(role)"
        case .largeBarDevice(let role): "large-bar-device: \(role)"
        case .bridge: "bridge"
        case .testGuest: "test-guest"
        case .shadowPaging: "shadow-paging"
        case .minFreeMemory(let size): "min-free-memory: \(size)"
        case .minHostCPUs(let count): "min-host-cpus: \(count)"
        case .diskFormat(let format): "disk-format: \(format.rawValue)"
        case .xenVersion(let range): "xen: \(range)"
        case .hostGuest(let role): "host-guest: \(role)"
        case .hostGuestAddress(let role): "host-guest-address: \(role)"
        }
    }
}

/// An expected failure, with where it is tracked and when it applies.
public struct KnownIssue: Sendable, Hashable {
    /// What goes wrong; a report names it when the issue applies (`known issue: SUMMARY`).
    public var summary: String
    /// Where it is tracked (a mailing-list post, a bug).
    public var link: String?
    /// Applies only on these Xen versions; nil for any.
    public var xen: VersionRange?
    /// Applies only on these backends; empty for all.
    public var backends: [BackendKind]
    /// Applies only on these hypervisor drivers; empty for all.
    public var drivers: [HypervisorDriver]
    /// Explains only a failure whose message matches this pattern; nil for any failure. Another failure of the
    /// case stays a failure: the known issue does not hide it.
    public var failureMatches: PlanPattern? = nil

    /// Whether this is the failure the issue describes: `reason` is the case's failure message.
    public func explains(_ reason: String) -> Bool {
        guard let failureMatches else { return true }
        return failureMatches.matches(reason)
    }
}

/// One action and what is expected of it.
public struct Step: Sendable, Hashable {
    /// What the step does.
    public var action: Action
    /// What it must show to pass: `succeeds` unless the plan says otherwise.
    public var expectation: Expectation
    /// This step's time limit: the plan's, or the action's default.
    public var timeout: PlanDuration
    /// When set, the step is tried again until its expectation holds or this much time has passed: for effects
    /// that follow an action with a delay (a hot-added vCPU coming online inside the guest).
    public var retryFor: PlanDuration?
    /// A word for the tester, shown with the instructions.
    public var note: String?
    /// Where the step starts in its file.
    public var location: SourceLocation
    /// The guest it acts on, by its name in the plan (`on:`); nil for the case's first guest.
    public var guest: String? = nil
}

/// Which way a ping goes.
public enum PingDirection: String, Sendable, Hashable, Codable, CaseIterable {
    /// From the host (dom0) to the guest.
    case guest
    /// From the guest to the host (dom0).
    case host
}

/// Guest states a step can wait for or expect; `gone` means the toolstack no longer lists it.
public enum GuestState: String, Sendable, Hashable, Codable, CaseIterable { case running, paused, shutoff, gone }

/// The vocabulary of steps. Every action acts on the case's guest unless it names a PCI role only.
public enum Action: Sendable, Hashable {
    case create(paused: Bool)
    case destroy
    case shutdown
    case pause
    case unpause
    /// Shows the guest's state (`xl list`); expect `state`.
    case list
    case vcpuSet(Int)
    /// Shows the guest's vCPUs (`xl vcpu-list`); expect `online-vcpus` or a vCPU's `affinity`.
    case vcpuList
    /// Pins one of the guest's vCPUs to these physical CPUs (its hard affinity).
    case vcpuPin(vcpu: Int, cpus: CPUSet)
    case pciAssignableAdd(role: String)
    case pciAssignableRemove(role: String)
    /// Shows the host's assignable devices; expect `contains`/`lacks` a role.
    case pciAssignableList
    case pciAttach(role: String)
    case pciDetach(role: String)
    /// Shows the guest's PCI devices; expect `contains`/`lacks` a role.
    case pciList
    case networkAttach
    /// Detaches the most recently attached interface.
    case networkDetach
    /// Shows the guest's interfaces; expect `count`.
    case networkList
    case waitForState(GuestState)
    /// Waits until a line of the guest's console matches (a login prompt, a service's banner); the console is
    /// nudged with a carriage return now and then, so a prompt printed before the wait shows again.
    case waitForConsole(PlanPattern)
    /// Watches the guest for this long: it must stay running all along (not crash, stop or disappear).
    case stayUp(PlanDuration)
    /// Runs a command in the guest's shell, through its console.
    case guestExec(String)
    case ping(PingDirection)
    /// Pings another guest of the case, by its name in the plan, from inside this one.
    case pingGuest(String)
    /// Reads a xenstore path; `{domid}` is replaced by the guest's domain id.
    case xenstoreRead(String)
    /// Saves the guest's state to a file the run owns (the guest is gone until `restore`).
    case save
    /// Restores the guest the last `save` saved; with the test guest, the same boot must answer on its console.
    case restore
    /// Migrates the guest to this host (`localhost`), `times` times over; the same boot must answer afterwards.
    case migrate(times: Int)
    /// Reboots the guest; with the test guest, a new boot must answer on its console.
    case reboot
    /// Sets the guest's memory target (the balloon driver gives memory back or takes it).
    case memSet(MemorySize)
    /// Sets the most memory the guest may have.
    case memMax(MemorySize)
    /// Makes an empty disk image and hot-plugs it into the guest as its next disk.
    case blockAttach(DiskSpec)
    /// Detaches the disk the latest `block-attach` added (its image is removed at teardown).
    case blockDetach
    /// Shows the guest's disks as the toolstack lists them and, with the test guest, as the guest sees them
    /// (`/sys/block`); expect `count`.
    case blockList
    /// Makes an empty medium of this size and puts it in the guest's CD-ROM drive (in place of the one there); with
    /// the test guest, the guest must read the new medium's size.
    case cdInsert(MemorySize)
    /// Takes the medium out of the guest's CD-ROM drive; with the test guest, the guest must find the drive empty.
    case cdEject

    /// The name used in plans.
    public var name: ActionName {
        switch self {
        case .create: .create
        case .destroy: .destroy
        case .shutdown: .shutdown
        case .pause: .pause
        case .unpause: .unpause
        case .list: .list
        case .vcpuSet: .vcpuSet
        case .vcpuList: .vcpuList
        case .vcpuPin: .vcpuPin
        case .pciAssignableAdd: .pciAssignableAdd
        case .pciAssignableRemove: .pciAssignableRemove
        case .pciAssignableList: .pciAssignableList
        case .pciAttach: .pciAttach
        case .pciDetach: .pciDetach
        case .pciList: .pciList
        case .networkAttach: .networkAttach
        case .networkDetach: .networkDetach
        case .networkList: .networkList
        case .waitForState: .waitForState
        case .waitForConsole: .waitForConsole
        case .stayUp: .stayUp
        case .guestExec: .guestExec
        case .ping, .pingGuest: .ping
        case .xenstoreRead: .xenstoreRead
        case .save: .save
        case .restore: .restore
        case .migrate: .migrate
        case .reboot: .reboot
        case .memSet: .memSet
        case .memMax: .memMax
        case .blockAttach: .blockAttach
        case .blockDetach: .blockDetach
        case .blockList: .blockList
        case .cdInsert: .cdInsert
        case .cdEject: .cdEject
        }
    }

    /// The argument as a plan writes it; nil for actions without one.
    public var argument: String? {
        switch self {
        case .create(let paused): paused ? "paused" : nil
        case .vcpuSet(let count): String(count)
        case .vcpuPin(let vcpu, let cpus): "\(vcpu) \(cpus)"
        case .pciAssignableAdd(let role), .pciAssignableRemove(let role), .pciAttach(let role), .pciDetach(let role):
            role
        case .waitForState(let state): state.rawValue
        case .waitForConsole(let pattern): pattern.source
        case .stayUp(let duration): duration.description
        case .guestExec(let command): command
        case .ping(let direction): direction.rawValue
        case .pingGuest(let name): name
        case .xenstoreRead(let path): path
        case .migrate(let times): times == 1 ? "localhost" : "localhost \(times) times"
        case .memSet(let size), .memMax(let size), .cdInsert(let size): size.description
        case .blockAttach(let disk): disk.description
        default: nil
        }
    }

    /// A short label for progress lines and reports: `vcpu-set 2`.
    public var label: String { argument.map { "\(name.rawValue) \($0)" } ?? name.rawValue }
}

/// What a step must show to pass.
public enum Expectation: Sendable, Hashable, CustomStringConvertible {
    /// The action succeeds (and, for waits, the state is reached in time).
    case succeeds
    /// The action fails; with a pattern, its error message must match it.
    case fails(matching: PlanPattern?)
    /// The guest is in this state.
    case state(GuestState)
    /// This many vCPUs are online.
    case onlineVcpus(Int)
    /// This vCPU may run on these physical CPUs only (its hard affinity).
    case affinity(vcpu: Int, cpus: CPUSet)
    /// The listing includes the host's device for this role.
    case contains(role: String)
    /// The listing does not include the host's device for this role.
    case lacks(role: String)
    /// The listing has this many entries (for disks: the guest sees as many, when it can be asked).
    case count(Int)
    /// The value read equals this text.
    case equals(String)
    /// A guest command's exit status and output (a pattern, searched for in the whole output).
    case output(exitStatus: Int, matching: PlanPattern?)
    /// The toolstack gives the guest this much memory now.
    case memory(MemorySize)

    /// As a tester reads it.
    public var description: String {
        switch self {
        case .succeeds: "succeeds"
        case .fails(let pattern): pattern.map { "fails with a message matching /\($0.source)/" } ?? "fails"
        case .state(let state): "the guest is \(state.rawValue)"
        case .onlineVcpus(let count): "\(count) vCPU\(count == 1 ? "" : "s") online"
        case .affinity(let vcpu, let cpus):
            cpus == .all
                ? "vCPU \(vcpu) may run on every CPU"
                : "vCPU \(vcpu) runs on CPU\(cpus.cpus?.count == 1 ? "" : "s") \(cpus) only"
        case .contains(let role): "lists the '\(role)' device"
        case .lacks(let role): "does not list the '\(role)' device"
        case .count(let count): "lists \(count) entr\(count == 1 ? "y" : "ies")"
        case .equals(let text): "reads '\(text)'"
        case .output(let status, let pattern):
            "exits \(status)" + (pattern.map { " with output matching /\($0.source)/" } ?? "")
        case .memory(let size): "the guest has \(size) of memory"
        }
    }
}
