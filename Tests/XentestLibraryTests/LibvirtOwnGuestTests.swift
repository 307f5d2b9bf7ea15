import Foundation
import Libvirt
import Testing
@testable import XentestBackendLibvirt
@testable import XentestPlan
@testable import XentestRun
@testable import XentestServer
@testable import XentestSupport

#if canImport(FoundationXML)
import FoundationXML
#endif

/// A tester's own domain as libvirt's test driver describes it once defined: an image disk with a backing chain, a
/// raw one, a CD-ROM, a read-only disk, two interfaces (one with a tap name of its own), VNC on a fixed port and a
/// static security label.
func testerTemplateXML(name: String, image: String) -> String {
    """
    <domain type='test'>
      <name>\(name)</name>
      <uuid>5b1d0e1c-3f5e-4d7a-9a53-4c2f6f0e0a11</uuid>
      <memory unit='MiB'>256</memory>
      <vcpu>1</vcpu>
      <os><type arch='x86_64'>hvm</type></os>
      <devices>
        <disk type='file' device='disk'>
          <driver name='qemu' type='raw' cache='none'/>
          <source file='\(image)'/>
          <target dev='vda' bus='virtio'/>
        </disk>
        <disk type='file' device='cdrom'>
          <driver name='qemu' type='raw'/>
          <source file='/srv/iso/install.iso'/>
          <target dev='hdc' bus='ide'/>
          <readonly/>
        </disk>
        <disk type='file' device='disk'>
          <source file='/srv/images/shared.img'/>
          <target dev='vdc' bus='virtio'/>
          <readonly/>
        </disk>
        <interface type='network'>
          <mac address='52:54:00:12:34:56'/>
          <source network='default'/>
          <target dev='webtap0'/>
        </interface>
        <interface type='network'>
          <source network='default'/>
        </interface>
        <graphics type='vnc' port='5901' autoport='no' listen='127.0.0.1'/>
      </devices>
      <seclabel type='static' model='selinux' relabel='yes'>
        <label>system_u:system_r:svirt_t:s0:c1,c2</label>
      </seclabel>
    </domain>
    """
}

/// A copy made for a case whose domain is `xentest-r1-own`.
let ownGuest = GuestInstance(
    domainName: "xentest-r1-own",
    spec: {
        var spec = GuestSpec(name: "web", type: .pv)
        spec.fromHost = "web"
        return spec
    }(),
    host: .testDriverDefault
)

