import Foundation

// Parsers for what `xl` (Xen 4.17) prints, checked against real captures in
// Tests/XentestCoreTests/Fixtures/xl (see the README there). Every parser is a pure function of the text: it either
// returns typed values or throws an `XLParseError` naming the command, the line and the reason. None of them traps on
// any input.

// MARK: - Errors

/// Output of an `xl` (or `xenstore-read`) command that does not have the shape the parser knows.
///
/// `lineNumber` is 1-based and counts every line of the text, blank ones included. It and `line` are nil when the
/// problem is the text as a whole: empty output, an `xl info` key that never appears, JSON whose structure is wrong.
/// `line` is the offending line as printed, without its line ending.
public struct XLParseError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The command whose output was being read, e.g. `xl vcpu-list`.
    public var command: String
    /// The 1-based number of the offending line.
    public var lineNumber: Int?
    /// The offending line.
    public var line: String?
    /// What was expected and not found.
    public var reason: String

    /// An error about `line` (number `lineNumber`) of `command`'s output.
    public init(command: String, lineNumber: Int? = nil, line: String? = nil, reason: String) {
        self.command = command
        self.lineNumber = lineNumber
        self.line = line
        self.reason = reason
    }

    /// `COMMAND: line N: REASON: 'LINE'`, e.g. `xl domid: line 1: expected one line with a domain id: 'guest1'`.
    public var description: String {
        var text = command
        if let lineNumber { text += ": line \(lineNumber)" }
        text += ": " + reason
        if let line { text += ": '\(line)'" }
        return text
    }
}

// MARK: - Values

/// `xl info`: every `key : value` line in order, and the fields the harness reasons about, typed.
public struct XLInfo: Sendable, Hashable {
    /// One `key : value` line; the value is trimmed of surrounding blanks (xl pads `xen_caps` with a space).
    public struct Field: Sendable, Hashable {
        /// The key, e.g. `nr_cpus`.
        public var key: String
        /// The value, e.g. `2`; may be empty (`xen_changeset` usually is).
        public var value: String
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
    /// Hard affinity as printed: `all`, `0-1`, `0,2`.
    public var hardAffinity: String
    /// Soft affinity as printed; nil when the header has a single `Affinity` column (xl before 4.5).
    public var softAffinity: String?

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

/// One row of `xl network-list`.
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

// MARK: - Parsers

/// Parsers for the stdout of `xl` commands, one per command.
public enum XLParse {
    /// Parses `xl info`.
    ///
    /// Blank lines are skipped; any other line must be `key : value` with a lower-case key. `host`, `release`,
    /// `machine`, `nr_cpus`, `total_memory`, `free_memory`, `xen_major`, `xen_minor`, `xen_extra`, `virt_caps` and
    /// `xen_caps` must all be present. The NUMA tables of `xl info -n` are not `key : value` lines and are rejected.
    public static func info(_ text: String) throws(XLParseError) -> XLInfo {
        let command = "xl info"
        var fields: [XLInfo.Field] = []
        var lineOf: [String: (Int, String)] = [:]
        for (number, line) in numberedLines(text) where !isBlank(line) {
            guard let colon = line.firstIndex(of: ":") else {
                throw XLParseError(command: command, lineNumber: number, line: line, reason: "expected 'key : value'")
            }
            let key = line[..<colon].trimmingCharacters(in: .whitespaces)
            let isKey =
                !key.isEmpty
                && key.utf8.allSatisfy { (0x61...0x7a).contains($0) || (0x30...0x39).contains($0) || $0 == 0x5f }
            guard isKey else {
                throw XLParseError(
                    command: command,
                    lineNumber: number,
                    line: line,
                    reason: "expected 'key : value' with a key of lower-case letters, digits and '_'"
                )
            }
            let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            fields.append(XLInfo.Field(key: key, value: value))
            if lineOf[key] == nil { lineOf[key] = (number, line) }
        }
        if fields.isEmpty { throw XLParseError(command: command, reason: "empty output") }

        func string(_ key: String) throws(XLParseError) -> String {
            guard let value = fields.first(where: { $0.key == key })?.value else {
                throw XLParseError(command: command, reason: "no '\(key)' line")
            }
            return value
        }
        func number(_ key: String, minimum: Int) throws(XLParseError) -> Int {
            let value = try string(key)
            guard let number = Int(value), number >= minimum else {
                throw XLParseError(
                    command: command,
                    lineNumber: lineOf[key]?.0,
                    line: lineOf[key]?.1,
                    reason: "'\(key)' is not a whole number of at least \(minimum)"
                )
            }
            return number
        }
        let major = try number("xen_major", minimum: 0)
        let minor = try number("xen_minor", minimum: 0)
        return XLInfo(
            fields: fields,
            xenVersion: "\(major).\(minor)" + (try string("xen_extra")),
            hostname: try string("host"),
            release: try string("release"),
            machine: try string("machine"),
            cpus: try number("nr_cpus", minimum: 1),
            totalMemoryMiB: try number("total_memory", minimum: 0),
            freeMemoryMiB: try number("free_memory", minimum: 0),
            virtCaps: words(try string("virt_caps")),
            xenCaps: words(try string("xen_caps"))
        )
    }

