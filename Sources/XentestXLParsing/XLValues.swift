import Foundation
import XentestPlan

// The typed values the parsers return.

/// `xl info`: every `key : value` line in order, and the fields the harness reasons about, typed.
public struct XLInfo: Sendable, Hashable {
    /// One `key : value` line; the value is trimmed of surrounding blanks (xl pads `xen_caps` with a space).
    public struct Field: Sendable, Hashable {
        /// The key, e.g. `nr_cpus`.
        public var key: String
        /// The value, e.g. `2`; may be empty (`xen_changeset` usually is).
        public var value: String

        /// A value of every field.
        package init(key: String, value: String) {
            self.key = key
            self.value = value
        }
    }

    /// All lines, in the order xl printed them.
    public var fields: [Field]
    /// `xen_major.xen_minor` followed by `xen_extra` verbatim: `4.17.7`, or `4.18.0-rc` for a release candidate.
    public var xenVersion: String
    /// `host`: dom0's host name.
    public var hostname: String
    /// `release`: dom0's kernel release, e.g. `6.1.0-56-amd64`.
    public var release: String
    /// `machine`, e.g. `x86_64`.
    public var machine: String
    /// `nr_cpus`: physical CPUs Xen runs on.
    public var cpus: Int
    /// `total_memory`, in MiB.
    public var totalMemoryMiB: Int
    /// `free_memory`, in MiB (memory not given to any domain, dom0 included).
    public var freeMemoryMiB: Int
    /// `virt_caps`, split on blanks: `pv hvm hvm_directio pv_directio gnttab-v1 gnttab-v2`.
    public var virtCaps: [String]
    /// `xen_caps`, split on blanks: `xen-3.0-x86_64 hvm-3.0-x86_32 ...`.
    public var xenCaps: [String]

    /// A value of every field.
    package init(
        fields: [Field],
        xenVersion: String,
        hostname: String,
        release: String,
        machine: String,
        cpus: Int,
        totalMemoryMiB: Int,
        freeMemoryMiB: Int,
        virtCaps: [String],
        xenCaps: [String]
    ) {
        self.fields = fields
        self.xenVersion = xenVersion
        self.hostname = hostname
        self.release = release
        self.machine = machine
        self.cpus = cpus
        self.totalMemoryMiB = totalMemoryMiB
        self.freeMemoryMiB = freeMemoryMiB
        self.virtCaps = virtCaps
        self.xenCaps = xenCaps
    }

    /// The value of the first line with `key`.
    public subscript(key: String) -> String? { fields.first { $0.key == key }?.value }

    /// `xenVersion` as a comparable version (anything from a '-' on is ignored).
    public var version: Version? { Version(xenVersion) }

    /// Whether Xen has an IOMMU enabled, so PCI devices can be passed through: `virt_caps` then lists
    /// `pv_directio` or `hvm_directio`. Without them `xl pci-attach` fails with `xc_assign_device failed`.
    public var canPassThroughPCI: Bool { virtCaps.contains("pv_directio") || virtCaps.contains("hvm_directio") }
}

/// A domain's state decoded from the six `xl list` flags `rbpsRd` (R being the shutdown reason letter).
public enum XLDomainState: String, Sendable, Hashable, CaseIterable {
    /// Running or blocked (waiting for an event), or runnable and waiting for a CPU (`------`).
    case running
    /// Paused by the toolstack (`xl pause`, `xl create -p`).
    case paused
    /// Shut down and not yet destroyed; xl shows it paused as well (`--ps--`).
    case shutdown
    /// Shut down because it crashed (`--psc-`).
    case crashed
    /// Being destroyed (`d` flag).
    case dying

    /// The harness's coarser state: shut down, crashed and dying all count as `shutoff`.
    public var guestState: GuestState {
        switch self {
        case .running: .running
        case .paused: .paused
        case .shutdown, .crashed, .dying: .shutoff
        }
    }
}