@Suite("A copy of the tester's own libvirt domain (from-host)") struct LibvirtOwnGuestTests {
    @Test(
        "the copy of a domain as libvirt describes it: its name, no UUID, own MACs, an overlay for its writable image"
    ) func copyOfRealXML() throws {
        let connection = try privateTestHost().connection
        let domain = try connection.defineDomain(
            xml: testerTemplateXML(name: "tester-web", image: "/srv/images/web.raw")
        )
        let template = try domain.xml(inactive: true)
        for kept in ["<uuid>", "port='5901'", "<seclabel type='static'", "<target dev='webtap0'/>", "cdrom"] {
            #expect(template.contains(kept), "libvirt keeps \(kept) in the template's XML")
        }
        let copy = try LibvirtOwnGuestCopy.make(template, of: "tester-web", for: ownGuest, filesIn: "/var/lib/xentest")
        let xml = LibvirtXML(copy.xml)
        #expect(xml.strings("/domain/name") == ["xentest-r1-own"])
        #expect(xml.count("/domain/uuid") == 0)
        #expect(xml.interfaceMACs == [ownGuest.macAddress(nic: 0), ownGuest.macAddress(nic: 1)])
        #expect(!xml.interfaceMACs.contains("52:54:00:12:34:56"))
        #expect(xml.count("/domain/devices/interface/target") == 0, "the original's tap name is left to libvirt")

        let overlay = "/var/lib/xentest/xentest-r1-own-own0.qcow2"
        #expect(
            copy.overlays == [
                .init(
                    original: "/srv/images/web.raw",
                    path: overlay,
                    makeCommand: [
                        "qemu-img", "create", "-q", "-f", "qcow2", "-F", "raw", "-b", "/srv/images/web.raw", overlay,
                    ]
                )
            ]
        )
        #expect(copy.nvram == nil)
        #expect(xml.strings("/domain/devices/disk[target/@dev='vda']/source/@file") == [overlay])
        #expect(xml.strings("/domain/devices/disk[target/@dev='vda']/driver/@type") == ["qcow2"])
        #expect(xml.strings("/domain/devices/disk[target/@dev='vda']/driver/@name") == ["qemu"])
        #expect(xml.strings("/domain/devices/disk[target/@dev='vda']/driver/@cache") == ["none"])
        // Media never written stay as they are.
        #expect(xml.strings("/domain/devices/disk[@device='cdrom']/source/@file") == ["/srv/iso/install.iso"])
        #expect(xml.strings("/domain/devices/disk[target/@dev='vdc']/source/@file") == ["/srv/images/shared.img"])
        #expect(
            xml.strings("/domain/devices/disk[target/@dev='vda']/backingStore/source/@file") == ["/srv/images/web.raw"],
            "the original image is reached only as the overlay's backing image"
        )

        #expect(xml.strings("/domain/devices/graphics/@autoport") == ["yes"])
        #expect(xml.count("/domain/devices/graphics/@port") == 0)
        #expect(xml.count("/domain/seclabel[@type='static']") == 0)

        // libvirt takes the copy as it is, beside its original.
        let copied = try connection.defineDomain(xml: copy.xml)
        #expect(copied.name == "xentest-r1-own")
        #expect(try copied.xml(inactive: true).contains(overlay))
        try copied.undefine()
        #expect(try domain.xml(inactive: true) == template)
    }

    @Test("a qcow2 disk with a backing chain, a disk without <driver>, an interface without <mac>, UEFI variables")
    func chainsDriversMACsAndNVRAM() throws {
        let template = """
            <domain type='kvm'>
              <name>desktop</name>
              <os><type>hvm</type><loader readonly='yes' type='pflash'>/usr/share/OVMF/OVMF_CODE.fd</loader>
                <nvram template='/usr/share/OVMF/OVMF_VARS.fd'>/var/lib/libvirt/qemu/nvram/desktop_VARS.fd</nvram></os>
              <devices>
                <disk type='file' device='disk'>
                  <driver name='qemu' type='qcow2' discard='unmap'/>
                  <source file='/srv/desktop.qcow2'/>
                  <backingStore type='file'><format type='raw'/><source file='/srv/base.raw'/></backingStore>
                  <target dev='vda' bus='virtio'/>
                </disk>
                <disk type='file' device='disk'>
                  <source file='/srv/data.img'/>
                  <target dev='vdb' bus='virtio'/>
                </disk>
                <interface type='bridge'><source bridge='br0'/></interface>
              </devices>
            </domain>
            """
        let copy = try LibvirtOwnGuestCopy.make(template, of: "desktop", for: ownGuest, filesIn: "/d")
        let xml = LibvirtXML(copy.xml)
        #expect(copy.overlays.map(\.original) == ["/srv/desktop.qcow2", "/srv/data.img"])
        #expect(copy.overlays.map(\.path) == ["/d/xentest-r1-own-own0.qcow2", "/d/xentest-r1-own-own1.qcow2"])
        #expect(copy.overlays.map { $0.makeCommand[6] } == ["qcow2", "raw"], "the backing format, -F")
        // Each original is the overlay's backing image, never relabelled; the template's own chain goes below it.
        #expect(
            xml.strings("/domain/devices/disk/backingStore/source/@file") == ["/srv/desktop.qcow2", "/srv/data.img"]
        )
        #expect(xml.strings("/domain/devices/disk/backingStore/format/@type") == ["qcow2", "raw"])
        #expect(
            xml.strings("/domain/devices/disk/backingStore/source/seclabel[@relabel='no']/@model") == [
                "dac", "selinux", "dac", "selinux",
            ]
        )
        #expect(xml.strings("/domain/devices/disk[1]/backingStore/backingStore/source/@file") == ["/srv/base.raw"])
        #expect(xml.count("/domain/devices/disk[2]/backingStore/backingStore") == 0)
        #expect(xml.strings("/domain/devices/disk/driver/@type") == ["qcow2", "qcow2"])
        #expect(xml.strings("/domain/devices/disk/driver/@name") == ["qemu", "qemu"])
        #expect(xml.strings("/domain/devices/disk[1]/driver/@discard") == ["unmap"])
        #expect(xml.interfaceMACs == [ownGuest.macAddress(nic: 0)])
        #expect(xml.strings("/domain/name") == ["xentest-r1-own"])
        #expect(
            copy.nvram
                == .init(
                    original: "/var/lib/libvirt/qemu/nvram/desktop_VARS.fd",
                    path: "/d/xentest-r1-own-VARS.fd",
                    makeCommand: ["cp", "/var/lib/libvirt/qemu/nvram/desktop_VARS.fd", "/d/xentest-r1-own-VARS.fd"]
                )
        )
        #expect(xml.strings("/domain/os/nvram") == ["/d/xentest-r1-own-VARS.fd"])
        #expect(xml.strings("/domain/os/loader") == ["/usr/share/OVMF/OVMF_CODE.fd"])
        #expect(copy.files.count == 3)
    }

    @Test("a writable block device or network disk is never copied: the case cannot run, and says why")
    func diskThatCannotBeOverlaid() throws {
        let connection = try privateTestHost().connection
        let block = try connection.defineDomain(
            xml: testerTemplateXML(name: "tester-db", image: "/srv/db.raw")
                .replacingOccurrences(
                    of: "<disk type='file' device='cdrom'>",
                    with: """
                        <disk type='block' device='disk'><source dev='/dev/sdb'/><target dev='vdb' bus='virtio'/></disk>
                            <disk type='file' device='cdrom'>
                        """
                )
        )
        let template = try block.xml(inactive: true)
        #expect(template.contains("<source dev='/dev/sdb'"))
        #expect(
            throws: LibvirtOwnGuestCopy.CannotCopy(
                reason: "disk vdb (type 'block') of the libvirt domain 'tester-db' is a block device: xentest overlays "
                    + "image files only, so it never writes to the tester's disks"
            )
        ) { try LibvirtOwnGuestCopy.make(template, of: "tester-db", for: ownGuest, filesIn: "/d") }
        let network = """
            <domain type='kvm'><name>n</name><devices>
              <disk type='network' device='disk'><source protocol='rbd' name='pool/img'/><target dev='vda'/></disk>
            </devices></domain>
            """
        #expect(
            throws: LibvirtOwnGuestCopy.CannotCopy(
                reason: "disk vda (type 'network') of the libvirt domain 'n' is not an image file: xentest overlays "
                    + "image files only, so it never writes to the tester's disks"
            )
        ) { try LibvirtOwnGuestCopy.make(network, of: "n", for: ownGuest, filesIn: "/d") }
        // Read-only, the same block device is kept: it is never written.
        let readOnly = network.replacingOccurrences(of: "<target dev='vda'/>", with: "<target dev='vda'/><readonly/>")
        #expect(try LibvirtOwnGuestCopy.make(readOnly, of: "n", for: ownGuest, filesIn: "/d").overlays.isEmpty)
    }
}

