import XentestPlan
import XentestRun
import XentestSupport
extension HypervisorDriver {
    /// The driver libvirt names `Xen`, `QEMU` or `TEST` (`virConnectGetType`); nil for others. Each wants its own
    /// domain type, OS type and console in domain XML.
    public init?(libvirtDriverType driverType: String) {
        switch driverType.lowercased() {
        case "xen", "libxl": self = .xen
        case "qemu": self = .qemu
        case "test": self = .test
        default: return nil
        }
    }
}

/// Renders a guest as libvirt domain XML (see libvirt's formatdomain), for `virDomainDefineXML`.
public enum DomainXMLRenderer {
    /// The domain XML; deterministic for the same guest and dialect. Its disk images are in `imageDirectory`.
    public static func render(
        _ guest: GuestInstance,
        dialect: HypervisorDriver,
        imageDirectory: String = "/var/lib/xentest"
    ) -> String {
        let spec = guest.spec
        let domainType: String
        let osType: String
        switch dialect {
        case .xen:
            domainType = "xen"
            osType = ["pv": "xen", "pvh": "xenpvh", "hvm": "hvm"][spec.type.rawValue]!
        case .qemu:
            domainType = "qemu"
            osType = "hvm"
        case .test:
            domainType = "test"
            osType = "hvm"
        }
        var xml = [
            "<domain type='\(domainType)'>", "  <name>\(xmlEscaped(guest.domainName))</name>",
            "  <memory unit='MiB'>\(spec.memory.mebibytes)</memory>",
            "  <vcpu placement='static' current='\(spec.vcpus)'>\(spec.maxvcpus)</vcpu>",
        ]
        if dialect == .qemu, spec.maxvcpus > 1 {
            // QEMU unplugs only vCPUs marked hotpluggable: all but the first, as on Xen, where any vCPU but 0 can go.
            xml.append("  <vcpus>")
            for id in 0..<spec.maxvcpus {
                let enabled = id < spec.vcpus ? "yes" : "no"
                xml.append("    <vcpu id='\(id)' enabled='\(enabled)' hotpluggable='\(id == 0 ? "no" : "yes")'/>")
            }
            xml.append("  </vcpus>")
        }
        xml += [
            "  <os>", "    <type arch='x86_64'>\(osType)</type>", "    <kernel>\(xmlEscaped(guest.kernel))</kernel>",
            "    <initrd>\(xmlEscaped(guest.ramdisk))</initrd>",
            "    <cmdline>\(xmlEscaped(guest.commandLine(for: dialect)))</cmdline>", "  </os>",
        ]
        var features: [String] = []
        if dialect == .qemu || (dialect == .xen && spec.type == .hvm) {
            // Without ACPI, QEMU runs with -no-acpi and libxl builds an HVM guest without ACPI tables (xl.cfg's
            // acpi=1 is xl's default, not libvirt's): no power button for shutdown, no vCPU or PCI hot-plug, and
            // the guest's kernel finds every vCPU up to the maximum in the MP table at boot. A plan's `xl-config:`
            // may turn either off.
            for feature in ["acpi", "apic"] where XLConfigMapping.has(feature, spec, otherwise: true) {
                features.append("    <\(feature)/>")
            }
        }
        features += XLConfigMapping.extraFeatures(spec, indent: "    ")
        if dialect == .xen, spec.passthrough {
            // libxl sizes the guest's IOMMU setup at creation: without this, later PCI hot-plug is refused.
            features += ["    <xen>", "      <passthrough state='on'/>", "    </xen>"]
        }
        if !features.isEmpty { xml += ["  <features>"] + features + ["  </features>"] }
        xml += [
            "  <on_poweroff>destroy</on_poweroff>", "  <on_reboot>restart</on_reboot>",
            "  <on_crash>destroy</on_crash>", "  <devices>",
        ]
        switch dialect {
        case .xen where spec.type != .hvm: xml.append("    <console type='pty'><target type='xen' port='0'/></console>")
        default:
            xml.append("    <serial type='pty'><target port='0'/></serial>")
            xml.append("    <console type='pty'><target type='serial' port='0'/></console>")
        }
        for index in 0..<spec.nics { xml.append(interfaceXML(guest, nic: index, dialect: dialect, indent: "    ")) }
        for address in guest.pciAddresses { xml.append(hostdevXML(address, indent: "    ")) }
        for (index, disk) in spec.disks.enumerated() {
            let path = guest.diskImagePath(index, disk.format, in: imageDirectory)
            xml.append(diskXML(disk, index: index, path: path, dialect: dialect, indent: "    "))
        }
        if spec.cdrom != nil { xml.append(cdromXML(medium: guest.cdMediumPath(0, in: imageDirectory), indent: "    ")) }
        if let video = XLConfigMapping.videoXML(spec, indent: "    ") { xml.append(video) }
        xml += ["  </devices>", "</domain>"]
        return xml.joined(separator: "\n") + "\n"
    }

