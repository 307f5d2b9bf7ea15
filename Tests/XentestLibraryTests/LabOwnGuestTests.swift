import Foundation
import Libvirt
import Testing
@testable import XentestBackendLibvirt
@testable import XentestLab
@testable import XentestPlan
@testable import XentestRun
@testable import XentestSupport
@testable import XentestXLParsing

/// A tester's own guest on real Xen 4.17: an xm-era config and its disk image in dom0, copied by the run and
/// booted as the copy, the original never started nor written. In the lab suite, so that one lab boots at a time.
extension LabEndToEndTests {
    /// The tester's guest: xentest's test guest kernel, but configured as a tester writes configs for xm (`file:`
    /// disks, a MAC and UUID of its own), with an image of random bytes.
    static let ownConfig = """
        # An xm-era config: xm's file: prefix, its own MAC and UUID.
        name = "web"
        uuid = "6b1f3c2e-8d7a-4f4e-9d61-0c2b7e9a1f55"
        kernel = "/var/lib/xentest/guest/vmlinuz"
        ramdisk = "/var/lib/xentest/guest/initrd.gz"
        extra = "console=hvc0 loglevel=4 xentest.ip=10.0.0.9/24"
        memory = 128
        disk = [ 'file:/srv/own/web.img,xvda,w' ]
        vif = [ 'mac=00:16:3e:01:02:03, bridge=xenbr0' ]

        """

    /// A guest whose disk is a block device, which xentest will not overlay.
    static let blockDeviceConfig = """
        name = "db"
        kernel = "/var/lib/xentest/guest/vmlinuz"
        memory = 128
        disk = [ 'phy:/dev/loop7,xvda,w' ]

        """

    static let ownPlan = """
        release: 4.17.0
        title: Testers' own guests
        guests:
          web: {from-host: web}
          db: {from-host: db}
        cases:
          - id: own-web
            title: The tester's own guest boots as a copy, its disk an overlay
            area: own-guests
            guest: web
            steps:
              - create:
              - wait-for-console: XENTEST_GUEST_READY
              - stay-up: 10s
              - ping: guest
              - block-list:
                expect: {count: 1}
              - destroy:
          - id: own-db
            title: A block-device disk is never written
            area: own-guests
            guest: db
            steps:
              - create:
              - destroy:
          - id: stay-up-sees-a-restart
            title: A guest that reboots itself does not stay up
            area: own-guests
            guest: {type: pv, memory: 128M}
            steps:
              - create:
              - guest-exec: '(sleep 2; reboot -f) >/dev/null 2>&1 & true'
              - stay-up: 30s
                expect: {fails-matching: 'restarted .*domain id|was gone after'}
              # No destroy: the guest may be between two boots; teardown destroys it if xl starts it again.

        """

    /// SHA-256 of each of `paths` in dom0.
    static func hashes(_ paths: [String], _ ssh: some CommandRunner) async throws -> String {
        let result = try await ssh.run(["sha256sum"] + paths, timeout: .seconds(60))
        #expect(result.succeeded, "sha256sum: \(result.stderr)")
        return result.stdout
    }

    @Test(
        "own guests on real Xen: an xm config (xl) and a libvirt domain (libvirt) copied on overlays boot, answer, go; originals untouched",
        .enabled(if: labTestsEnabled, "set XENTEST_LAB_TESTS=1 and install qemu-system-x86 to boot Xen in QEMU"),
        .timeLimit(.minutes(15))
    ) func ownGuestOnRealXen() async throws {
        try await Self.withBootedLab { lab, state, folder in
            let ssh = lab.sshRunner(port: state.sshPort)
            let setup = try await ssh.run(
                ["sh", "-c", "mkdir -p /srv/own && head -c 8388608 /dev/urandom > /srv/own/web.img"],
                timeout: .seconds(60)
            )
            #expect(setup.succeeded, "\(setup.stderr)")
            for (path, text) in [("/srv/own/web.cfg", Self.ownConfig), ("/srv/own/db.cfg", Self.blockDeviceConfig)] {
                let written = try await ssh.run(
                    ["dd", "of=\(path)", "status=none"],
                    timeout: .seconds(30),
                    input: text
                )
                #expect(written.succeeded, "\(written.stderr)")
            }
            let originals = ["/srv/own/web.cfg", "/srv/own/web.img", "/srv/own/db.cfg"]
            let before = try await Self.hashes(originals, ssh)

            let hostFile = folder + "/host.yaml"
            let labHost = try String(contentsOfFile: lab.paths.hostFile, encoding: .utf8)
            try
                (labHost + """
                    guests:
                      web: {xl-config: /srv/own/web.cfg, address: 10.0.0.9}
                      db: {xl-config: /srv/own/db.cfg}

                    """)
                .write(toFile: hostFile, atomically: true, encoding: .utf8)
            let plan = folder + "/own.yaml"
            try Self.ownPlan.write(toFile: plan, atomically: true, encoding: .utf8)

            var options = RunOptions(plan: plan, resultsRoot: folder + "/results")
            options.hostConfigPath = hostFile
            let status = try await lab.runPlan(options)
            let result = try Self.onlyResult(under: folder + "/results")
            let web = try #require(result.cases.first { $0.id == "own-web" })
            #expect(web.status == .pass, "\(web.reason ?? "")")
            #expect(status == .success)

            // The copy: its own name, no UUID, a MAC of its own, the disk an overlay backed by the image.
            let evidence = web.steps.flatMap(\.evidence)
            let copy = try #require(evidence.first { $0.kind == "file" && $0.call.hasSuffix(".cfg") })
            #expect(copy.output.contains("name = \"xentest-"))
            #expect(!copy.output.contains("uuid"))
            #expect(!copy.output.contains("00:16:3e:01:02:03"))
            #expect(copy.output.contains("format=qcow2,vdev=xvda,access=rw,target=/var/lib/xentest/xentest-"))
            let overlay = try #require(evidence.first { $0.call == "qemu-img" })
            #expect(overlay.arguments.contains("/srv/own/web.img") && overlay.status == 0, "\(overlay)")
            // Seen from outside: the console's line, the ping to the tester's address.
            #expect(evidence.contains { $0.output.contains("XENTEST_GUEST_READY") })
            #expect(evidence.contains { $0.call == "ping" && $0.arguments.contains("10.0.0.9") && $0.status == 0 })

            // stay-up is not fooled by a guest the toolstack restarted under its name.
            let restarted = try #require(result.cases.first { $0.id == "stay-up-sees-a-restart" })
            #expect(restarted.status == .pass, "\(restarted.reason ?? "")")

            let db = try #require(result.cases.first { $0.id == "own-db" })
            #expect(db.status == .skip)
            #expect(db.reason?.contains("is a block device") == true, "\(db.reason ?? "")")

            // The originals are byte for byte as they were; the original was never a domain; nothing is left.
            #expect(try await Self.hashes(originals, ssh) == before)
            let domains = try await ssh.run(["xl", "list"], timeout: .seconds(60))
            let names = try XLParse.list(domains.stdout).map(\.name)
            #expect(names == ["Domain-0"], "\(names)")
            let left = try await ssh.run(["sh", "-c", "ls /var/lib/xentest/*own* 2>/dev/null"], timeout: .seconds(30))
            #expect(left.stdout.isEmpty, "overlays left: \(left.stdout)")

            try await Self.ownDomainThroughLibvirt(lab, state, folder, ssh: ssh, originals: originals, before: before)
        }
    }