    /// Parses `xl list` and `xl list NAME` (the default columns only).
    ///
    /// The header must be exactly `Name ID Mem VCPUs State Time(s)` (xl separates the last three with tabs);
    /// the extra columns of `-v`, `-c`, `-n`, `--cpupool` are rejected. Names are read as everything before the last
    /// five columns, so a name longer than xl's 40-character column still parses. Empty output is an error: xl always
    /// prints the header (and dom0).
    public static func list(_ text: String) throws(XLParseError) -> [XLDomainRow] {
        let command = "xl list"
        let lines = try headerAndRows(
            text,
            command: command,
            header: ["Name", "ID", "Mem", "VCPUs", "State", "Time(s)"]
        )
        var rows: [XLDomainRow] = []
        for (number, line) in lines {
            func fail(_ reason: String) -> XLParseError {
                XLParseError(command: command, lineNumber: number, line: line, reason: reason)
            }
            let columns = tokens(line)
            guard columns.count >= 6 else { throw fail("expected a name and 5 columns (ID Mem VCPUs State Time)") }
            let tail = columns.suffix(5).map(String.init)
            let name = line[..<columns[columns.count - 5].startIndex].trimmingCharacters(in: .whitespaces)
            guard let id = Int(tail[0]), id >= 0 else { throw fail("the ID column '\(tail[0])' is not a domain id") }
            guard let memory = Int(tail[1]), memory >= 0 else { throw fail("the Mem column '\(tail[1])' is not MiB") }
            guard let vcpus = Int(tail[2]), vcpus >= 0 else {
                throw fail("the VCPUs column '\(tail[2])' is not a count")
            }
            guard let (state, reason) = decodeDomainFlags(tail[3]) else {
                throw fail("the State column '\(tail[3])' is not six flags r b p s (reason) d, each or '-'")
            }
            guard let seconds = Double(tail[4]), seconds.isFinite, seconds >= 0 else {
                throw fail("the Time(s) column '\(tail[4])' is not seconds")
            }
            rows.append(
                XLDomainRow(
                    name: name,
                    id: id,
                    memoryMiB: memory,
                    vcpus: vcpus,
                    stateFlags: tail[3],
                    cpuSeconds: seconds,
                    state: state,
                    shutdownReason: reason
                )
            )
        }
        return rows
    }

