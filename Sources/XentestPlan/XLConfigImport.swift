/// The plan guest xentest understands from an xl or xm config file, and what it could not carry over, line by line.
///
/// The mapping follows what xl itself does with the keys (tools/xl/xl_parse.c): `builder` (xm) sets the type as
/// `type` (xl) does, `kernel = "hvmloader"` of an HVM guest is ignored, a later assignment overrides an earlier one.
/// What the plan's guest holds is neutral (type, memory, vCPUs, NICs, PCI roles, `xl-config:`); what names one host's
/// things (its kernel, disks, bridge, PCI addresses) is reported with why and where it goes instead.
public struct XLConfigImport: Sendable, Hashable {
    /// The guest; its `name` is `imported`.
    public var guest: GuestSpec
    /// The config's keys that the guest does not hold, in file order.
    public var notCarriedOver: [NotCarriedOver]
    /// The file as the user named it.
    public var file: String
    /// Whether the config sets `memory` (otherwise the guest has a plan's default).
    var setsMemory = false

    /// A key (or one item of a list) the guest does not hold, and why.
    public struct NotCarriedOver: Sendable, Hashable, CustomStringConvertible {
        /// The key, with the item for a list (`disk[0]`).
        public var key: String
        /// Why, and where it goes instead when anywhere.
        public var reason: String
        /// Where the key or item is written.
        public var location: SourceLocation

        /// `FILE:LINE: key: why`.
        public var description: String {
            "\(SourceLocation(file: location.file, line: location.line)): \(key): \(reason)"
        }
    }

    /// Reads and imports `path`; errors (the file is not a config xl would take) are thrown, all of them.
    public static func load(path: String) throws(DiagnosticsError) -> XLConfigImport {
        try XLConfigImport(XLConfigFile.load(path: path))
    }

    /// Imports a parsed config; throws when xl would refuse it (a domain type it does not know, `builder` and `type`
    /// that contradict, a `+=` of the wrong kind).
    public init(_ config: XLConfigFile) throws(DiagnosticsError) {
        var reading = XLConfigReading()
        let (settings, diagnostics) = config.settings()
        reading.read(settings)
        let all = diagnostics + reading.diagnostics
        guard !all.hasErrors else { throw DiagnosticsError(all.sortedBySource()) }
        file = config.file
        guest = reading.guest
        setsMemory = reading.memorySet
        notCarriedOver = reading.notCarried.sorted {
            ($0.location.line, $0.location.column) < ($1.location.line, $1.location.column)
        }
    }
}

/// One pass over a config's settings, filling the guest and the list of what is left out.
struct XLConfigReading {
    var guest = GuestSpec(name: "imported", type: .pv)
    var diagnostics: [Diagnostic] = []
    var notCarried: [XLConfigImport.NotCarriedOver] = []
    var memorySet = false

    mutating func skip(_ key: String, _ reason: String, at location: SourceLocation) {
        notCarried.append(XLConfigImport.NotCarriedOver(key: key, reason: reason, location: location))
    }

    mutating func read(_ settings: [XLConfigFile.Setting]) {
        let byKey = Dictionary(settings.map { ($0.key, $0) }, uniquingKeysWith: { $1 })
        readType(byKey["type"], builder: byKey["builder"])
        for setting in settings {
            for earlier in setting.overridden {
                skip(setting.key, "set again at line \(setting.location.line); xl uses the last", at: earlier)
            }
            read(setting, allSettings: byKey)
        }
        if guest.maxvcpus < guest.vcpus, let maxvcpus = byKey["maxvcpus"] {
            skip(
                "maxvcpus",
                "fewer than vcpus (\(guest.vcpus)), which libxl refuses; the guest has maxvcpus \(guest.vcpus)",
                at: maxvcpus.location
            )
            guest.maxvcpus = guest.vcpus
        }
    }

    /// `type` (xl) and `builder` (xm, deprecated since Xen 4.10): xl takes any prefix of a type's name.
    mutating func readType(_ type: XLConfigFile.Setting?, builder: XLConfigFile.Setting?) {
        func prefix(_ text: String, of word: String) -> Bool { word.hasPrefix(text) }
        var fromType: GuestType?
        if let type, let text = type.value.text {
            fromType = [GuestType.hvm, .pv, .pvh].first { prefix(text, of: $0.rawValue) }
            if fromType == nil {
                diagnostics.append(.error("invalid domain type '\(text)': xl takes pv, pvh or hvm", at: type.location))
            }
        }
        guard let builder, let text = builder.value.text else {
            guest.type = fromType ?? .pv
            return
        }
        let fromBuilder: GuestType? = prefix(text, of: "hvm") ? .hvm : prefix(text, of: "generic") ? .pv : nil
        guard let fromBuilder else {
            diagnostics.append(
                .error("invalid builder '\(text)': xl takes 'hvm' or 'generic' (PV)", at: builder.location)
            )
            return
        }
        if let fromType, let type, fromType != fromBuilder {
            diagnostics.append(
                .error(
                    "builder '\(text)' contradicts type '\(type.value.text ?? "")' (line \(type.location.line)); xl "
                        + "refuses both: keep 'type'",
                    at: builder.location
                )
            )
        }
        guest.type = fromBuilder
    }