/// Why a domain shut down: the fifth `xl list` flag.
public enum XLShutdownReason: String, Sendable, Hashable, CaseIterable {
    /// `-` on a shut-down domain: it powered off (`xl shutdown`, `poweroff` in the guest).
    case poweroff
    /// `r`.
    case reboot
    /// `s`: suspended, as `xl save` does.
    case suspend
    /// `c`.
    case crash
    /// `w`: the watchdog fired.
    case watchdog
    /// `S`.
    case softReset
    /// `?`: a reason code xl has no letter for.
    case unknown
}

/// One row of `xl list` or `xl list NAME` (the plain format; not `-v`, `-c`, `-n` or `--cpupool`).
public struct XLDomainRow: Sendable, Hashable {
    /// The domain name (`Domain-0` for dom0).
    public var name: String
    /// The domain id.
    public var id: Int
    /// Current plus outstanding memory, in MiB.
    public var memoryMiB: Int
    /// vCPUs online.
    public var vcpus: Int
    /// The six state flags as printed: `r-----`, `-b----`, `-bp---`, `--ps--`.
    public var stateFlags: String
    /// CPU time used so far, in seconds.
    public var cpuSeconds: Double
    /// The flags decoded: dying, then crashed, then shut down, then paused win over running.
    public var state: XLDomainState
    /// Why it shut down; nil while it has not.
    public var shutdownReason: XLShutdownReason?
}

/// A domain as `xl list -l` describes it: the configuration libxl holds, not live state.
public struct XLDomainDetails: Sendable, Hashable {
    /// An interface in the domain's configuration (`config.nics[]`).
    public struct NIC: Sendable, Hashable {
        /// The device id, which `xl network-list` shows as `Idx`.
        public var devid: Int?
        /// The MAC address, e.g. `00:16:3e:00:00:02`.
        public var mac: String?
        /// The dom0 bridge the backend is attached to.
        public var bridge: String?
        /// `vif` for PV interfaces.
        public var nictype: String?
    }

    /// The domain id (the top-level `domid`; `config.c_info.domid` is an unset marker, 4294967295).
    public var domid: Int
    /// `config.c_info.name`.
    public var name: String
    /// `config.c_info.type`: `pv`, `pvh` or `hvm`.
    public var type: String?
    /// `config.c_info.uuid`; dom0 has none.
    public var uuid: String?
    /// `config.b_info.max_vcpus` (the guest's `maxvcpus`); dom0 has none.
    public var maxVCPUs: Int?
    /// `config.b_info.max_memkb`.
    public var maxMemoryKiB: Int?
    /// `config.b_info.target_memkb`.
    public var targetMemoryKiB: Int?
    /// `config.c_info.passthrough`, e.g. `enabled`; absent unless the guest config sets it.
    public var passthrough: String?
    /// `config.nics`, in order; empty when there are none.
    public var nics: [NIC]
    /// `config.pcidevs` as host addresses (libxl omits zero fields, so `{"dev": 4}` is `0000:00:04.0`).
    public var pciDevices: [PCIAddress]
}

/// One row of `xl vcpu-list`.
public struct XLVcpuRow: Sendable, Hashable {
    /// The domain name.
    public var name: String
    /// The domain id.
    public var domid: Int
    /// The vCPU number within the domain.
    public var vcpu: Int
    /// The physical CPU it is on; nil for an offline vCPU (xl prints `-`).
    public var cpu: Int?
    /// The three state flags as printed: `r--`, `-b-`, or `--p` for an offline vCPU.
    public var stateFlags: String
    /// CPU time used so far, in seconds.
    public var cpuSeconds: Double
    /// Hard affinity, the CPUs the vCPU may run on, printed `all`, `0-1`, `0,2`.
    public var hardAffinity: CPUSet
    /// Soft affinity, the CPUs it prefers; nil when the header has a single `Affinity` column (xl before 4.5).
    public var softAffinity: CPUSet?