    /// Parses `xl list -l` and `xl list -l NAME` (JSON; the `sxp` output format of xl.conf is rejected).
    ///
    /// xl prints a JSON array with one object per domain; a single top-level object is accepted too. Each needs
    /// `domid` and `config.c_info.name`; everything else is optional (dom0's entry has no `max_vcpus` or `uuid`).
    /// Structural errors have no line number; a syntax error names the line Foundation points at.
    public static func listLong(_ text: String) throws(XLParseError) -> [XLDomainDetails] {
        let command = "xl list -l"
        guard !isBlank(text) else { throw XLParseError(command: command, reason: "empty output") }
        let data = Data(text.utf8)
        try checkJSONSyntax(data, text: text, command: command)
        let entries: [ListLongJSON.Entry]
        do {
            if text.drop(while: { $0.isWhitespace }).first == "{" {
                entries = [try JSONDecoder().decode(ListLongJSON.Entry.self, from: data)]
            } else {
                entries = try JSONDecoder().decode([ListLongJSON.Entry].self, from: data)
            }
        } catch let error as DecodingError { throw jsonError(error, text: text, command: command) } catch {
            throw XLParseError(command: command, reason: "not JSON: \(error)")
        }
        var domains: [XLDomainDetails] = []
        for (index, entry) in entries.enumerated() {
            func fail(_ reason: String) -> XLParseError {
                XLParseError(command: command, reason: "domain \(index) (domid \(entry.domid)): \(reason)")
            }
            guard (0...0x7fef).contains(entry.domid) else { throw fail("domid is not a domain id") }
            guard !entry.config.cInfo.name.isEmpty else { throw fail("config.c_info.name is empty") }
            var addresses: [PCIAddress] = []
            for (slot, device) in (entry.config.pcidevs ?? []).enumerated() {
                let address = PCIAddress(
                    domain: device.domain ?? 0,
                    bus: device.bus ?? 0,
                    device: device.dev ?? 0,
                    function: device.function ?? 0
                )
                let valid =
                    (0...0xffff).contains(address.domain) && (0...0xff).contains(address.bus)
                    && (0...0x1f).contains(address.device) && (0...7).contains(address.function)
                guard valid else { throw fail("config.pcidevs[\(slot)] is not a PCI address") }
                addresses.append(address)
            }
            let config = entry.config
            domains.append(
                XLDomainDetails(
                    domid: entry.domid,
                    name: config.cInfo.name,
                    type: config.cInfo.type,
                    uuid: config.cInfo.uuid,
                    maxVCPUs: config.bInfo?.maxVCPUs,
                    maxMemoryKiB: config.bInfo?.maxMemoryKiB,
                    targetMemoryKiB: config.bInfo?.targetMemoryKiB,
                    passthrough: config.cInfo.passthrough,
                    nics: (config.nics ?? [])
                        .map {
                            XLDomainDetails.NIC(devid: $0.devid, mac: $0.mac, bridge: $0.bridge, nictype: $0.nictype)
                        },
                    pciDevices: addresses
                )
            )
        }
        return domains
    }

    /// Parses `xl vcpu-list` and `xl vcpu-list NAME...`.
    ///
    /// Accepts the 4.5+ header (`... Affinity (Hard / Soft)`) and the older single `Affinity` column. Header-only
    /// output is an empty list: xl prints the header before it finds out a named domain does not exist. An offline
    /// vCPU must show CPU `-` and state `--p`; an online one a CPU number and a state ending in `-`.
    public static func vcpuList(_ text: String) throws(XLParseError) -> [XLVcpuRow] {
        let command = "xl vcpu-list"
        let numbered = numberedLines(text).filter { !isBlank($0.1) }
        guard let (headerNumber, headerLine) = numbered.first else {
            throw XLParseError(command: command, reason: "empty output; xl prints a header first")
        }
        let header = tokens(headerLine).map(String.init)
        let base = ["Name", "ID", "VCPU", "CPU", "State", "Time(s)", "Affinity"]
        let hasSoft: Bool
        if header == base + ["(Hard", "/", "Soft)"] {
            hasSoft = true
        } else if header == base {
            hasSoft = false
        } else {
            throw XLParseError(
                command: command,
                lineNumber: headerNumber,
                line: headerLine,
                reason: "expected the header 'Name ID VCPU CPU State Time(s) Affinity (Hard / Soft)'"
            )
        }
        var rows: [XLVcpuRow] = []
        for (number, line) in numbered.dropFirst() {
            func fail(_ reason: String) -> XLParseError {
                XLParseError(command: command, lineNumber: number, line: line, reason: reason)
            }
            let columns = tokens(line)
            let trailing = hasSoft ? 8 : 6
            guard columns.count > trailing else {
                throw fail("expected a name and \(trailing) columns (ID VCPU CPU State Time Affinity)")
            }
            let tail = columns.suffix(trailing).map(String.init)
            let name = line[..<columns[columns.count - trailing].startIndex].trimmingCharacters(in: .whitespaces)
            guard let domid = Int(tail[0]), domid >= 0 else {
                throw fail("the ID column '\(tail[0])' is not a domain id")
            }
            guard let vcpu = Int(tail[1]), vcpu >= 0 else { throw fail("the VCPU column '\(tail[1])' is not a number") }
            let state = tail[3]
            let flags = Array(state)
            guard flags.count == 3, "r-".contains(flags[0]), "b-".contains(flags[1]), "p-".contains(flags[2]) else {
                throw fail("the State column '\(state)' is not three flags r b p, each or '-'")
            }
            let cpu: Int?
            if flags[2] == "p" {
                guard tail[2] == "-", state == "--p" else {
                    throw fail("an offline vCPU (state '\(state)') must show CPU '-' and state '--p'")
                }
                cpu = nil
            } else {
                guard let number = Int(tail[2]), number >= 0 else {
                    throw fail("the CPU column '\(tail[2])' of an online vCPU is not a CPU number")
                }
                cpu = number
            }
            guard let seconds = Double(tail[4]), seconds.isFinite, seconds >= 0 else {
                throw fail("the Time(s) column '\(tail[4])' is not seconds")
            }
            if hasSoft, tail[6] != "/" { throw fail("expected the affinity as 'HARD / SOFT'") }
            rows.append(
                XLVcpuRow(
                    name: name,
                    domid: domid,
                    vcpu: vcpu,
                    cpu: cpu,
                    stateFlags: state,
                    cpuSeconds: seconds,
                    hardAffinity: tail[5],
                    softAffinity: hasSoft ? tail[7] : nil
                )
            )
        }
        return rows
    }