    /// The same guest as a libvirt domain of the tester's in dom0's libvirtd (defined, never started), copied through
    /// libvirt's libxl driver: the copy boots on its overlay and answers; the domain, its XML and the image are as
    /// they were.
    static func ownDomainThroughLibvirt(
        _ lab: Lab,
        _ state: LabState,
        _ folder: String,
        ssh: some CommandRunner,
        originals: [String],
        before: String
    ) async throws {
        let connection = try LibvirtConnection(uri: lab.libvirtURI(port: state.sshPort))
        var labHost = try HostConfig.load(path: lab.paths.hostFile)
        labHost.guestCommandLine = "xentest.ip=10.0.0.9/24"
        var spec = GuestSpec(name: "web", type: .pv)
        spec.memory = MemorySize(mebibytes: 128)
        spec.nics = 1
        let rendered = DomainXMLRenderer.render(
            GuestInstance(domainName: "tester-web", spec: spec, host: labHost),
            dialect: .xen
        )
        let templateXML = rendered.replacingOccurrences(
            of: "  <devices>\n",
            with: "  <devices>\n    <disk type='file' device='disk'><driver name='qemu' type='raw'/>"
                + "<source file='/srv/own/web.img'/><target dev='xvda' bus='xen'/></disk>\n"
        )
        let template = try connection.defineDomain(xml: templateXML)
        defer { try? template.undefine() }
        let templateBefore = try template.xml(inactive: true)

        let hostFile = folder + "/host-libvirt.yaml"
        try
            (String(contentsOfFile: lab.paths.hostFile, encoding: .utf8) + """
                guests:
                  web: {libvirt-domain: tester-web, address: 10.0.0.9}

                """)
            .write(toFile: hostFile, atomically: true, encoding: .utf8)
        var options = RunOptions(
            plan: folder + "/own.yaml",
            only: ["own-web"],
            resultsRoot: folder + "/results-libvirt"
        )
        options.hostConfigPath = hostFile
        let status = try await lab.runPlan(options, backend: .libvirt)
        let result = try onlyResult(under: folder + "/results-libvirt")
        let web = try #require(result.cases.first { $0.id == "own-web" })
        #expect(web.status == .pass, "\(web.reason ?? "")")
        #expect(status == .success)
        for step in web.steps {
            print(
                String(
                    format: "  libvirt own-web: %@ %@ %.1f s",
                    step.status.rawValue,
                    step.label,
                    step.durationSeconds
                )
            )
        }
        let evidence = web.steps.flatMap(\.evidence)
        let copy = try #require(evidence.first { $0.kind == "file" })
        #expect(
            LibvirtXML(copy.output).strings("/domain/devices/disk/source/@file")
                .allSatisfy { $0.hasSuffix("-own0.qcow2") }
        )
        #expect(evidence.contains { $0.call == "ping" && $0.arguments.contains("10.0.0.9") && $0.status == 0 })
        let onTemplate = evidence.filter { $0.arguments.first == "tester-web" }
        #expect(onTemplate.map(\.call) == ["virDomainLookupByName", "virDomainGetXMLDesc"], "only read")

        #expect(try template.xml(inactive: true) == templateBefore)
        #expect(try !template.isActive)
        #expect(try await hashes(originals, ssh) == before)
        let names = try XLParse.list(try await ssh.run(["xl", "list"], timeout: .seconds(60)).stdout).map(\.name)
        #expect(names == ["Domain-0"], "\(names)")
        let left = try await ssh.run(["sh", "-c", "ls /var/lib/xentest/*own* 2>/dev/null"], timeout: .seconds(30))
        #expect(left.stdout.isEmpty, "overlays left: \(left.stdout)")
    }
}
