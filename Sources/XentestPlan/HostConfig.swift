import Foundation
import Yams
import XentestSupport

/// What the tester offers a run on this host: PCI devices by role, the bridge, the test guest.
///
/// Plans say *what* to test; this file says *which* device and network to use. A case that needs a role this
/// file does not name is skipped with that reason.
public struct HostConfig: Sendable, Hashable {
    /// A PCI device offered for passthrough.
    public struct PCIDevice: Sendable, Hashable {
        /// Its address on the host (`0000:03:00.0`).
        public var address: PCIAddress
        /// Whether it has a large BAR (a graphics card with much video RAM), for cases that need one.
        public var largeBar: Bool
    }

    /// The tester's own guest, offered by role for cases to copy (`from-host: ROLE`); never started, changed or
    /// destroyed itself.
    public struct OwnGuest: Sendable, Hashable {
        /// Where its definition lives on the Xen host.
        public enum Source: Sendable, Hashable, CustomStringConvertible {
            /// An xl (or xm-era) config file, by absolute path on the Xen host.
            case xlConfig(path: String)
            /// A libvirt domain, by name, as a template.
            case libvirtDomain(name: String)

            /// As the host file writes it: `xl-config /etc/xen/web.cfg`.
            public var description: String {
                switch self {
                case .xlConfig(let path): "xl-config \(path)"
                case .libvirtDomain(let name): "libvirt-domain \(name)"
                }
            }
        }
        /// Its config file or template domain.
        public var source: Source
        /// The address it answers pings on, when it has one (its own network setup gives it).
        public var address: String?

        /// A guest defined by `source`, answering on `address` when given.
        public init(source: Source, address: String? = nil) {
            self.source = source
            self.address = address
        }
    }

    /// PCI devices by role (`nic`, `gpu`).
    public var pciDevices: [String: PCIDevice]
    /// The tester's own guests by role (`desktop`, `web`).
    public var guests: [String: OwnGuest] = [:]
    /// The bridge guests' network interfaces join (`xenbr0`).
    public var bridge: String?
    /// A libvirt network to use instead of the bridge with the libvirt backend.
    public var libvirtNetwork: String?
    /// dom0's address on the bridge, for pings from the guest.
    public var hostAddress: String?
    /// The test guest's address on the bridge, for pings to the guest.
    public var guestAddress: String?
    /// The test guest's kernel.
    public var guestKernel: String?
    /// The test guest's initramfs.
    public var guestRamdisk: String?
    /// Extra kernel command line for the test guest.
    public var guestCommandLine: String?
    /// Where it came from (`built-in default for test:///default`, or a path).
    public var source: String

    /// A host file that offers nothing: every case needing a device, bridge or test guest is skipped.
    public static func empty(source: String) -> HostConfig { HostConfig(pciDevices: [:], source: source) }

    /// The built-in host for libvirt's test driver: its default network, no devices, no test guest.
    public static let testDriverDefault = HostConfig(
        pciDevices: [:],
        bridge: "virbr0",
        libvirtNetwork: "default",
        source: "built-in host file for libvirt's test driver"
    )

    /// The host file as the case's guest number `index` (from 0) sees it: with several guests in a case, each has
    /// an address of its own, `guest-address` plus `index` (10.0.0.2, 10.0.0.3, ...), written into `guest-cmdline`
    /// wherever the first address appears there (the test guest's `xentest.ip=`). Guest 0 sees the file as it is; an
    /// address that is not IPv4, or would pass .254, is left as it is.
    public func forGuest(_ index: Int) -> HostConfig {
        guard index > 0, let first = guestAddress else { return self }
        let parts = first.split(separator: ".", omittingEmptySubsequences: false).map { Int($0) }
        guard parts.count == 4, parts.allSatisfy({ $0 != nil && (0...255).contains($0!) }), let last = parts[3],
            last + index <= 254
        else { return self }
        let address = parts.prefix(3).map { String($0!) }.joined(separator: ".") + ".\(last + index)"
        var copy = self
        copy.guestAddress = address
        copy.guestCommandLine = guestCommandLine?.replacingOccurrences(of: first, with: address)
        return copy
    }

