import Foundation
import Libvirt
import Testing
@testable import XentestBackendLibvirt
@testable import XentestBackendXL
@testable import XentestLab
@testable import XentestPlan
@testable import XentestReport
@testable import XentestRun
@testable import XentestSupport
@testable import XentestXLParsing

extension Tag {
    /// Needs libvirtd with its QEMU driver (`scripts/libvirtd start`): real guests under software emulation.
    @Tag static var qemu: Self
}

/// Set by CI after `scripts/libvirtd start`. Then these tests run, and a daemon that does not answer fails them:
/// they are never skipped for it.
let libvirtdTestsEnabled = ProcessInfo.processInfo.environment["XENTEST_LIBVIRTD_TESTS"] == "1"

/// The machine's libvirtd through the QEMU driver; a daemon that does not answer is a test failure that says how to
/// start it.
func qemuSystem() throws -> LibvirtBackend {
    do { return try LibvirtBackend(uri: "qemu:///system") } catch {
        Issue.record(
            "XENTEST_LIBVIRTD_TESTS=1, but qemu:///system cannot be used: \(error). Start it: scripts/libvirtd start"
        )
        throw error
    }
}

/// The test guest, built from Debian packages into a folder of its own that QEMU may read (libvirt runs QEMU as
/// libvirt-qemu, which cannot reach into /root), and the host file that points at it.
struct QemuTestGuest {
    let folder: ScratchDirectory
    let build: TestGuestBuilder.Result
    /// An isolated /24 the run's networks carry: the host is .1, the guest .2.
    static let hostAddress = "10.254.213.1"
    static let guestAddress = "10.254.213.2"

    init() async throws {
        folder = try ScratchDirectory()
        build = try await TestGuestBuilder().build(kernel: nil, outputDirectory: folder.path + "/guest")
    }

    /// The host file: the guest, its addresses, and a PCI role at an address no machine has, so that nothing real
    /// is ever detached even on a host with an IOMMU; no bridge and no libvirt network, so each case that needs a
    /// network gets an isolated one of its own.
    var host: HostConfig {
        HostConfig(
            pciDevices: [
                "nic": .init(address: PCIAddress(domain: 0, bus: 0xff, device: 0x1f, function: 7), largeBar: false)
            ],
            hostAddress: Self.hostAddress,
            guestAddress: Self.guestAddress,
            guestKernel: build.kernel,
            guestRamdisk: build.ramdisk,
            guestCommandLine: "\(TestGuestBuilder.addressParameter)=\(Self.guestAddress)/24",
            source: "QemuSystemTests"
        )
    }
}