    /// Parses `xl pci-list NAME`.
    ///
    /// Empty output is an empty list: xl prints nothing at all, not even the header, for a guest without PCI
    /// devices. Otherwise the header `Vdev Device` comes first, then `ss.f dddd:bb:dd.f` rows.
    public static func pciList(_ text: String) throws(XLParseError) -> [XLPCIListRow] {
        let command = "xl pci-list"
        let numbered = numberedLines(text).filter { !isBlank($0.1) }
        guard let (headerNumber, headerLine) = numbered.first else { return [] }
        guard tokens(headerLine) == ["Vdev", "Device"] else {
            throw XLParseError(
                command: command,
                lineNumber: headerNumber,
                line: headerLine,
                reason: "expected the header 'Vdev Device'"
            )
        }
        var rows: [XLPCIListRow] = []
        for (number, line) in numbered.dropFirst() {
            func fail(_ reason: String) -> XLParseError {
                XLParseError(command: command, lineNumber: number, line: line, reason: reason)
            }
            let columns = tokens(line).map(String.init)
            guard columns.count == 2 else { throw fail("expected 'VDEV DEVICE', such as '00.0 0000:00:04.0'") }
            let vdev = columns[0].split(separator: ".", omittingEmptySubsequences: false)
            guard vdev.count == 2, vdev[0].count == 2, vdev[1].count == 1, let slot = hexNumber(vdev[0]), slot <= 0x1f,
                let function = hexNumber(vdev[1]), function <= 7
            else { throw fail("the Vdev column '\(columns[0])' is not a slot.function such as 00.0") }
            guard case .success(let address) = PCIAddress.parse(columns[1]) else {
                throw fail("the Device column '\(columns[1])' is not a PCI address")
            }
            rows.append(XLPCIListRow(vdev: columns[0], virtualSlot: slot, virtualFunction: function, address: address))
        }
        return rows
    }

    /// Parses `xl pci-assignable-list`: the host devices ready for passthrough.
    ///
    /// Empty output is an empty list. Each line is an address followed by a space (and, with `-n`, the device's
    /// name, which is dropped). A device attached to a guest is not listed while it is attached.
    public static func pciAssignableList(_ text: String) throws(XLParseError) -> [PCIAddress] {
        var addresses: [PCIAddress] = []
        for (number, line) in numberedLines(text) where !isBlank(line) {
            let columns = tokens(line)
            guard columns.count <= 2, let first = columns.first,
                case .success(let address) = PCIAddress.parse(String(first))
            else {
                throw XLParseError(
                    command: "xl pci-assignable-list",
                    lineNumber: number,
                    line: line,
                    reason: "expected a PCI address such as 0000:00:04.0 (and optionally its name)"
                )
            }
            addresses.append(address)
        }
        return addresses
    }