    /// A host config from its parts; everything not given is not offered.
    public init(
        pciDevices: [String: PCIDevice],
        bridge: String? = nil,
        libvirtNetwork: String? = nil,
        hostAddress: String? = nil,
        guestAddress: String? = nil,
        guestKernel: String? = nil,
        guestRamdisk: String? = nil,
        guestCommandLine: String? = nil,
        source: String
    ) {
        self.pciDevices = pciDevices
        self.bridge = bridge
        self.libvirtNetwork = libvirtNetwork
        self.hostAddress = hostAddress
        self.guestAddress = guestAddress
        self.guestKernel = guestKernel
        self.guestRamdisk = guestRamdisk
        self.guestCommandLine = guestCommandLine
        self.source = source
    }

    static let keys = [
        "pci-devices", "bridge", "libvirt-network", "host-address", "guest-address", "guest-kernel", "guest-ramdisk",
        "guest-cmdline", "guests",
    ]

    /// The plan keys of a file that has them and no host file key: a plan given where a host file goes.
    static func planKeys(_ root: Node) -> [String]? {
        guard case .mapping(let mapping) = root else { return nil }
        let names = Array(mapping.keys.compactMap(\.string))
        guard !names.contains(where: keys.contains) else { return nil }
        let found = names.filter { PlanSyntax.planKeys.contains($0) }
        return found.isEmpty ? nil : found
    }

    /// Loads and checks a host file; throws every problem at once.
    public static func load(path: String) throws(DiagnosticsError) -> HostConfig { try load(path: path, source: nil) }

    /// Loads host file text as if it were the file at `path`; for the fuzz targets (benchmarks/fuzz.sh).
    package static func load(text: Data, path: String) throws(DiagnosticsError) -> HostConfig {
        try load(path: path, source: text)
    }

    private static func load(path: String, source text: Data?) throws(DiagnosticsError) -> HostConfig {
        var diagnostics: [Diagnostic] = []
        let source =
            text.map { YAMLSource.parse($0, file: path, diagnostics: &diagnostics) }
            ?? YAMLSource.load(path: path, diagnostics: &diagnostics)
        let reader = YAMLReader(file: path)
        var config = HostConfig.empty(source: path)
        if let root = source.root, let planKeys = Self.planKeys(root) {
            reader.error(
                "this is a plan (it has " + planKeys.prefix(2).map { "'\($0)'" }.joined(separator: ", ")
                    + (planKeys.count > 2 ? ", ...), not a host file: " : "), not a host file: ")
                    + "name it as the plan, as in 'xentest run \(path) --host-config HOST.yaml'",
                at: root
            )
        } else if let root = source.root, let fields = reader.mapping(root, "the host file", allowed: keys) {
            config = read(fields, reader: reader, source: path)
        }
        diagnostics += reader.diagnostics
        guard !diagnostics.hasErrors else { throw DiagnosticsError(diagnostics.sortedBySource()) }
        return config
    }

