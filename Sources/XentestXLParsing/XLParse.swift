import Foundation
import XentestPlan

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
}