/// A plan with one case on the copy of the host file's guest `web`.
let ownGuestPlanYAML = """
    release: test
    title: the tester's own guest
    cases:
      - id: own-web
        title: The tester's web server, copied, stays up
        area: lifecycle
        guest: {from-host: web}
        steps:
          - create:
          - list:
            expect: {state: running}
          - stay-up: 1s
          - destroy:
          - list:
            expect: {state: gone}
    """

/// The host file of libvirt's test driver with `web` as the domain `template`.
func hostWithOwnGuest(_ template: String) -> HostConfig {
    var host = HostConfig.testDriverDefault
    host.guests = ["web": .init(source: .libvirtDomain(name: template))]
    return host
}

@Suite("Own guests on libvirt's test driver, end to end") struct LibvirtOwnGuestRunTests {
    @Test("a template with an image file: the copy runs on an overlay, the template and its image are untouched")
    func copyRunsOnItsOverlay() async throws {
        let backend = try privateTestHost()
        let folder = try ScratchDirectory()
        let bytes = (0..<(1 << 20)).map { _ in UInt8.random(in: 0...255) }
        let image = try folder.write(Data(bytes), to: "web.raw")
        let template = try backend.connection.defineDomain(xml: testerTemplateXML(name: "tester-web", image: image))
        let before = try template.xml(inactive: true)
        let plan = try inlinePlan(ownGuestPlanYAML)

        let run = try await TestDriverRun.run(plan, backend: backend, host: hostWithOwnGuest("tester-web"))

        #expect(run.status("own-web") == .pass, "\(run.reason("own-web"))")
        let result = try #require(run.result.cases.first)
        let create = try #require(result.steps.first { $0.label == "create" })
        let name = try #require(run.domainNames.first)
        let overlay = backend.hostFilesDirectory + "/\(name)-own0.qcow2"
        let made = try #require(create.evidence.first { $0.call == "qemu-img" }, "\(create.evidence)")
        #expect(made.arguments == ["create", "-q", "-f", "qcow2", "-F", "raw", "-b", image, overlay])
        #expect(made.status == 0)
        let copied = try #require(create.evidence.first { $0.kind == "file" })
        #expect(copied.arguments == ["a copy of the libvirt domain tester-web"])
        #expect(LibvirtXML(copied.output).strings("/domain/devices/disk[target/@dev='vda']/source/@file") == [overlay])
        let defined = try #require(create.evidence.first { $0.call == "virDomainDefineXML" })
        #expect(defined.arguments == [copied.output])
        #expect(
            create.evidence.contains { $0.call == "virDomainGetXMLDesc" && $0.arguments == ["tester-web", "INACTIVE"] }
        )
        // Only read: no call on the template but its lookup and its XML.
        let onTemplate = result.steps.flatMap(\.evidence).filter { $0.arguments.first == "tester-web" }
        #expect(onTemplate.map(\.call) == ["virDomainLookupByName", "virDomainGetXMLDesc"])

