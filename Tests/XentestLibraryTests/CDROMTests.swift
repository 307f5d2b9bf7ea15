import Testing
@testable import XentestBackendLibvirt
@testable import XentestBackendXL
@testable import XentestPlan
@testable import XentestRun
@testable import XentestSupport

/// An HVM guest's CD-ROM drive (`cdrom:`), `cd-insert` and `cd-eject`: the plan's rules, each toolstack's commands,
/// and how the guest's own reading of its drive is judged.
@Suite("CD-ROM: the drive, cd-insert and cd-eject") struct CDROMTests {
    static let guest = GuestInstance(
        domainName: "xentest-ab12-cd",
        spec: {
            var spec = GuestSpec(name: "c", type: .hvm)
            spec.cdrom = MemorySize(mebibytes: 16)
            return spec
        }(),
        host: .empty(source: "none")
    )

    @Test func aDriveAndItsStepsLoad() throws {
        let outcome = try loadPlanText(
            """
            release: 4.17.0-rc4
            title: CD-ROM
            guests:
              c: {type: hvm, cdrom: 16M}
            cases:
              - id: cd
                title: Change the medium
                area: general
                guest: c
                steps:
                  - create:
                  - cd-insert: 32M
                  - cd-eject:
                  - destroy:

            """
        )
        let plan = try #require(outcome.plan, "\(outcome.lines)")
        let testCase = try #require(plan.testCase("cd"))
        #expect(testCase.guest?.cdrom == MemorySize(mebibytes: 16))
        #expect(
            testCase.steps.map(\.action) == [
                .create(paused: false), .cdInsert(MemorySize(mebibytes: 32)), .cdEject, .destroy,
            ]
        )
        #expect(testCase.steps[1].action.label == "cd-insert 32M")
        #expect(testCase.requirements == [.hvm, .diskFormat(.raw)])
    }

    /// A drive on a guest that cannot have one, a type list that would give it one, media changed in a guest without
    /// a drive or in the tester's own: each said where it is written, all at once.
    @Test func whatCannotHaveADriveIsReported() throws {
        let outcome = try loadPlanText(
            """
            release: 4.17.0-rc4
            title: CD-ROM
            guests:
              pv: {type: pv, cdrom: 16M}
              hvm: {type: hvm, cdrom: 16M}
              plain: {type: hvm}
              own: {from-host: own}
            cases:
              - id: typed
                title: Every type
                area: general
                guest: hvm
                for-each: {type: [pv, hvm, pvh]}
                steps:
                  - create:
              - id: none
                title: No drive
                area: general
                guest: plain
                steps:
                  - create:
                  - cd-insert: 8M
                  - cd-eject: now
              - id: theirs
                title: The tester's guest
                area: general
                guest: own
                steps:
                  - create:
                  - cd-eject:

            """
        )
        #expect(outcome.plan == nil)
        #expect(
            outcome.lines == [
                "plan.yaml:4:25: error: cdrom: an emulated CD-ROM drive is an HVM guest's, and guest 'pv' is pv",
                "plan.yaml:13:15: error: for-each varies the guest's type, and guest 'hvm' has a cdrom, which only "
                    + "HVM guests have: not pv, pvh",
                "plan.yaml:22:9: error: cd-insert changes the medium in a CD-ROM drive, and the guest has none; give "
                    + "it one with 'cdrom: SIZE' (HVM guests)",
                "plan.yaml:23:19: error: 'cd-eject' takes no value; write '- cd-eject:'",
                "plan.yaml:30:9: error: cd-eject changes the medium in a CD-ROM drive, and the guest is the host "
                    + "file's, and xentest changes media only in the drive it gives its own",
            ]
        )
    }

    @Test func xlNamesEachMediumAndTheDrive() {
        var context = XLStepContext(
            guest: Self.guest,
            host: .empty(source: "none"),
            configPath: "/var/lib/xentest/x.cfg"
        )
        let insert = Action.cdInsert(MemorySize(mebibytes: 32))
        #expect(
            XLCommand.forAction(insert, context: context, timeout: .seconds(60))?.argv == [
                "xl", "cd-insert", "xentest-ab12-cd", "hdc", "/var/lib/xentest/xentest-ab12-cd-cd1.iso",
            ]
        )
        context.insertedMedia = 1
        #expect(
            XLCommand.forAction(insert, context: context, timeout: .seconds(60))?.argv.last
                == "/var/lib/xentest/xentest-ab12-cd-cd2.iso"
        )
        #expect(
            XLCommand.forAction(.cdEject, context: context, timeout: .seconds(60))?.argv == [
                "xl", "cd-eject", "xentest-ab12-cd", "hdc",
            ]
        )
        let config = XLConfigRenderer.render(Self.guest, imageDirectory: "/var/lib/xentest")
        #expect(
            config.contains(
                #"disk = [ "format=raw,vdev=hdc,access=ro,devtype=cdrom,target=/var/lib/xentest/xentest-ab12-cd-cd0.iso" ]"#
            )
        )
    }

    @Test func libvirtChangesTheDrivesSource() {
        #expect(
            DomainXMLRenderer.cdromXML(medium: "/d/x-cd1.iso")
                == "<disk type='file' device='cdrom'><driver name='qemu' type='raw'/><source file='/d/x-cd1.iso'/>"
                + "<target dev='hdc' bus='ide'/><readonly/></disk>"
        )
        #expect(!DomainXMLRenderer.cdromXML(medium: nil).contains("<source"))
        for dialect in [HypervisorDriver.xen, .qemu] {
            let xml = DomainXMLRenderer.render(Self.guest, dialect: dialect, imageDirectory: "/d")
            #expect(xml.contains("<source file='/d/xentest-ab12-cd-cd0.iso'/><target dev='hdc' bus='ide'/>"))
        }
    }

    /// What the test guest printed for `CDROMMedium.probe`, captured from real Xen 4.17 in the lab (`xl cd-insert`
    /// of 32M into the drive holding 16M; `xl cd-eject`; `xl cd-insert` of 8M into the emptied drive, whose first
    /// read failed) and QEMU; a guest without the drive.
    @Test func theGuestsReadingOfItsDrive() {
        #expect(CDROMMedium.reading("1+0 records in\r\n1+0 records out\r\nsize=65536\r\n") == .medium(sectors: 65536))
        #expect(
            CDROMMedium.reading("dd: can't open '/dev/sr0': No medium found\r\nsize=65536\r\n") == .empty,
            "an empty drive, whatever size the kernel remembers"
        )
        let unreadable = CDROMMedium.reading("dd: /dev/sr0: Input/output error\r\nsize=16384\r\n")
        #expect(unreadable == .unreadable(sectors: 16384, error: "/dev/sr0: Input/output error"))
        #expect(unreadable?.description == "a medium of 8M it cannot read (/dev/sr0: Input/output error)")
        #expect(
            CDROMMedium.reading(
                "dd: can't open '/dev/sr0': No such file or directory\ncat: can't open '/sys/block/sr0/size': "
                    + "No such file or directory\nsize=\n"
            ) == nil
        )
        #expect(CDROMMedium.describe(sectors: 65536) == "32M")
        #expect(CDROMMedium.describe(sectors: 100) == "50 KiB")
    }

    @Test func showSaysHowToMakeAndCheckEachMedium() throws {
        let (plan, _) = try PlanLoader().load(path: Fixtures.realPlan("rc6"))
        let text = PlanInstructionsRenderer.render(plan)
        #expect(
            text.contains(
                "Make xentest-general-cdrom's disk images: `truncate -s 16777216 xentest-general-cdrom-cd0.iso`."
            )
        )
        #expect(
            text.contains(
                "`truncate -s 33554432 xentest-general-cdrom-cd1.iso`, then `xl cd-insert xentest-general-cdrom hdc "
                    + "xentest-general-cdrom-cd1.iso`"
            )
        )
        #expect(text.contains("`xl cd-eject xentest-general-cdrom hdc`; in the guest's console"))
        #expect(text.contains("xentest-general-cdrom-cd2.iso"))
    }
}