    mutating func read(_ setting: XLConfigFile.Setting, allSettings: [String: XLConfigFile.Setting]) {
        let key = setting.key
        let location = setting.location
        switch key {
        case "type", "builder":
            if setting.value.text == nil { skip(key, "a list, where xl takes a string; xl ignores it", at: location) }
        case "memory":
            guard let mebibytes = number(setting, in: 1...(1 << 24)) else { return }
            guest.memory = MemorySize(mebibytes: mebibytes)
            memorySet = true
        case "maxmem":
            guard let mebibytes = number(setting, in: 1...(1 << 24)) else { return }
            let memory = allSettings["memory"].flatMap { $0.value.text.flatMap(Self.integer) }
            if mebibytes != memory {
                skip(
                    key,
                    "a guest starts with as much memory as it may have; a case raises the limit with a 'mem-max' step",
                    at: location
                )
            }
        case "vcpus":
            guard let count = number(setting, in: 1...PlanSyntax.maximumVcpus) else { return }
            guest.vcpus = count
            if allSettings["maxvcpus"] == nil { guest.maxvcpus = count }
        case "maxvcpus":
            guard let count = number(setting, in: 1...PlanSyntax.maximumVcpus) else { return }
            guest.maxvcpus = count
        case "kernel":
            if guest.type == .hvm, setting.value.text?.split(separator: "/").last == "hvmloader" {
                skip(key, "xl ignores hvmloader as an HVM guest's kernel (it boots its own firmware)", at: location)
            } else {
                skip(key, XLConfigSetting.reserved[key] ?? "", at: location)
            }
        case "bootloader", "bootloader_args":
            skip(
                key,
                "xentest boots the host file's 'guest-kernel' itself, not a bootloader from the guest's own disk",
                at: location
            )
        case "serial" where guest.type == .hvm && setting.value.text == "pty": break  // what xentest writes
        case "disk": readDisks(setting)
        case "vif": readNICs(setting)
        case "pci": readPCI(setting)
        case "passthrough": readPassthrough(setting)
        case "device_model":
            skip(key, "xl ignores it (xl.cfg(5) has device_model_override); xentest uses the default", at: location)
        default:
            if let instead = XLConfigSetting.reserved[key] {
                skip(key, instead, at: location)
            } else if XLConfigKeys.documented.contains(key) {
                readXLConfig(setting)
            } else {
                var reason = "not a key xl.cfg(5) of Xen 4.17 documents"
                if let suggestion = closestMatch(to: key, in: XLConfigKeys.documented) {
                    reason += "; did you mean '\(suggestion)'?"
                }
                skip(key, reason, at: location)
            }
        }
    }

    /// A whole number in `range`, as xl reads one (strtol with base 0: `128`, `0x80`); otherwise reported.
    mutating func number(_ setting: XLConfigFile.Setting, in range: ClosedRange<Int>) -> Int? {
        guard let text = setting.value.text else {
            skip(setting.key, "a list, where xl takes a number; xl ignores it", at: setting.location)
            return nil
        }
        guard let value = Self.integer(text), range.contains(value) else {
            skip(
                setting.key,
                "'\(text)' is not a whole number from \(range.lowerBound) to \(range.upperBound)",
                at: setting.location
            )
            return nil
        }
        return value
    }

    /// `128`, `0x80` or `0200` (octal), as C's strtol with base 0.
    static func integer(_ text: String) -> Int? {
        if text.hasPrefix("0x") || text.hasPrefix("0X") { return Int(text.dropFirst(2), radix: 16) }
        if text.count > 1, text.hasPrefix("0") { return Int(text.dropFirst(), radix: 8) }
        return Int(text)
    }

    /// A documented key xentest does not write: into `xl-config:`, when the value fits there.
    mutating func readXLConfig(_ setting: XLConfigFile.Setting) {
        let value: XLConfigValue
        switch setting.value.kind {
        case .text(let text, let quoted):
            value = !quoted ? Int(text).map { .integer($0) } ?? .string(text) : .string(text)
        case .list(let items):
            let texts = items.compactMap(\.text)
            guard texts.count == items.count else {
                skip(setting.key, "a list of lists, which xl-config cannot hold", at: setting.location)
                return
            }
            value = .list(texts)
        }
        let texts: [String] =
            switch value {
            case .string(let text): [text]
            case .list(let items): items
            default: []
            }
        if texts.contains(where: { $0.unicodeScalars.contains { $0.value < 0x20 || $0.value == 0x7F } }) {
            skip(setting.key, "a control character or line break, which xl-config refuses", at: setting.location)
            return
        }
        guest.xlConfig.append(XLConfigSetting(key: setting.key, value: value))
    }
}