    private static func read(_ fields: Fields, reader: YAMLReader, source: String) -> HostConfig {
        var config = HostConfig.empty(source: source)
        if let devices = fields["pci-devices"] {
            var seen: [PCIAddress: String] = [:]
            for entry in reader.namedEntries(devices, "pci-devices") {
                guard YAMLReader.isName(entry.name) else {
                    reader.error("role '\(entry.name)' is not a valid name", at: entry.keyNode)
                    continue
                }
                var largeBar = false
                var addressNode = entry.value
                if case .mapping = entry.value {
                    guard
                        let device = reader.mapping(
                            entry.value,
                            "pci device '\(entry.name)'",
                            allowed: ["address", "large-bar"],
                            required: ["address"]
                        ), let node = device["address"]
                    else { continue }
                    addressNode = node
                    largeBar = device["large-bar"].flatMap { reader.bool($0, "large-bar") } ?? false
                }
                guard let address = reader.parsed(addressNode, "address of '\(entry.name)'", PCIAddress.parse) else {
                    continue
                }
                if let other = seen[address] {
                    reader.error("\(address) is already offered as '\(other)'", at: addressNode)
                    continue
                }
                seen[address] = entry.name
                config.pciDevices[entry.name] = PCIDevice(address: address, largeBar: largeBar)
            }
        }
        if let guests = fields["guests"] { config.guests = readGuests(guests, reader: reader) }
        func text(_ key: String) -> String? { fields[key].flatMap { reader.string($0, key) } }
        config.bridge = text("bridge")
        config.libvirtNetwork = text("libvirt-network")
        config.hostAddress = text("host-address")
        config.guestAddress = text("guest-address")
        config.guestKernel = text("guest-kernel")
        config.guestRamdisk = text("guest-ramdisk")
        config.guestCommandLine = text("guest-cmdline")
        for key in ["host-address", "guest-address"] {
            if let node = fields[key], let value = text(key), !isIPv4(value) {
                reader.error("\(key) '\(value)' is not an IPv4 address such as 10.0.0.1", at: node)
            }
        }
        if let bridge = config.bridge, let node = fields["bridge"],
            bridge.count > 15 || bridge.contains("/") || bridge.contains(" ")
        {
            reader.error("bridge '\(bridge)' is not a valid interface name (15 characters, no '/' or spaces)", at: node)
        }
        return config
    }

    /// `guests: {ROLE: {xl-config: PATH} | {libvirt-domain: NAME}, address: IPv4}`.
    private static func readGuests(_ node: Node, reader: YAMLReader) -> [String: OwnGuest] {
        var guests: [String: OwnGuest] = [:]
        for entry in reader.namedEntries(node, "guests") {
            guard YAMLReader.isName(entry.name) else {
                reader.error("role '\(entry.name)' is not a valid name", at: entry.keyNode)
                continue
            }
            let what = "guest '\(entry.name)'"
            guard let fields = reader.mapping(entry.value, what, allowed: ["xl-config", "libvirt-domain", "address"])
            else { continue }
            var source: OwnGuest.Source?
            switch (fields["xl-config"], fields["libvirt-domain"]) {
            case (let pathNode?, nil):
                guard let path = reader.string(pathNode, "xl-config") else { continue }
                guard path.hasPrefix("/"), !path.contains("\n") else {
                    reader.error("xl-config '\(path)' must be an absolute path on the Xen host", at: pathNode)
                    continue
                }
                source = .xlConfig(path: path)
            case (nil, let nameNode?):
                guard let name = reader.string(nameNode, "libvirt-domain") else { continue }
                guard !name.isEmpty, !name.hasPrefix("xentest-"), !name.contains("\n") else {
                    reader.error(
                        "libvirt-domain '\(name)' must name the tester's own domain (xentest-* are a run's copies)",
                        at: nameNode
                    )
                    continue
                }
                source = .libvirtDomain(name: name)
            case (.some, .some):
                reader.error("\(what) has both 'xl-config' and 'libvirt-domain'; give one", at: entry.value)
            case (nil, nil):
                // An unknown key (a misspelt 'xl-config') is reported already, with the key it is closest to.
                if case .mapping(let mapping) = entry.value, mapping.count > fields.entries.count { break }
                reader.error(
                    "\(what) needs 'xl-config: PATH' (an xl or xm config file) or 'libvirt-domain: NAME'",
                    at: entry.value
                )
            }
            var address: String?
            if let node = fields["address"], let text = reader.string(node, "address") {
                if isIPv4(text) {
                    address = text
                } else {
                    reader.error("address '\(text)' is not an IPv4 address such as 10.0.0.1", at: node)
                }
            }
            if let source { guests[entry.name] = OwnGuest(source: source, address: address) }
        }
        return guests
    }

    private static func isIPv4(_ text: String) -> Bool {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        // Digits only: Int(_:) alone also takes a sign ("+1.2.3.4", "1.2.3.-0").
        return parts.count == 4
            && parts.allSatisfy { part in
                (1...3).contains(part.utf8.count) && part.utf8.allSatisfy { (0x30...0x39).contains($0) }
                    && Int(part)! <= 255
            }
    }
}
