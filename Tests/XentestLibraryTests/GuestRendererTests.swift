import Foundation
import Testing

#if canImport(FoundationXML)
import FoundationXML
@testable import XentestBackendLibvirt
@testable import XentestBackendXL
@testable import XentestLab
@testable import XentestPlan
@testable import XentestReport
@testable import XentestRun
@testable import XentestSupport
@testable import XentestXLParsing
#endif

/// A guest to render, with the host it is rendered for.
struct RenderedGuest: Sendable, CustomTestStringConvertible {
    var name: String
    var guest: GuestInstance
    var testDescription: String { name }
}

@Suite("Guest renderers: xl.cfg and libvirt domain XML (golden files)") struct GuestRendererTests {
    static let labHost = HostConfig(
        pciDevices: [
            "nic": .init(address: PCIAddress(domain: 0, bus: 3, device: 0, function: 0), largeBar: false),
            "gpu": .init(address: PCIAddress(domain: 0, bus: 0x0A, device: 0x1F, function: 7), largeBar: true),
        ],
        bridge: "xenbr0",
        hostAddress: "192.168.100.1",
        guestAddress: "192.168.100.50",
        guestKernel: "/var/lib/xentest/vmlinuz",
        guestRamdisk: "/var/lib/xentest/initramfs.cpio.gz",
        guestCommandLine: "quiet",
        source: "lab-host.yaml"
    )

    static var libvirtNetworkHost: HostConfig {
        var host = labHost
        host.libvirtNetwork = "default"
        return host
    }

    static func spec(
        _ name: String,
        _ type: GuestType,
        memory: Int = 256,
        vcpus: Int = 1,
        maxvcpus: Int = 1,
        nics: Int = 0,
        pci: [String] = [],
        passthrough: Bool = false,
        disks: [DiskSpec] = []
    ) -> GuestSpec {
        GuestSpec(
            name: name,
            type: type,
            memory: MemorySize(mebibytes: memory),
            vcpus: vcpus,
            maxvcpus: maxvcpus,
            nics: nics,
            pci: pci,
            passthrough: passthrough || !pci.isEmpty,
            disks: disks
        )
    }

    static let guests: [RenderedGuest] = [
        // No host file: placeholders that say where each value comes from.
        RenderedGuest(
            name: "pv-no-host",
            guest: GuestInstance(
                domainName: "xentest-golden-pv-no-host",
                spec: spec("pv-small", .pv, nics: 1, pci: ["nic"]),
                host: .empty(source: "none")
            )
        ),
        RenderedGuest(
            name: "pv-passthrough",
            guest: GuestInstance(
                domainName: "xentest-golden-pv-passthrough",
                spec: spec("pv-passthrough", .pv, passthrough: true),
                host: labHost
            )
        ),
        RenderedGuest(
            name: "pvh-two-nics",
            guest: GuestInstance(
                domainName: "xentest-golden-pvh-two-nics",
                spec: spec("pvh-net", .pvh, memory: 512, vcpus: 2, maxvcpus: 4, nics: 2),
                host: labHost
            )
        ),
        RenderedGuest(
            name: "hvm-pci-bridge",
            guest: GuestInstance(
                domainName: "xentest-golden-hvm-pci-bridge",
                spec: spec("hvm-gpu", .hvm, memory: 2048, vcpus: 1, maxvcpus: 4, nics: 1, pci: ["gpu", "nic"]),
                host: labHost
            )
        ),
        RenderedGuest(
            name: "hvm-libvirt-network",
            guest: GuestInstance(
                domainName: "xentest-golden-hvm-libvirt-network",
                spec: spec("hvm-net", .hvm, nics: 2),
                host: libvirtNetworkHost
            )
        ),
        // Disks from the start: images beside the config, named after the domain.
        RenderedGuest(
            name: "hvm-disks",
            guest: GuestInstance(
                domainName: "xentest-golden-hvm-disks",
                spec: spec(
                    "hvm-disks",
                    .hvm,
                    disks: [
                        DiskSpec(size: MemorySize(mebibytes: 64)),
                        DiskSpec(size: MemorySize(mebibytes: 1024), format: .qcow2),
                    ]
                ),
                host: labHost
            )
        ),
        // A role the host file does not offer: xl.cfg says so, the XML leaves the device out.
        RenderedGuest(
            name: "pv-missing-role",
            guest: GuestInstance(
                domainName: "xentest-golden-pv-missing-role",
                spec: spec("pv-two-devices", .pv, pci: ["nic", "sound"]),
                host: labHost
            )
        ),
    ]

    @Test(arguments: guests) func xlConfigMatchesGoldenFile(_ rendered: RenderedGuest) throws {
        let config = XLConfigRenderer.render(rendered.guest)
        try expectGolden(config, "guests/\(rendered.name).cfg")
        #expect(config == XLConfigRenderer.render(rendered.guest), "deterministic")
    }

    @Test(arguments: guests, [HypervisorDriver.xen, .qemu, .test]) func domainXMLMatchesGoldenFile(
        _ rendered: RenderedGuest,
        dialect: HypervisorDriver
    ) throws {
        let xml = DomainXMLRenderer.render(rendered.guest, dialect: dialect)
        try expectGolden(xml, "guests/\(rendered.name)-\(dialect.rawValue).xml")
        #expect(xml == DomainXMLRenderer.render(rendered.guest, dialect: dialect), "deterministic")
        #if canImport(FoundationXML)
        let document = try XMLDocument(xmlString: xml)
        let root = try #require(document.rootElement())
        #expect(root.name == "domain")
        #expect(
            root.attribute(forName: "type")?.stringValue
                == ["xen": "xen", "qemu": "qemu", "test": "test"][dialect.rawValue]
        )
        #expect(try document.nodes(forXPath: "/domain/devices/interface").count == rendered.guest.spec.nics)
        #expect(try document.nodes(forXPath: "/domain/devices/hostdev").count == rendered.guest.pciAddresses.count)
        let disks = try document.nodes(forXPath: "/domain/devices/disk/source/@file").compactMap(\.stringValue)
        #expect(
            disks
                == rendered.guest.spec.disks.enumerated()
                .map { rendered.guest.diskImagePath($0, $1.format, in: "/var/lib/xentest") }
        )
        #expect(try document.nodes(forXPath: "/domain/name").first?.stringValue == rendered.guest.domainName)
        #endif
    }

    /// What each dialect needs: the domain type and OS type, and where the console is.
    @Test func dialectsDiffer() throws {
        let pv = GuestInstance(domainName: "xentest-d", spec: Self.spec("pv", .pv), host: Self.labHost)
        let pvh = GuestInstance(domainName: "xentest-d", spec: Self.spec("pvh", .pvh), host: Self.labHost)
        let hvm = GuestInstance(domainName: "xentest-d", spec: Self.spec("hvm", .hvm), host: Self.labHost)
        #expect(DomainXMLRenderer.render(pv, dialect: .xen).contains("<type arch='x86_64'>xen</type>"))
        #expect(DomainXMLRenderer.render(pvh, dialect: .xen).contains("<type arch='x86_64'>xenpvh</type>"))
        #expect(DomainXMLRenderer.render(hvm, dialect: .xen).contains("<type arch='x86_64'>hvm</type>"))
        #expect(DomainXMLRenderer.render(pv, dialect: .xen).contains("<target type='xen' port='0'/>"))
        #expect(!DomainXMLRenderer.render(hvm, dialect: .xen).contains("<target type='xen'"))
        // libxl builds an HVM guest without ACPI unless the XML asks for it (xl asks by default): no vCPU hot-plug.
        #expect(DomainXMLRenderer.render(hvm, dialect: .xen).contains("<features>\n    <acpi/>\n    <apic/>\n"))
        #expect(!DomainXMLRenderer.render(pv, dialect: .xen).contains("<acpi/>"))
        #expect(!DomainXMLRenderer.render(pvh, dialect: .xen).contains("<acpi/>"))
        for dialect in [HypervisorDriver.qemu, .test] {
            #expect(DomainXMLRenderer.render(pv, dialect: dialect).contains("<type arch='x86_64'>hvm</type>"))
        }
        // Under QEMU a PV kernel boots as HVM, with its console on the serial port.
        #expect(
            DomainXMLRenderer.render(pv, dialect: .qemu).contains("<cmdline>console=ttyS0 loglevel=4 quiet</cmdline>")
        )
        #expect(
            DomainXMLRenderer.render(pv, dialect: .xen).contains("<cmdline>console=hvc0 loglevel=4 quiet</cmdline>")
        )
        #expect(
            DomainXMLRenderer.render(pv, dialect: .test).contains("<cmdline>console=hvc0 loglevel=4 quiet</cmdline>")
        )
    }

    @Test(arguments: [
        ("Xen", HypervisorDriver.xen), ("libxl", .xen), ("QEMU", .qemu), ("TEST", .test), ("test", .test),
    ]) func dialectFromDriverType(_ driverType: String, _ dialect: HypervisorDriver) {
        #expect(HypervisorDriver(libvirtDriverType: driverType) == dialect)
    }

    @Test func unknownDriverTypeHasNoDialect() {
        #expect(HypervisorDriver(libvirtDriverType: "LXC") == nil)
        #expect(HypervisorDriver(libvirtDriverType: "") == nil)
    }

    @Test func textFromTheHostFileIsEscaped() throws {
        var host = Self.labHost
        host.guestKernel = "/boot/<vm>&'linuz\""
        host.guestCommandLine = #"init=/bin/sh -c "echo \ok""#
        host.bridge = "br'0"
        let guest = GuestInstance(domainName: "xentest-escape", spec: Self.spec("pv", .pv, nics: 1), host: host)
        let xml = DomainXMLRenderer.render(guest, dialect: .xen)
        #expect(xml.contains("<kernel>/boot/&lt;vm&gt;&amp;&apos;linuz&quot;</kernel>"))
        #expect(xml.contains("<source bridge='br&apos;0'/>"))
        #if canImport(FoundationXML)
        let document = try XMLDocument(xmlString: xml)
        #expect(try document.nodes(forXPath: "/domain/os/kernel").first?.stringValue == "/boot/<vm>&'linuz\"")
        #endif
        let config = XLConfigRenderer.render(guest)
        #expect(config.contains(#"kernel = "/boot/<vm>&'linuz\"""#))
        #expect(config.contains(#"extra = "console=hvc0 loglevel=4 init=/bin/sh -c \"echo \\ok\"""#))
        #expect(XLConfigRenderer.quoted(#"a"b\c"#) == #""a\"b\\c""#)
    }

    @Test func macAddressesAreStableXenAddresses() throws {
        let guest = GuestInstance(
            domainName: "xentest-20131101-lifecycle",
            spec: Self.spec("pv", .pv),
            host: Self.labHost
        )
        let twin = GuestInstance(
            domainName: "xentest-20131101-lifecycle",
            spec: Self.spec("hvm", .hvm),
            host: .empty(source: "x")
        )
        let other = GuestInstance(
            domainName: "xentest-20131101-network",
            spec: Self.spec("pv", .pv),
            host: Self.labHost
        )
        let macs = (0..<8).map { guest.macAddress(nic: $0) }
        #expect(Set(macs).count == macs.count, "each interface its own address")
        #expect(macs == (0..<8).map { twin.macAddress(nic: $0) }, "derived from the domain name only")
        #expect(guest.macAddress(nic: 0) != other.macAddress(nic: 0))
        for mac in macs + [other.macAddress(nic: 0)] {
            let bytes = mac.split(separator: ":")
            #expect(bytes.count == 6, "\(mac)")
            #expect(bytes.allSatisfy { $0.count == 2 && UInt8($0, radix: 16) != nil }, "\(mac)")
            #expect(mac.hasPrefix("00:16:3e:"), "Xen's OUI: \(mac)")
            #expect(UInt8(bytes[3], radix: 16).map { $0 < 0x80 } == true, "below 00:16:3e:80:00:00: \(mac)")
        }
    }

    @Test func pciAddressesFollowTheSpecAndSkipMissingRoles() {
        let guest = GuestInstance(
            domainName: "xentest-p",
            spec: Self.spec("pv", .pv, pci: ["gpu", "sound", "nic"]),
            host: Self.labHost
        )
        #expect(guest.pciAddresses.map(\.description) == ["0000:0a:1f.7", "0000:03:00.0"])
        #expect(
            DomainXMLRenderer.hostdevXML(guest.pciAddresses[0])
                .contains("<address domain='0x0000' bus='0x0a' slot='0x1f' function='0x7'/>")
        )
    }
}