    /// Parses `xl network-list NAME...` (rows carry no domain name, so several domains' rows run together).
    ///
    /// The header (`Idx BE Mac Addr. handle state evt-ch tx-/rx-ring-ref BE-path`) must come first; header-only
    /// output is an empty list (a guest without interfaces). Empty output is an error.
    public static func networkList(_ text: String) throws(XLParseError) -> [XLNetworkRow] {
        let command = "xl network-list"
        let numbered = numberedLines(text).filter { !isBlank($0.1) }
        guard let (headerNumber, headerLine) = numbered.first else {
            throw XLParseError(command: command, reason: "empty output; xl prints a header first")
        }
        let expected = ["Idx", "BE", "Mac", "Addr.", "handle", "state", "evt-ch", "tx-/rx-ring-ref", "BE-path"]
        guard tokens(headerLine).map(String.init) == expected else {
            throw XLParseError(
                command: command,
                lineNumber: headerNumber,
                line: headerLine,
                reason: "expected the header 'Idx BE Mac Addr. handle state evt-ch tx-/rx-ring-ref BE-path'"
            )
        }
        var rows: [XLNetworkRow] = []
        for (number, line) in numbered.dropFirst() {
            func fail(_ reason: String) -> XLParseError {
                XLParseError(command: command, lineNumber: number, line: line, reason: reason)
            }
            let columns = tokens(line).map(String.init)
            guard columns.count == 8 else {
                throw fail("expected 8 columns: Idx BE MAC handle state evt-ch TX/RX BE-path")
            }
            func integer(_ column: Int, _ label: String, minimum: Int = 0) throws(XLParseError) -> Int {
                guard let value = Int(columns[column]), value >= minimum else {
                    throw fail("the \(label) column '\(columns[column])' is not a number")
                }
                return value
            }
            func optional(_ value: Int) -> Int? { value == -1 ? nil : value }
            let idx = try integer(0, "Idx")
            let backend = try integer(1, "BE")
            guard isMAC(columns[2]) else { throw fail("'\(columns[2])' is not a MAC address") }
            let handle = try integer(3, "handle")
            let state = try integer(4, "state")
            let channel = try integer(5, "evt-ch", minimum: -1)
            let rings = columns[6].split(separator: "/", omittingEmptySubsequences: false)
            guard rings.count == 2, let tx = Int(rings[0]), let rx = Int(rings[1]), tx >= -1, rx >= -1 else {
                throw fail("the ring-ref column '\(columns[6])' is not TX/RX grant references")
            }
            guard columns[7].hasPrefix("/") else { throw fail("the BE-path column '\(columns[7])' is not a path") }
            rows.append(
                XLNetworkRow(
                    idx: idx,
                    backendDomid: backend,
                    mac: columns[2],
                    handle: handle,
                    state: state,
                    eventChannel: optional(channel),
                    txRingRef: optional(tx),
                    rxRingRef: optional(rx),
                    backendPath: columns[7]
                )
            )
        }
        return rows
    }

    /// Parses `xl domid NAME`: one line with the domain id.
    public static func domid(_ text: String) throws(XLParseError) -> Int {
        let lines = numberedLines(text).filter { !isBlank($0.1) }
        guard lines.count == 1, let line = lines.first?.1, let id = Int(line.trimmingCharacters(in: .whitespaces)),
            id >= 0
        else {
            throw XLParseError(
                command: "xl domid",
                lineNumber: lines.first?.0,
                line: lines.first?.1,
                reason: lines.isEmpty ? "empty output" : "expected one line with a domain id"
            )
        }
        return id
    }

    /// Parses `xenstore-read PATH` (one path): the value without the newline xenstore-read adds.
    ///
    /// An empty xenstore value prints as a lone newline and parses to `""`; output without any newline (nothing
    /// printed) or with more than one line is an error.
    public static func xenstoreRead(_ text: String) throws(XLParseError) -> String {
        let command = "xenstore-read"
        guard text.hasSuffix("\n") else {
            throw XLParseError(command: command, reason: text.isEmpty ? "empty output" : "no final newline")
        }
        let value = String(text.dropLast())
        guard !value.contains("\n") else {
            let second = numberedLines(text).dropFirst().first
            throw XLParseError(command: command, lineNumber: 2, line: second?.1, reason: "expected one line")
        }
        return value
    }
}

// MARK: - stderr

/// What one line of xl's stderr says, for the messages the harness knows.
public enum XLMessageKind: Sendable, Hashable {
    /// `Requested 5 VCPUs, however maxcpus is 4!` (from `xl vcpu-set -i`).
    case vcpusAboveMaximum(requested: Int, maximum: Int)
    /// `You are overcommmitting! You have 2 physical CPUs and want 4 vCPUs! ...` (`xl vcpu-set` without `-i`,
    /// which xl checks before maxvcpus: `xl vcpu-set NAME 5` on a 2-CPU host says this, not the maxvcpus error).
    case overcommit(physicalCPUs: Int, requestedVCPUs: Int)
    /// `NAME is an invalid domain identifier (rc=-6)`.
    case noSuchDomain(String)
    /// `xc_assign_device failed: Operation not supported` (`xl pci-attach` on a host without an IOMMU).
    case noIOMMU
    /// `passthrough not supported on this platform` (`xl create` of a guest with `passthrough="enabled"` or `pci=`
    /// on a host without an IOMMU).
    case passthroughUnsupported
    /// `failed to quarantine ADDRESS` (`xl pci-assignable-add` without an IOMMU; the device is listed as assignable
    /// anyway).
    case quarantineFailed(String)
    /// `The kernel doesn't support reset from sysfs for PCI device ADDRESS`: logged at error level on every
    /// successful pci-attach/detach of a device without a reset method; harmless.
    case pciResetUnsupported(String)
    /// `Domain with name "NAME" already exists.` (`xl create` of a name in use).
    case domainNameInUse(String)
    /// `xenstore-read: couldn't read path PATH`.
    case xenstorePathUnreadable(String)
    /// A libxl line reporting that a step failed after an earlier line gave the reason: `cannot make domain`,
    /// `libxl_set_vcpuonline failed`, `libxl__device_pci_add failed`, `unable to add device`, the destroy-after-failed
    /// create lines.
    case consequence
    /// Progress, not a problem: `Parsing config from`, `Shutting down domain`, `Waiting for N domains`,
    /// `Domain N has been shut down`, and libxl `info:` lines.
    case progress
    /// A line the harness does not know.
    case unrecognized
}

/// One line of xl's stderr, with a short explanation when it is known.
public struct XLMessage: Sendable, Hashable {
    /// What the line says.
    public var kind: XLMessageKind
    /// The 1-based line number within stderr.
    public var lineNumber: Int
    /// The line as xl printed it.
    public var text: String
    /// The libxl level (`error`, `info`, ...) when the line has libxl's `libxl: LEVEL: file.c:N:function:` prefix.
    public var libxlLevel: String?
    /// A short sentence for a reader of the report; nil for progress, consequences and unrecognized lines.
    public var explanation: String?