    /// Online: xl prints `p` as the third flag (and `-` as the CPU) exactly when the vCPU is offline; it does not
    /// mean paused.
    public var isOnline: Bool { !stateFlags.hasSuffix("p") }
    /// Running on `cpu` right now.
    public var isRunning: Bool { stateFlags.hasPrefix("r") }
    /// Blocked waiting for an event.
    public var isBlocked: Bool { stateFlags.dropFirst().hasPrefix("b") }
}

/// One row of `xl pci-list`.
public struct XLPCIListRow: Sendable, Hashable {
    /// The virtual slot and function in the guest, as printed: `00.0`.
    public var vdev: String
    /// The slot part of `vdev`.
    public var virtualSlot: Int
    /// The function part of `vdev`.
    public var virtualFunction: Int
    /// The host device.
    public var address: PCIAddress
}

/// A xenbus state, as `xl network-list` shows it in its `state` column.
public enum XenbusState: Int, Sendable, Hashable, CaseIterable {
    case unknown = 0
    case initialising = 1
    case initWait = 2
    case initialised = 3
    case connected = 4
    case closing = 5
    case closed = 6
    case reconfiguring = 7
    case reconfigured = 8
}

/// One row of `xl block-list NAME`.
public struct XLBlockRow: Sendable, Hashable {
    /// `Vdev`: the virtual device number (`51712` is xvda: major 202, disk 0).
    public var vdev: Int
    /// `BE`: the backend's domain id.
    public var backendDomid: Int
    /// `handle`.
    public var handle: Int
    /// `state`: the xenbus state number (4 is connected).
    public var state: Int
    /// `evt-ch`; nil when xl prints -1.
    public var eventChannel: Int?
    /// The ring's grant reference; nil when xl prints -1.
    public var ringRef: Int?
    /// The backend's xenstore directory, e.g. `/local/domain/0/backend/vbd/1/51712`.
    public var backendPath: String

    /// `state` decoded; nil for a number xenbus does not define.
    public var xenbusState: XenbusState? { XenbusState(rawValue: state) }

    /// The `xvd` name the number stands for (`xvda`, `xvdb`; Xen's vbd numbering: major 202 with 16 minors per disk,
    /// or the extended form `1 << 28 | disk << 8`); nil for IDE or SCSI numbers.
    public var name: String? {
        let disk: Int
        if vdev >> 8 == 202 {
            disk = (vdev & 0xFF) >> 4
        } else if vdev & (1 << 28) != 0 {
            disk = (vdev & ~(1 << 28)) >> 8
        } else {
            return nil
        }
        return GuestInstance.diskDeviceName(disk, prefix: "xvd")
    }
}

/// One row of `xl network-list NAME`.
public struct XLNetworkRow: Sendable, Hashable {
    /// `Idx`: the device id (`xl network-detach NAME IDX` takes it).
    public var idx: Int
    /// `BE`: the backend's domain id.
    public var backendDomid: Int
    /// The MAC address as printed (lower case).
    public var mac: String
    /// `handle`: the device id again.
    public var handle: Int
    /// `state`: the xenbus state number (4 is connected).
    public var state: Int
    /// `evt-ch`; nil when xl prints -1, which it does when the frontend uses split event channels
    /// (`event-channel-tx`/`-rx` in xenstore instead of `event-channel`), as Linux netfront does.
    public var eventChannel: Int?
    /// The transmit ring's grant reference; nil when xl prints -1.
    public var txRingRef: Int?
    /// The receive ring's grant reference; nil when xl prints -1.
    public var rxRingRef: Int?
    /// The backend's xenstore directory, e.g. `/local/domain/0/backend/vif/1/0`.
    public var backendPath: String

    /// `state` decoded; nil for a number xenbus does not define.
    public var xenbusState: XenbusState? { XenbusState(rawValue: state) }
}