@Suite("Networks a run makes for its guests") struct NetworkXMLTests {
    @Test("an isolated network: its own bridge, no <forward>, the host's address when the host file gives one")
    func isolated() {
        let withAddress = NetworkXMLRenderer.isolated(
            name: "xentest-ab12cd-network-vif-ping-net",
            hostAddress: "10.9.8.1"
        )
        #expect(
            withAddress == """
                <network>
                  <name>xentest-ab12cd-network-vif-ping-net</name>
                  <bridge stp='on' delay='0'/>
                  <ip address='10.9.8.1' prefix='24'/>
                </network>

                """
        )
        let bare = NetworkXMLRenderer.isolated(name: "xentest-x-<y>", hostAddress: nil)
        #expect(!bare.contains("<ip"), "no address: no IP, no dnsmasq")
        #expect(bare.contains("<name>xentest-x-&lt;y&gt;</name>"))
        for xml in [withAddress, bare] { #expect(!xml.contains("<forward"), "nothing leaves the machine") }
    }

    @Test("QEMU guests: ACPI (power button, hot-plug) and every vCPU but the first hot-pluggable")
    func qemuVcpusAndACPI() {
        let spec = GuestSpec(
            name: "g",
            type: .pv,
            memory: MemorySize(mebibytes: 256),
            vcpus: 2,
            maxvcpus: 3,
            nics: 0,
            pci: [],
            passthrough: false
        )
        let guest = GuestInstance(domainName: "xentest-run-case", spec: spec, host: .empty(source: "test"))
        let qemu = DomainXMLRenderer.render(guest, dialect: .qemu)
        #expect(qemu.contains("  <features>\n    <acpi/>\n    <apic/>\n  </features>\n"))
        #expect(
            qemu.contains(
                """
                  <vcpus>
                    <vcpu id='0' enabled='yes' hotpluggable='no'/>
                    <vcpu id='1' enabled='yes' hotpluggable='yes'/>
                    <vcpu id='2' enabled='no' hotpluggable='yes'/>
                  </vcpus>
                """
            )
        )
        #expect(qemu.contains("console=ttyS0"), "the console is the first serial port")
        for dialect in [HypervisorDriver.xen, .test] {
            let other = DomainXMLRenderer.render(guest, dialect: dialect)
            #expect(!other.contains("<vcpus>"))
            #expect(!other.contains("<acpi/>"))
        }
        var single = spec
        single.vcpus = 1
        single.maxvcpus = 1
        let one = GuestInstance(domainName: "xentest-run-one", spec: single, host: .empty(source: "test"))
        #expect(!DomainXMLRenderer.render(one, dialect: .qemu).contains("<vcpus>"), "nothing to hot-plug")
    }
}
