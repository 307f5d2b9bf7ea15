import Testing
@testable import XentestBackendLibvirt
@testable import XentestBackendXL
@testable import XentestPlan
@testable import XentestRun
@testable import XentestSupport

/// Disks a run makes: their images, their names on each toolstack, and how a listing is judged.
@Suite("Disks: images, device names, xl commands, block-list's judgement") struct DiskTests {
    static let guest = GuestInstance(
        domainName: "xentest-ab12-disks",
        spec: GuestSpec(
            name: "d",
            type: .pv,
            memory: MemorySize(mebibytes: 128),
            vcpus: 1,
            maxvcpus: 1,
            nics: 0,
            pci: [],
            passthrough: false,
            disks: [DiskSpec(size: MemorySize(mebibytes: 64))]
        ),
        host: .empty(source: "none")
    )

    @Test func imagesAreMadeInBytesAndNamedByTheDomain() {
        let raw = DiskSpec(size: MemorySize(mebibytes: 64))
        let qcow2 = DiskSpec(size: MemorySize(mebibytes: 1024), format: .qcow2)
        #expect(DiskImages.makeCommand(raw, at: "/d/x.raw") == ["truncate", "-s", "67108864", "/d/x.raw"])
        #expect(
            DiskImages.makeCommand(qcow2, at: "/d/x.qcow2") == [
                "qemu-img", "create", "-q", "-f", "qcow2", "/d/x.qcow2", "1073741824",
            ]
        )
        #expect(
            Self.guest.diskImagePath(1, .qcow2, in: "/var/lib/xentest")
                == "/var/lib/xentest/xentest-ab12-disks-disk1.qcow2"
        )
        #expect(Self.guest.diskImagePath(0, .raw, in: nil) == "xentest-ab12-disks-disk0.raw")
    }

    @Test(arguments: [(0, "xvda"), (1, "xvdb"), (15, "xvdp"), (25, "xvdz"), (26, "xvdaa")]) func deviceNames(
        _ index: Int,
        _ name: String
    ) { #expect(GuestInstance.diskDeviceName(index, prefix: "xvd") == name) }

    /// What the guest's `ls /sys/block` counts as disks: Xen's, virtio's, SCSI's and IDE's, never loop or RAM devices
    /// or a CD-ROM.
    @Test func disksTheGuestSees() {
        #expect(DiskImages.guestDisks("loop0  loop1  ram0  sr0  xvdb  xvda\n") == ["xvda", "xvdb"])
        #expect(DiskImages.guestDisks("vda\nvdb\nzram0\ndm-0\nsda\nhdc\nnvme0n1\n") == ["hdc", "sda", "vda", "vdb"])
        #expect(DiskImages.guestDisks("") == [])
        #expect(DiskImages.guestDisks("xvd xvda1 xvdaa") == ["xvdaa"])
    }

    @Test func xlCommandsTakeTheNextDiskAndDetachTheLast() throws {
        var context = XLStepContext(
            guest: Self.guest,
            host: .empty(source: "none"),
            configPath: "/var/lib/xentest/x.cfg"
        )
        let attach = Action.blockAttach(DiskSpec(size: MemorySize(mebibytes: 32), format: .qcow2))
        #expect(
            XLCommand.forAction(attach, context: context, timeout: .seconds(60))?.argv == [
                "xl", "block-attach", "xentest-ab12-disks",
                "format=qcow2,vdev=xvdb,access=rw,target=/var/lib/xentest/xentest-ab12-disks-disk1.qcow2",
            ]
        )
        context.attachedDisks = [DiskSpec(size: MemorySize(mebibytes: 32), format: .qcow2)]
        #expect(
            XLCommand.forAction(.blockDetach, context: context, timeout: .seconds(60))?.argv == [
                "xl", "block-detach", "xentest-ab12-disks", "xvdb",
            ]
        )
        #expect(
            XLCommand.forAction(.blockList, context: context, timeout: .seconds(60))?.argv == [
                "xl", "block-list", "xentest-ab12-disks",
            ]
        )
        let config = XLConfigRenderer.render(Self.guest, imageDirectory: "/var/lib/xentest")
        #expect(
            config.contains(
                #"disk = [ "format=raw,vdev=xvda,access=rw,target=/var/lib/xentest/xentest-ab12-disks-disk0.raw" ]"#
            )
        )
    }

    @Test func libvirtDisksAreXenOrVirtioByDialect() {
        let disk = DiskSpec(size: MemorySize(mebibytes: 64), format: .qcow2)
        #expect(
            DomainXMLRenderer.diskXML(disk, index: 1, path: "/d/x.qcow2", dialect: .xen)
                == "<disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='/d/x.qcow2'/>"
                + "<target dev='xvdb' bus='xen'/></disk>"
        )
        #expect(
            DomainXMLRenderer.diskXML(
                DiskSpec(size: MemorySize(mebibytes: 1)),
                index: 0,
                path: "/d/x.raw",
                dialect: .xen
            )
            .hasPrefix("<disk type='file' device='disk'><driver name='phy' type='raw'/>")
        )
        #expect(
            DomainXMLRenderer.diskXML(disk, index: 0, path: "/d/x.qcow2", dialect: .qemu)
                == "<disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='/d/x.qcow2'/>"
                + "<target dev='vda' bus='virtio'/></disk>"
        )
    }

    /// The toolstack's count and the guest's own must both match: a disk the toolstack lists but the guest never
    /// sees (its frontend did not connect) fails, and says what each saw.
    @Test func blockListNeedsTheToolstackAndTheGuestToAgree() {
        func verdict(_ listed: Int, _ inGuest: [String]?) -> Runner.Verdict {
            Runner.evaluate(
                .count(2),
                .success([], observation: .disks(listed: listed, inGuest: inGuest)),
                host: .empty(source: "none")
            )
        }
        #expect(verdict(2, ["xvda", "xvdb"]) == .met)
        #expect(verdict(2, nil) == .met)
        #expect(verdict(2, ["xvda"]) == .notMet("expected lists 2 entries, saw 2 disks listed, the guest sees xvda"))
        #expect(
            verdict(1, ["xvda", "xvdb"])
                == .notMet("expected lists 2 entries, saw 1 disk listed, the guest sees xvda xvdb")
        )
        #expect(verdict(0, []) == .notMet("expected lists 2 entries, saw 0 disks listed, the guest sees none"))
    }
}