    /// One `<interface>`: on the host file's libvirt network if it names one, otherwise on its bridge.
    public static func interfaceXML(
        _ guest: GuestInstance,
        nic index: Int,
        dialect: HypervisorDriver,
        indent: String = ""
    ) -> String {
        let source =
            guest.host.libvirtNetwork.map { "type='network'><source network='\(xmlEscaped($0))'/>" }
            ?? "type='bridge'><source bridge='\(xmlEscaped(guest.bridge))'/>"
        let model =
            switch dialect {
            case .qemu: "<model type='virtio'/>"
            case .xen where guest.spec.type == .hvm: "<model type='e1000'/>"  // as xl.cfg's model=e1000
            default: ""
            }
        return "\(indent)<interface \(source)<mac address='\(guest.macAddress(nic: index))'/>\(model)</interface>"
    }

    /// Disk `index`'s `<disk>`: on Xen a `xvd` disk on the `xen` bus, served as xl serves it (a raw image by blkback
    /// through a loop device, `phy`; qcow2 by QEMU's qdisk, `qemu`: libvirt's libxl driver otherwise takes `phy` for
    /// qcow2 too, showing the guest the file's bytes and refusing the detach); on QEMU (and the test driver) a `vd`
    /// disk on virtio.
    public static func diskXML(
        _ disk: DiskSpec,
        index: Int,
        path: String,
        dialect: HypervisorDriver,
        indent: String = ""
    ) -> String {
        let backend = dialect == .xen && disk.format == .raw ? "phy" : "qemu"
        let driver = "<driver name='\(backend)' type='\(disk.format.rawValue)'/>"
        return "\(indent)<disk type='file' device='disk'>\(driver)<source file='\(xmlEscaped(path))'/>"
            + "<target dev='\(diskDeviceName(index, dialect: dialect))' bus='\(dialect == .xen ? "xen" : "virtio")'/></disk>"
    }

    /// The CD-ROM drive's `<disk>`: on the emulated IDE bus, as xl's `devtype=cdrom` (QEMU serves it on Xen too),
    /// holding the raw image `medium`, or empty without one (`virDomainUpdateDeviceFlags` with it ejects).
    public static func cdromXML(medium: String?, indent: String = "") -> String {
        let source = medium.map { "<source file='\(xmlEscaped($0))'/>" } ?? ""
        return "\(indent)<disk type='file' device='cdrom'><driver name='qemu' type='raw'/>\(source)"
            + "<target dev='\(CDROMMedium.device)' bus='ide'/><readonly/></disk>"
    }

    /// Disk `index`'s target device: `xvda` on Xen, `vda` elsewhere; the guest names it alike.
    public static func diskDeviceName(_ index: Int, dialect: HypervisorDriver) -> String {
        GuestInstance.diskDeviceName(index, prefix: dialect == .xen ? "xvd" : "vd")
    }

    /// One managed PCI `<hostdev>`: libvirt detaches the device from its host driver and gives it back.
    public static func hostdevXML(_ address: PCIAddress, indent: String = "") -> String {
        func hex(_ value: Int, _ width: Int) -> String { "0x" + hexDigits(value, width: width) }
        return "\(indent)<hostdev mode='subsystem' type='pci' managed='yes'><source><address domain='"
            + hex(address.domain, 4) + "' bus='" + hex(address.bus, 2) + "' slot='" + hex(address.device, 2)
            + "' function='" + hex(address.function, 1) + "'/></source></hostdev>"
    }
}

extension GuestInstance {
    /// The command line for a libvirt dialect: QEMU guests have their console on the serial port.
    func commandLine(for dialect: HypervisorDriver) -> String {
        guard dialect == .qemu, spec.type != .hvm else { return commandLine }
        return commandLine.replacingOccurrences(of: "console=hvc0", with: "console=ttyS0")
    }
}
