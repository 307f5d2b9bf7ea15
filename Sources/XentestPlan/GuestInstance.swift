import XentestSupport
/// A guest spec made concrete for one case on one host: its domain name, MAC addresses, devices and boot files.
public struct GuestInstance: Sendable, Hashable {
    /// The domain name, `xentest-<run-id>-<case>`: the mark of everything a run owns.
    public var domainName: String
    /// The plan's guest this makes concrete.
    public var spec: GuestSpec
    /// The host file whose devices, bridge and boot files it uses.
    public var host: HostConfig

    /// A guest named `domainName` built from `spec` with the devices and files `host` offers.
    public init(domainName: String, spec: GuestSpec, host: HostConfig) {
        self.domainName = domainName
        self.spec = spec
        self.host = host
    }

    /// The MAC of interface `index`: Xen's OUI 00:16:3e and three bytes derived from the domain name, so a
    /// rerun gets the same address and two cases of one run do not collide.
    public func macAddress(nic index: Int) -> String {
        var hash: UInt32 = 2_166_136_261  // FNV-1a: stable across runs, unlike Hasher
        for byte in domainName.utf8 { hash = (hash ^ UInt32(byte)) &* 16_777_619 }
        let value = (hash &+ UInt32(index) &* 0x9E37) & 0x7F_FFFF  // top bit clear: below 00:16:3e:80:00:00
        let bytes = [(value >> 16) & 0xFF, (value >> 8) & 0xFF, value & 0xFF]
        return "00:16:3e:" + bytes.map { hexDigits($0, width: 2) }.joined(separator: ":")
    }

    /// Where disk `index`'s image goes (the guest's disks from the start first, then those attached, in order):
    /// `DIRECTORY/DOMAIN-disk<index>.<format>`, named by the domain so that it is the run's own; without a directory,
    /// the bare file name.
    public func diskImagePath(_ index: Int, _ format: DiskFormat, in directory: String?) -> String {
        let file = "\(domainName)-disk\(index).\(format.rawValue)"
        return directory.map { $0 + "/" + file } ?? file
    }

    /// Where the image of CD-ROM medium `index` goes (0 for the one the guest starts with, then one per
    /// `cd-insert`): `DIRECTORY/DOMAIN-cd<index>.iso`, or the bare file name.
    public func cdMediumPath(_ index: Int, in directory: String?) -> String {
        let file = "\(domainName)-cd\(index).iso"
        return directory.map { $0 + "/" + file } ?? file
    }

    /// Disk `index`'s device name with `prefix`: `xvda` for the first with `xvd`, `vdb` for the second with `vd`.
    public static func diskDeviceName(_ index: Int, prefix: String) -> String {
        let letters = Array("abcdefghijklmnopqrstuvwxyz")
        return prefix
            + (index < 26 ? String(letters[index]) : String(letters[index / 26 - 1]) + String(letters[index % 26]))
    }

    /// The PCI addresses passed through at creation, in the spec's order; roles the host lacks are left out
    /// (such a case is skipped before it gets here).
    public var pciAddresses: [PCIAddress] { spec.pci.compactMap { host.pciDevices[$0]?.address } }

    /// The kernel, or a placeholder that says where it comes from.
    public var kernel: String { host.guestKernel ?? "GUEST_KERNEL (guest-kernel in the host file)" }
    /// The ramdisk, or a placeholder that says where it comes from.
    public var ramdisk: String { host.guestRamdisk ?? "GUEST_RAMDISK (guest-ramdisk in the host file)" }
    /// The guest kernel's command line: console on the first Xen console (or serial port for HVM).
    public var commandLine: String {
        let console = spec.type == .hvm ? "console=ttyS0" : "console=hvc0"
        return ([console, "loglevel=4"] + (host.guestCommandLine.map { [$0] } ?? [])).joined(separator: " ")
    }
    /// The address the guest answers pings on: the host file's own guest's (`guests: {ROLE: {address: ...}}`) for a
    /// copy of one, else the test guest's `guest-address`.
    public var address: String? {
        guard let role = spec.fromHost else { return host.guestAddress }
        return host.guests[role]?.address
    }
    /// The bridge, or a placeholder.
    public var bridge: String { host.bridge ?? "BRIDGE" }
}