    /// Lines that do not indicate a failure: progress and the PCI reset notice.
    public var isHarmless: Bool {
        switch kind {
        case .progress, .pciResetUnsupported: true
        default: false
        }
    }
}

/// xl's stderr, line by line.
public struct XLStderr: Sendable, Hashable {
    /// Every non-blank line, classified.
    public var messages: [XLMessage]

    /// The line that best explains a failure: the first known, non-harmless problem; else the first unrecognized
    /// line; else the first consequence line; nil when stderr has only harmless lines (or none).
    public var primaryProblem: XLMessage? {
        messages.first { $0.explanation != nil && !$0.isHarmless } ?? messages.first { $0.kind == .unrecognized }
            ?? messages.first { $0.kind == .consequence }
    }

    /// One sentence for the report: the primary problem's explanation, or its original text when it is not known.
    public var summary: String? { primaryProblem.map { $0.explanation ?? $0.text } }
}

extension XLParse {
    /// Classifies each line of an xl command's stderr; never fails (unknown lines are `.unrecognized`).
    public static func stderr(_ text: String) -> XLStderr {
        var messages: [XLMessage] = []
        for (number, line) in numberedLines(text) where !isBlank(line) {
            let (level, body) = splitLibxlPrefix(line)
            let (kind, explanation) = classify(body, level: level)
            messages.append(
                XLMessage(kind: kind, lineNumber: number, text: line, libxlLevel: level, explanation: explanation)
            )
        }
        return XLStderr(messages: messages)
    }

