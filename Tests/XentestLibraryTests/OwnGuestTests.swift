import Foundation
import Testing
@testable import XentestBackendXL
@testable import XentestPlan
@testable import XentestRun
@testable import XentestSupport

/// Testers' own guests: the host file's `guests:`, a case's `from-host`, the copy of an xl config, and what a
/// console shows.
@Suite("Own guests: host file, plan, the xl copy") struct OwnGuestTests {
    @Test func hostFileOffersGuestsByRole() throws {
        let (config, lines) = try loadHostText(
            """
            guests:
              desktop: {xl-config: /etc/xen/win10-gpu.cfg}
              web: {libvirt-domain: web01, address: 192.168.1.20}

            """
        )
        #expect(lines.isEmpty)
        let host = try #require(config)
        #expect(host.guests["desktop"] == .init(source: .xlConfig(path: "/etc/xen/win10-gpu.cfg")))
        #expect(host.guests["web"] == .init(source: .libvirtDomain(name: "web01"), address: "192.168.1.20"))
    }

    @Test func everyProblemOfTheGuestsAtOnce() throws {
        let (config, lines) = try loadHostText(
            """
            guests:
              both: {xl-config: /etc/xen/a.cfg, libvirt-domain: a}
              none: {address: 10.0.0.9}
              relative: {xl-config: web.cfg}
              ours: {libvirt-domain: xentest-1a2b3c-case}
              badaddress: {xl-config: /etc/xen/b.cfg, address: 10.0.0}
              typo: {xl-conifg: /etc/xen/c.cfg}

            """
        )
        #expect(config == nil)
        #expect(
            lines == [
                "host.yaml:2:9: error: guest 'both' has both 'xl-config' and 'libvirt-domain'; give one",
                "host.yaml:3:9: error: guest 'none' needs 'xl-config: PATH' (an xl or xm config file) or "
                    + "'libvirt-domain: NAME'",
                "host.yaml:4:25: error: xl-config 'web.cfg' must be an absolute path on the Xen host",
                "host.yaml:5:26: error: libvirt-domain 'xentest-1a2b3c-case' must name the tester's own domain "
                    + "(xentest-* are a run's copies)",
                "host.yaml:6:52: error: address '10.0.0' is not an IPv4 address such as 10.0.0.1",
                "host.yaml:7:10: error: unknown key 'xl-conifg' in guest 'typo'; did you mean 'xl-config'?",
            ]
        )
    }

    static let plan = """
        release: 4.17.0-rc4
        title: Own guests
        guests:
          web: {from-host: web}
        cases:
          - id: own-web
            title: The tester's web server boots as a copy
            area: own-guests
            guest: web
            steps:
              - create:
              - wait-for-console: 'login:'
              - stay-up: 30s
              - ping: guest
              - destroy:
          - id: own-desktop
            title: The desktop, inline
            area: own-guests
            guest: {from-host: desktop}
            requires: [{large-bar-device: gpu}]
            steps:
              - create:
              - stay-up: 1m
                timeout: 2m
              - destroy:

        """

    @Test func aCaseCopiesAGuestOfTheHostFile() throws {
        let outcome = try loadPlanText(Self.plan)
        let plan = try #require(outcome.plan, "\(outcome.lines)")
        let web = try #require(plan.testCase("own-web"))
        #expect(web.guest?.fromHost == "web")
        #expect(web.requirements == [.hostGuest(role: "web"), .hostGuestAddress(role: "web")])
        #expect(web.steps[1].action == .waitForConsole(try PlanPattern("login:")))
        #expect(web.steps[2].action == .stayUp(.seconds(30)))
        #expect(web.steps[2].timeout == .seconds(90), "stay-up's default timeout is its time and a minute")
        let desktop = try #require(plan.testCase("own-desktop"))
        #expect(desktop.requirements == [.largeBarDevice(role: "gpu"), .hostGuest(role: "desktop")])
        #expect(desktop.guest?.fromHost == "desktop")
    }

    @Test func whatCannotWorkOnAGuestFromTheHostFileIsReported() throws {
        let outcome = try loadPlanText(
            """
            release: 4.17.0-rc4
            title: Own guests
            guests:
              web: {from-host: web, memory: 1G}
              db: {from-host: db}
            cases:
              - id: inside
                title: Commands inside a guest xentest cannot reach
                area: own-guests
                guest: db
                for-each: {type: [pv, hvm]}
                steps:
                  - create:
                  - guest-exec: uname -a
                  - ping: host
                  - stay-up: 2m
                    timeout: 1m
                  - stay-up: 500ms

            """
        )
        #expect(outcome.plan == nil)
        #expect(
            outcome.lines == [
                "plan.yaml:4:25: error: 'memory' cannot be set for guest 'web': it is the host file's own guest, as "
                    + "its config describes it",
                "plan.yaml:11:15: error: for-each varies the guest's type, and the host file's guest 'db' has the "
                    + "type its config gives",
                "plan.yaml:14:21: error: guest-exec runs in xentest's test guest's shell, and guest 'db' is a copy of "
                    + "the host file's guest 'db', whose shell xentest cannot reach; check it from outside "
                    + "(wait-for-console, ping: guest, stay-up)",
                "plan.yaml:15:15: error: a ping from inside a guest runs in xentest's test guest's shell, and guest "
                    + "'db' is a copy of the host file's guest 'db', whose shell xentest cannot reach; check it from "
                    + "outside (wait-for-console, ping: guest, stay-up)",
                "plan.yaml:17:18: error: the step's timeout (1m) ends before stay-up's 2m do; give it more, or leave "
                    + "it out", "plan.yaml:18:18: error: stay-up watches the guest for a second or more; not 500ms",
            ]
        )
    }

    /// An xm-era config as testers have them: xm's `file:` prefix, a CD-ROM, a MAC of its own, a UUID.
    static let xmConfig = """
        name = "web"
        uuid = "6b1f3c2e-8d7a-4f4e-9d61-0c2b7e9a1f55"
        kernel = "/boot/vmlinuz-web"
        ramdisk = "/boot/initrd-web"
        extra = "console=hvc0 root=/dev/xvda1"
        memory = 512
        vcpus = 2
        disk = [ 'file:/srv/xen/web.img,xvda,w', 'tap:qcow2:/srv/xen/data.qcow2,xvdb,w',
                 'file:/srv/iso/debian.iso,hdc:cdrom,r' ]
        vif = [ 'mac=00:16:3e:11:22:33, bridge=xenbr0' ]
        on_crash = "preserve"

        """

    func guest(_ name: String = "xentest-1a2b3c-own-web") -> GuestInstance {
        var spec = GuestSpec(name: "web", type: .pv)
        spec.fromHost = "web"
        return GuestInstance(domainName: name, spec: spec, host: .empty(source: "test"))
    }

    @Test func anXMConfigIsCopiedWithOverlaysAndANewIdentity() throws {
        let config = try XLConfigFile.parse(Self.xmConfig, file: "/etc/xen/web.cfg")
        let copy = try XLOwnGuestCopy.make(config, for: guest(), overlaysIn: "/var/lib/xentest")
        let mac = guest().macAddress(nic: 0)
        #expect(
            copy.text == """
                # A copy of /etc/xen/web.cfg made by xentest for xentest-1a2b3c-own-web: its disks are overlays, \
                the original is never written.
                name = "xentest-1a2b3c-own-web"
                kernel = "/boot/vmlinuz-web"
                ramdisk = "/boot/initrd-web"
                extra = "console=hvc0 root=/dev/xvda1"
                memory = 512
                vcpus = 2
                disk = [ "format=qcow2,vdev=xvda,access=rw,target=/var/lib/xentest/xentest-1a2b3c-own-web-own0.qcow2", \
                "format=qcow2,vdev=xvdb,access=rw,target=/var/lib/xentest/xentest-1a2b3c-own-web-own1.qcow2", \
                "file:/srv/iso/debian.iso,hdc:cdrom,r" ]
                vif = [ "bridge=xenbr0,mac=\(mac)" ]
                on_crash = "preserve"

                """
        )
        #expect(
            copy.overlays.map(\.makeCommand) == [
                [
                    "qemu-img", "create", "-q", "-f", "qcow2", "-F", "raw", "-b", "/srv/xen/web.img",
                    "/var/lib/xentest/xentest-1a2b3c-own-web-own0.qcow2",
                ],
                [
                    "qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", "/srv/xen/data.qcow2",
                    "/var/lib/xentest/xentest-1a2b3c-own-web-own1.qcow2",
                ],
            ]
        )
        // What xentest's own reader makes of the copy: the same guest, under the new name, with no UUID.
        let reread = try XLConfigFile.parse(copy.text, file: "copy.cfg").settings().settings
        #expect(
            reread.map(\.key) == ["name", "kernel", "ramdisk", "extra", "memory", "vcpus", "disk", "vif", "on_crash"]
        )
    }

    @Test(arguments: [
        ("'phy:/dev/vg0/web,xvda,w'", "a block device"), ("'/dev/sdb,raw,xvda,rw'", "a block device"),
        ("'format=raw,vdev=xvda,access=rw,target=nbd:server:10809'", "not an image file"),
    ]) func aDiskThatCannotBeOverlaidIsNotCopied(_ disk: String, _ why: String) throws {
        let config = try XLConfigFile.parse("name = \"db\"\ndisk = [ \(disk) ]\n", file: "/etc/xen/db.cfg")
        #expect(throws: XLOwnGuestCopy.CannotCopy.self) {
            try XLOwnGuestCopy.make(config, for: guest(), overlaysIn: "/var/lib/xentest")
        }
        do { _ = try XLOwnGuestCopy.make(config, for: guest(), overlaysIn: "/var/lib/xentest") } catch {
            #expect(error.reason.contains(why), "\(error.reason)")
            #expect(error.reason.contains("never writes to the tester's disks"))
        }
    }

    @Test func aReadOnlyBlockDeviceIsKeptAsItIs() throws {
        let config = try XLConfigFile.parse(
            "name = \"db\"\ndisk = [ 'phy:/dev/vg0/base,xvda,r' ]\nvif = [ 'bridge=xenbr0' ]\n",
            file: "/etc/xen/db.cfg"
        )
        let copy = try XLOwnGuestCopy.make(config, for: guest(), overlaysIn: "/var/lib/xentest")
        #expect(copy.overlays.isEmpty)
        #expect(copy.text.contains("disk = [ \"phy:/dev/vg0/base,xvda,r\" ]"))
        #expect(copy.text.contains("vif = [ \"bridge=xenbr0,mac=\(guest().macAddress(nic: 0))\" ]"))
    }

    @Test func aConsoleLineIsFoundWithoutItsEscapes() throws {
        let text = "\u{1B}[0;32mDebian GNU/Linux 12 web hvc0\u{1B}[0m\r\n\r\nweb login: \u{1B}]0;title\u{07}"
        #expect(ConsoleText.firstLine(in: text, matching: try PlanPattern("login: ?$")) == "web login:")
        #expect(ConsoleText.firstLine(in: text, matching: try PlanPattern("^Debian")) == "Debian GNU/Linux 12 web hvc0")
        #expect(ConsoleText.firstLine(in: text, matching: try PlanPattern("Password")) == nil)
    }

    @Test func showTellsHowToCopyTheGuestByHand() throws {
        let outcome = try loadPlanText(Self.plan)
        let plan = try #require(outcome.plan)
        var host = HostConfig.empty(source: "host.yaml")
        host.guests["web"] = .init(source: .xlConfig(path: "/etc/xen/web.cfg"), address: "192.168.1.20")
        let text = PlanInstructionsRenderer.render(plan, host: host)
        #expect(text.contains("Copy `/etc/xen/web.cfg` to `xentest-own-web.cfg`: name it `xentest-own-web`"))
        #expect(text.contains("`ping -c 3 192.168.1.20` from dom0."))
        #expect(text.contains("Watch `xl console xentest-own-web`"))
        #expect(text.contains("Watch `xl list xentest-own-web` for 30s"))
        #expect(text.contains("your config for role 'desktop'"))
    }
}