@Suite(
    "libvirtd + QEMU (TCG) on qemu:///system: the test guest, in-guest checks, the rc6 plan",
    .tags(.qemu),
    .serialized,
    .enabled(if: libvirtdTestsEnabled, "set XENTEST_LIBVIRTD_TESTS=1 after `scripts/libvirtd start`")
) struct QemuSystemTests {
    @Test("clean on qemu:///system: the files runs left in /var/lib/xentest go, the tester's files and folders stay")
    func cleanLeftoverFiles() async throws {
        let backend = try qemuSystem()
        let folder = "/var/lib/xentest"
        let mark = "xentest-0ld\(UUID().uuidString.prefix(6).lowercased())"
        let ours = ["\(mark)-case-disk0.qcow2", "\(mark)-case.save"].map { folder + "/" + $0 }
        let theirs = [folder + "/mine-\(mark).img", folder + "/\(mark)-dir/inner.img"]
        try FileManager.default.createDirectory(atPath: folder + "/\(mark)-dir", withIntermediateDirectories: true)
        defer {
            for path in theirs { try? FileManager.default.removeItem(atPath: path) }
            try? FileManager.default.removeItem(atPath: folder + "/\(mark)-dir")
        }
        for path in ours + theirs { #expect(FileManager.default.createFile(atPath: path, contents: Data("x".utf8))) }
        let found = try await backend.leftovers()
        #expect(ours.allSatisfy(found.contains), "\(found)")
        #expect(!found.contains { $0.contains("mine-") || $0.contains("-dir") }, "\(found)")
        let cleaned = await CleanJob.execute(backend: backend, dryRun: false)
        #expect(cleaned.failures.isEmpty, "\(cleaned.failures)")
        #expect(ours.allSatisfy { !FileManager.default.fileExists(atPath: $0) })
        #expect(theirs.allSatisfy { FileManager.default.fileExists(atPath: $0) })
    }

    @Test(
        "the test guest boots as <domain type='qemu'>, says XENTEST_GUEST_READY on ttyS0, and answers over the console stream",
        .timeLimit(.minutes(5))
    ) func bootAndConsole() async throws {
        let backend = try qemuSystem()
        #expect(backend.driver == .qemu)
        let guest = try await QemuTestGuest()
        let name = "xentest-qemutest-\(UUID().uuidString.prefix(8).lowercased())-boot"
        let spec = GuestSpec(
            name: "boot",
            type: .pv,
            memory: MemorySize(mebibytes: 256),
            vcpus: 1,
            maxvcpus: 2,
            nics: 0,
            pci: [],
            passthrough: false
        )
        let xml = DomainXMLRenderer.render(
            GuestInstance(domainName: name, spec: spec, host: guest.host),
            dialect: .qemu
        )
        #expect(xml.hasPrefix("<domain type='qemu'>"))
        #expect(xml.contains("console=ttyS0"))
        let connection = backend.connection
        let domain = try connection.defineDomain(xml: xml)
        defer {
            // Whatever failed, this test's guest does not outlive it.
            if (try? domain.isActive) == true { try? domain.destroy() }
            try? domain.undefine()
        }
        let start = Date()
        try domain.create()
        let console = try domain.openConsole(nonBlocking: true)
        let incoming = try console.incoming()
        let transcript = try await withDeadline(.seconds(180)) {
            var text = ""
            for try await chunk in incoming {
                text += String(decoding: chunk, as: UTF8.self)
                if text.contains(TestGuestBuilder.readyMarker) { return text }
            }
            return text
        }
        let bootSeconds = Date().timeIntervalSince(start)
        try console.abort()
        print(
            String(
                format: "qemu test guest: built in %.1f s; XENTEST_GUEST_READY %.1f s after virDomainCreate",
                guest.build.seconds,
                bootSeconds
            )
        )
        #expect(transcript.contains(TestGuestBuilder.readyMarker), "the console showed: \(transcript.suffix(2000))")

        // The marker protocol over libvirt's console stream, on the booted guest.
        let shell = LibvirtGuestConsole(domain: domain, closings: ConsoleClosings())
        let active = try await shell.exec("cat /sys/class/tty/console/active")
        #expect(active.reached && active.status == 0)
        #expect(active.output.contains("ttyS0"), "the console is the first serial port: \(active.output)")
        let missing = try await shell.exec("ls /nonexistent")
        #expect(missing.reached)
        #expect(missing.status == 1)
        #expect(missing.output.contains("No such file"))
        let unterminated = try await shell.exec("printf 'no newline'")
        #expect(unterminated.status == 0)
        #expect(unterminated.output == "no newline")
        let typed = try #require(unterminated.evidence.last)
        #expect(typed.kind == "console")
        #expect(typed.arguments.first?.contains("(eval printf\\ \\'no\\ newline\\')") == true, "\(typed.arguments)")

        // Command after command, each on a console of its own: the last one is closed before the next opens.
        for round in 1...8 {
            let echoed = try await withDeadline(.seconds(60)) { try await shell.exec("echo round-\(round)") }
            #expect(echoed.reached && echoed.output == "round-\(round)", "\(echoed.problem ?? echoed.output)")
        }

        // A guest that is gone closes the stream: the check fails with the reason instead of hanging.
        try domain.destroy()
        let afterDestroy = try await withDeadline(.seconds(60)) { try await shell.exec("true") }
        #expect(!afterDestroy.reached)
        #expect(afterDestroy.problem?.contains("console") == true, "\(afterDestroy.problem ?? "")")
    }

    @Test(
        "rc6 on qemu:///system: verdicts per case, vCPUs and a NIC seen inside the guest, nothing xentest-* left",
        .timeLimit(.minutes(15))
    ) func rc6() async throws {
        let backend = try qemuSystem()
        let plan = try PlanLoader().load(path: Fixtures.realPlan("rc6")).plan
        try #require(backend.hostIOMMU == false, "these verdicts are for a host without an IOMMU, as CI's")
        let before = try libvirtObjectsNamedXentest(backend)

        // CI (.ci/run) has just run rc6 on qemu:///system with this build for its table of verdicts; it names that
        // run here, so that its verdicts are judged without running the plan a second time (about 5 minutes).
        let result: RunResult
        if let previous = ProcessInfo.processInfo.environment["XENTEST_QEMU_RC6_RUN"] {
            result = try #require(try Journal.result(path: previous + "/journal.jsonl"), "no run in \(previous)")
            try #require(result.plan == "rc6" && result.host.libvirtURI == "qemu:///system" && !result.interrupted)
            #expect(result.xentestVersion == XentestVersion.current)
            print("rc6 on qemu:///system: judging the run in \(previous)")
        } else {
            let guest = try await QemuTestGuest()
            let start = Date()
            result = try await TestDriverRun.run(plan, backend: backend, host: guest.host).result
            print(String(format: "rc6 on qemu:///system: %.1f s", Date().timeIntervalSince(start)))
        }
        for testCase in result.cases {
            let status = testCase.status.rawValue.padding(toLength: 6, withPad: " ", startingAt: 0)
            print("  \(status) \(testCase.id) " + String(format: "%.1f s", testCase.durationSeconds))
        }
        let run = (
            result: result, status: { (id: String) in result.cases.first { $0.id == id }?.status },
            reason: { (id: String) in result.cases.first { $0.id == id }?.reason ?? "" }
        )

        let passing = [
            "lifecycle-create-destroy", "lifecycle-pause-unpause", "lifecycle-shutdown", "cpu-hotplug-pv-add",
            "cpu-hotplug-pv-add-in-guest", "cpu-hotplug-hvm-add", "cpu-hotplug-above-max", "network-vif-ping",
            "network-attach-detach", "network-attach-in-guest", "general-save-restore.pv", "general-save-restore.hvm",
            "general-reboot.pv", "general-reboot.hvm", "general-balloon", "general-vcpu-pin", "general-disk-hotplug.pv",
            "general-disk-hotplug.hvm", "general-disk-qcow2", "general-cdrom", "network-guest-to-guest",
        ]
        for id in passing { #expect(run.status(id) == .pass, "\(id): \(run.reason(id))") }
        // QEMU runs no PVH guest, migrates only to another host, and keeps a running guest's maximum memory.
        for id in ["general-save-restore.pvh", "general-reboot.pvh", "general-disk-hotplug.pvh"] {
            #expect(run.reason(id).contains("cannot run PVH guests"), "\(id): \(run.reason(id))")
        }
        for id in ["general-local-migrate.pv", "general-local-migrate.pvh", "general-local-migrate.hvm"] {
            #expect(run.reason(id) == "the case runs on xl only", "\(id): \(run.reason(id))")
        }
        #expect(run.reason("general-mem-max").contains("cannot change a running guest's maximum memory"))

        // Hot-unplug times out under TCG: the known issue scoped to the qemu driver makes it an xfail.
        #expect(run.status("cpu-hotplug-hvm-unplug") == .xfail, "\(run.reason("cpu-hotplug-hvm-unplug"))")
        #expect(run.reason("cpu-hotplug-hvm-unplug").contains("vcpu unplug request timed out"))

        // No IOMMU: skipped before anything was touched, with libvirt's reason and the host's.
        for id in ["pci-assignable", "pci-boot-with-device", "pci-hotplug-attach-detach", "pci-large-bar-gpu"] {
            #expect(run.status(id) == .skip, "\(id)")
            #expect(run.reason(id).contains("libvirt reports no IOMMU on this host (<iommu support='no'/>"), "\(id)")
        }
        #expect(run.reason("pci-hotplug-attach-detach").contains("no IOMMU for passthrough on this host"))
        #expect(run.status("network-split-event-channels") == .skip)
        #expect(run.reason("network-split-event-channels") == "the case runs on xl only")
        #expect(run.result.summary.pass == passing.count)
        #expect(run.result.summary.xfail == 1)
        #expect(run.result.summary.skip == plan.cases.count - passing.count - 1)
        #expect(run.result.exitStatus == .success)
        let neverTouched = run.result.cases.filter { $0.id.hasPrefix("pci-") }.flatMap(\.steps)
        #expect(neverTouched.isEmpty, "no PCI step ran")

        // Inside the guest: the hot-added vCPUs are online, seen through the console stream.
        let cpus = try #require(run.result.cases.first { $0.id == "cpu-hotplug-pv-add-in-guest" })
        let online = cpus.steps.filter { $0.label == "guest-exec cat /sys/devices/system/cpu/online" }
        #expect(online.count == 3)
        for (step, seen) in zip(online, ["0", "0-1", "0-3"]) {
            #expect(step.status == .pass)
            let answer = try #require(step.evidence.last { $0.kind == "console" && $0.status == 0 }, "\(step)")
            #expect(answer.output.split(whereSeparator: \.isNewline).contains(Substring(seen)), "\(answer.output)")
        }

        // The hot-attached NIC is eth1 inside the guest, on the case's own isolated network.
        let nic = try #require(run.result.cases.first { $0.id == "network-attach-in-guest" })
        let attach = try #require(nic.steps.first { $0.label == "network-attach" })
        let network = "xentest-\(run.result.runID)-network-attach-in-guest-net"
        #expect(
            attach.evidence.contains {
                $0.call == "virDomainAttachDeviceFlags" && $0.arguments[1].contains("network='\(network)'")
            }
        )
        let created = try #require(nic.steps.flatMap(\.evidence).first { $0.call == "virNetworkCreateXML" })
        #expect(created.arguments[0].contains("<name>\(network)</name>"))
        #expect(!created.arguments[0].contains("<forward"), "isolated: nothing leaves the machine")
        let listing = try #require(nic.steps.first { $0.label == "guest-exec ls /sys/class/net" })
        #expect(listing.status == .pass)
        let seenNICs = try #require(listing.evidence.last { $0.kind == "console" && $0.status == 0 }).output
        #expect(seenNICs.contains("eth1"), "\(seenNICs)")
        let removed = nic.steps.flatMap(\.evidence) + nic.teardown.flatMap(\.evidence)
        #expect(removed.contains { $0.call == "virNetworkDestroy" && $0.arguments == [network] })

        // Pings both ways across the isolated network.
        let ping = try #require(run.result.cases.first { $0.id == "network-vif-ping" })
        #expect(ping.steps.first { $0.label == "ping guest" }?.evidence.first?.call == "ping")

        // Nothing of this run is left, and no xentest-* object that was not there before.
        let after = try libvirtObjectsNamedXentest(backend)
        #expect(after.filter { $0.contains(run.result.runID) }.isEmpty, "\(after)")
        // Objects an earlier run left (the machine's libvirtd may keep one from before this test) are not this
        // run's to judge or remove: `xentest clean --connect qemu:///system` does that for the tester.
        #expect(after.subtracting(before).isEmpty, "left behind: \(after.subtracting(before))")
    }

    /// Domains and networks whose names start with `xentest-`.
    func libvirtObjectsNamedXentest(_ backend: LibvirtBackend) throws -> Set<String> {
        let names = try backend.connection.domains().map(\.name) + backend.connection.networks().map(\.name)
        return Set(names.filter { $0.hasPrefix("xentest-") })
    }
}