    private static func classify(_ body: String, level: String?) -> (XLMessageKind, String?) {
        if let match = body.firstMatch(of: /Requested (\d+) VCPUs, however maxcpus is (\d+)!/),
            let requested = Int(match.1), let maximum = Int(match.2)
        {
            return (
                .vcpusAboveMaximum(requested: requested, maximum: maximum),
                "asked for \(requested) vCPUs; the guest's maxvcpus is \(maximum)"
            )
        }
        if let match = body.firstMatch(
            of: /You are overcomm+itting! You have (\d+) physical CPUs and want (\d+) vCPUs!/
        ), let physical = Int(match.1), let requested = Int(match.2) {
            return (
                .overcommit(physicalCPUs: physical, requestedVCPUs: requested),
                "asked for \(requested) vCPUs on a host with \(physical) physical CPUs; xl refuses without -i"
            )
        }
        if let match = body.wholeMatch(of: /(.+) is an invalid domain identifier( \(rc=-?\d+\))?/) {
            return (.noSuchDomain(String(match.1)), "no such domain: \(match.1)")
        }
        if body.contains("xc_assign_device failed: Operation not supported") {
            return (.noIOMMU, "the host has no IOMMU for passthrough")
        }
        if body.contains("passthrough not supported on this platform") {
            return (.passthroughUnsupported, "the guest asks for PCI passthrough but the host has no IOMMU")
        }
        if let match = body.firstMatch(of: /failed to quarantine (\S+)/) {
            return (
                .quarantineFailed(String(match.1)),
                "could not quarantine \(match.1) for passthrough (the host has no IOMMU?)"
            )
        }
        if let match = body.firstMatch(of: /The kernel doesn't support reset from sysfs for PCI device (\S+)/) {
            return (.pciResetUnsupported(String(match.1)), "dom0 cannot reset \(match.1) through sysfs (harmless)")
        }
        if let match = body.firstMatch(of: /Domain with name "(.*)" already exists/) {
            return (.domainNameInUse(String(match.1)), "a domain named \(match.1) already exists")
        }
        if let match = body.firstMatch(of: /^xenstore-read: couldn't read path (.+)$/) {
            return (.xenstorePathUnreadable(String(match.1)), "xenstore has no readable \(match.1)")
        }
        let consequences = [
            "cannot make domain", "libxl_set_vcpuonline failed", "libxl__device_pci_add failed", "unable to add device",
            "Unable to destroy guest", "Destruction of domain failed", "Non-existant domain",
        ]
        if consequences.contains(where: { body.contains($0) }) { return (.consequence, nil) }
        if level == "info" || body.hasPrefix("Parsing config from ") || body.hasPrefix("Shutting down domain ")
            || body.firstMatch(of: /^Waiting for \d+ domains$/) != nil
            || body.firstMatch(of: /^Domain \d+ has been shut down, reason code \d+$/) != nil
        {
            return (.progress, nil)
        }
        return (.unrecognized, nil)
    }

    /// `libxl: error: libxl_pci.c:1529:pci_add_dm_done: Domain 1:MESSAGE` -> ("error", "MESSAGE").
    private static func splitLibxlPrefix(_ line: String) -> (String?, String) {
        guard let match = line.wholeMatch(of: /libxl: ([a-z]+): [^:]+:\d+:[^:]+: (?:Domain \d+:)?(.*)/) else {
            return (nil, line)
        }
        return (String(match.1), String(match.2))
    }
}

// MARK: - Helpers

extension XLParse {
    /// Lines numbered from 1, without `\n` or a trailing `\r`; the empty piece after a final newline is dropped.
    fileprivate static func numberedLines(_ text: String) -> [(Int, String)] {
        var pieces = text.split(separator: "\n", omittingEmptySubsequences: false)
        if pieces.last?.isEmpty == true { pieces.removeLast() }
        return pieces.enumerated()
            .map { index, piece in (index + 1, String(piece.hasSuffix("\r") ? piece.dropLast() : piece)) }
    }

