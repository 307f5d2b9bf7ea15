import Foundation
import XentestPlan

extension XLParse {
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
            func cpus(_ column: String, _ which: String) throws(XLParseError) -> CPUSet {
                guard case .success(let cpus) = CPUSet.parse(column) else {
                    throw fail("the \(which) affinity '\(column)' is not a set of CPUs (all, 1, 0-1, 0,2)")
                }
                return cpus
            }
            let hard = try cpus(tail[5], "hard")
            let soft = hasSoft ? try cpus(tail[7], "soft") : nil
            rows.append(
                XLVcpuRow(
                    name: name,
                    domid: domid,
                    vcpu: vcpu,
                    cpu: cpu,
                    stateFlags: state,
                    cpuSeconds: seconds,
                    hardAffinity: hard,
                    softAffinity: soft
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
        let rows = try deviceTable(
            text,
            command: "xl network-list",
            header: ["Idx", "BE", "Mac", "Addr.", "handle", "state", "evt-ch", "tx-/rx-ring-ref", "BE-path"],
            layout: ["Idx", "BE", "MAC", "handle", "state", "evt-ch", "TX/RX", "BE-path"]
        )
        var interfaces: [XLNetworkRow] = []
        for row in rows {
            func optional(_ value: Int) -> Int? { value == -1 ? nil : value }
            let columns = row.columns
            let idx = try row.integer(0, "Idx")
            let backend = try row.integer(1, "BE")
            guard isMAC(columns[2]) else { throw row.fail("'\(columns[2])' is not a MAC address") }
            let handle = try row.integer(3, "handle")
            let state = try row.integer(4, "state")
            let channel = try row.integer(5, "evt-ch", minimum: -1)
            let rings = columns[6].split(separator: "/", omittingEmptySubsequences: false)
            guard rings.count == 2, let tx = Int(rings[0]), let rx = Int(rings[1]), tx >= -1, rx >= -1 else {
                throw row.fail("the ring-ref column '\(columns[6])' is not TX/RX grant references")
            }
            interfaces.append(
                XLNetworkRow(
                    idx: idx,
                    backendDomid: backend,
                    mac: columns[2],
                    handle: handle,
                    state: state,
                    eventChannel: optional(channel),
                    txRingRef: optional(tx),
                    rxRingRef: optional(rx),
                    backendPath: try row.path(7, "BE-path")
                )
            )
        }
        return interfaces
    }

    /// Parses `xl block-list NAME` (rows carry no domain name, as with network-list).
    ///
    /// The header (`Vdev BE handle state evt-ch ring-ref BE-path`) must come first; header-only output is an empty
    /// list. Empty output is an error. xl prints the header even for a guest it does not know, and exits 0, with the
    /// complaint on stderr: the caller checks stderr.
    public static func blockList(_ text: String) throws(XLParseError) -> [XLBlockRow] {
        let header = ["Vdev", "BE", "handle", "state", "evt-ch", "ring-ref", "BE-path"]
        var disks: [XLBlockRow] = []
        for row in try deviceTable(text, command: "xl block-list", header: header, layout: header) {
            let channel = try row.integer(4, "evt-ch", minimum: -1)
            let ring = try row.integer(5, "ring-ref", minimum: -1)
            disks.append(
                XLBlockRow(
                    vdev: try row.integer(0, "Vdev"),
                    backendDomid: try row.integer(1, "BE"),
                    handle: try row.integer(2, "handle"),
                    state: try row.integer(3, "state"),
                    eventChannel: channel == -1 ? nil : channel,
                    ringRef: ring == -1 ? nil : ring,
                    backendPath: try row.path(6, "BE-path")
                )
            )
        }
        return disks
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