        #expect(try template.xml(inactive: true) == before)
        #expect(try !template.isActive, "the template was never started")
        #expect(try Data(contentsOf: URL(fileURLWithPath: image)) == Data(bytes))
        #expect(!FileManager.default.fileExists(atPath: overlay), "the overlay is removed with the case")
        #expect(try run.leftoverDomains().isEmpty)
    }

    @Test("test:///default's own domain `test`: its image /guest/diskimage1 does not exist, so the case is skipped")
    func testDomainOfTheDefaultHost() async throws {
        let backend = try LibvirtBackend(uri: "test:///default")
        let template = try #require(try backend.connection.domain(named: "test"))
        let before = try template.xml(inactive: true)
        let wasActive = try template.isActive
        let plan = try inlinePlan(ownGuestPlanYAML)

        let run = try await TestDriverRun.run(plan, backend: backend, host: hostWithOwnGuest("test"))

        #expect(run.status("own-web") == .skip)
        #expect(
            run.reason("own-web")
                .hasPrefix(
                    "the image /guest/diskimage1 of the host file's guest 'web' cannot be overlaid (it is only ever read): "
                ),
            "\(run.reason("own-web"))"
        )
        let name = try #require(run.domainNames.first)
        #expect(try backend.connection.domain(named: name) == nil, "nothing was defined")
        #expect(!FileManager.default.fileExists(atPath: backend.hostFilesDirectory + "/\(name)-own0.qcow2"))
        #expect(try template.xml(inactive: true) == before)
        #expect(try template.isActive == wasActive)
    }
}