    fileprivate static func isBlank(_ text: some StringProtocol) -> Bool {
        text.allSatisfy { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" }
    }

    /// Columns split on spaces and tabs; the substrings index into `line`.
    fileprivate static func tokens(_ line: String) -> [Substring] {
        line.split(whereSeparator: { $0 == " " || $0 == "\t" })
    }

    fileprivate static func words(_ text: String) -> [String] { tokens(text).map(String.init) }

    fileprivate static func hexNumber(_ text: Substring) -> Int? {
        guard !text.isEmpty, text.utf8.allSatisfy({ isHexDigit($0) }) else { return nil }
        return Int(text, radix: 16)
    }

    fileprivate static func isHexDigit(_ byte: UInt8) -> Bool {
        (0x30...0x39).contains(byte) || (0x61...0x66).contains(byte) || (0x41...0x46).contains(byte)
    }

    fileprivate static func isMAC(_ text: String) -> Bool {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        return parts.count == 6 && parts.allSatisfy { $0.count == 2 && $0.utf8.allSatisfy(isHexDigit) }
    }

    /// The rows after a header whose columns must be exactly `header`; empty output is an error.
    fileprivate static func headerAndRows(_ text: String, command: String, header: [String]) throws(XLParseError)
        -> ArraySlice<(Int, String)>
    {
        let numbered = numberedLines(text).filter { !isBlank($0.1) }
        guard let (number, line) = numbered.first else {
            throw XLParseError(command: command, reason: "empty output; xl prints a header first")
        }
        guard tokens(line).map(String.init) == header else {
            throw XLParseError(
                command: command,
                lineNumber: number,
                line: line,
                reason: "expected the header '\(header.joined(separator: " "))'"
            )
        }
        return numbered.dropFirst()
    }

    /// `rbpsRd` flags -> state and shutdown reason; nil when a flag is not its letter or '-'.
    fileprivate static func decodeDomainFlags(_ flags: String) -> (XLDomainState, XLShutdownReason?)? {
        let characters = Array(flags)
        guard characters.count == 6, "r-".contains(characters[0]), "b-".contains(characters[1]),
            "p-".contains(characters[2]), "s-".contains(characters[3]), "d-".contains(characters[5])
        else { return nil }
        let isShutdown = characters[3] == "s"
        let reason: XLShutdownReason?
        switch characters[4] {
        case "-": reason = isShutdown ? .poweroff : nil
        case "r": reason = .reboot
        case "s": reason = .suspend
        case "c": reason = .crash
        case "w": reason = .watchdog
        case "S": reason = .softReset
        case "?": reason = .unknown
        default: return nil
        }
        // xl prints a reason letter only for a domain that has shut down.
        if !isShutdown, reason != nil { return nil }
        let state: XLDomainState =
            if characters[5] == "d" { .dying } else if reason == .crash { .crashed } else if isShutdown {
                .shutdown
            } else if characters[2] == "p" { .paused } else { .running }
        return (state, reason)
    }

    /// Throws when `data` is not JSON at all, naming the line Foundation points at ("around character N"), or the
    /// last line when the text ends early.
    fileprivate static func checkJSONSyntax(_ data: Data, text: String, command: String) throws(XLParseError) {
        do { _ = try JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed]) } catch {
            let detail = (error as NSError).userInfo[NSDebugDescriptionErrorKey] as? String ?? "\(error)"
            let lines = numberedLines(text)
            var lineNumber: Int?
            if let match = detail.firstMatch(of: /character (\d+)/), let offset = Int(match.1) {
                lineNumber = data.prefix(max(0, offset)).reduce(1) { $1 == 0x0a ? $0 + 1 : $0 }
            } else if detail.localizedCaseInsensitiveContains("end of file") {
                lineNumber = lines.last?.0
            }
            let line = lineNumber.flatMap { number in lines.first { $0.0 == number }?.1 }
            throw XLParseError(
                command: command,
                lineNumber: line == nil ? nil : lineNumber,
                line: line,
                reason: "not valid JSON (\(detail))"
            )
        }
    }

    /// A decoding failure of `xl list -l` (valid JSON, wrong structure) as a parse error without a line number.
    fileprivate static func jsonError(_ error: DecodingError, text: String, command: String) -> XLParseError {
        func path(_ keys: [any CodingKey]) -> String {
            keys.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined()
        }
        switch error {
        case .keyNotFound(let key, let context):
            return XLParseError(command: command, reason: "\(path(context.codingPath + [key])) is missing")
        case .valueNotFound(_, let context):
            return XLParseError(command: command, reason: "\(path(context.codingPath)) is null")
        case .typeMismatch(let type, let context):
            let place = context.codingPath.isEmpty ? "the top level" : path(context.codingPath)
            return XLParseError(command: command, reason: "\(place) is not \(type)")
        case .dataCorrupted(let context):
            return XLParseError(command: command, reason: "not the expected JSON: \(context.debugDescription)")
        @unknown default: return XLParseError(command: command, reason: "not the expected JSON: \(error)")
        }
    }
}

/// The part of `xl list -l`'s JSON the parser reads.
private enum ListLongJSON {
    struct Entry: Decodable {
        var domid: Int
        var config: Config
    }

    struct Config: Decodable {
        var cInfo: CInfo
        var bInfo: BInfo?
        var nics: [NIC]?
        var pcidevs: [PCIDevice]?

        enum CodingKeys: String, CodingKey {
            case cInfo = "c_info"
            case bInfo = "b_info"
            case nics, pcidevs
        }
    }

    struct CInfo: Decodable {
        var type: String?
        var name: String
        var uuid: String?
        var passthrough: String?
    }

    struct BInfo: Decodable {
        var maxVCPUs: Int?
        var maxMemoryKiB: Int?
        var targetMemoryKiB: Int?

        enum CodingKeys: String, CodingKey {
            case maxVCPUs = "max_vcpus"
            case maxMemoryKiB = "max_memkb"
            case targetMemoryKiB = "target_memkb"
        }
    }

    struct NIC: Decodable {
        var devid: Int?
        var mac: String?
        var bridge: String?
        var nictype: String?
    }

    struct PCIDevice: Decodable {
        var domain: Int?
        var bus: Int?
        var dev: Int?
        var function: Int?

        enum CodingKeys: String, CodingKey {
            case domain, bus, dev
            case function = "func"
        }
    }
}
