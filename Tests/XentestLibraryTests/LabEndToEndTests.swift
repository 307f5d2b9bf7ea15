import Foundation
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
    /// Boots Xen 4.17 in QEMU (the lab): minutes, a few GB of RAM, Debian packages from the network.
    @Tag static var xenLab: Self
}

/// Whether the lab end-to-end test should run: QEMU is installed and it was asked for.
let labTestsEnabled =
    ProcessInfo.processInfo.environment["XENTEST_LAB_TESTS"] == "1" && programExists("qemu-system-x86_64")

@Suite("Lab end to end: Xen 4.17 in QEMU", .tags(.xenLab), .serialized) struct LabEndToEndTests {
    @Test(
        "lab up, xl info over SSH, the test guest says XENTEST_GUEST_READY, xl destroy, lab down",
        .enabled(if: labTestsEnabled, "set XENTEST_LAB_TESTS=1 and install qemu-system-x86 to boot Xen in QEMU"),
        .timeLimit(.minutes(20))
    ) func upCreateDown() async throws {
        // Its own lab folder (no spaces: QEMU's -initrd); packages come from the shared cache.
        let folder = "/tmp/xentest-lab-e2e-\(UUID().uuidString.prefix(8))"
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let lab = Lab(paths: LabPaths(root: folder), progress: { print("lab: \($0)") })
        let upStart = Date()
        let up = try await lab.up(bootTimeout: .seconds(600))
        var stopped = false
        defer {
            // Whatever failed, this test's QEMU does not outlive it.
            if !stopped, let pid = LabState.load(path: lab.paths.stateFile)?.pid,
                LabProcess.ownership(pid: pid, paths: lab.paths) == .ours
            {
                kill(pid, SIGKILL)
            }
        }
        print(
            String(
                format: "lab up: images %@ in %.1f s, boot to SSH %.1f s, total %.1f s",
                up.images?.built == true ? "built" : "cached",
                up.images?.seconds ?? 0,
                up.state.bootSeconds ?? 0,
                Date().timeIntervalSince(upStart)
            )
        )
        #expect(up.started)
        #expect(up.xenVersion?.hasPrefix("4.17") == true)
        guard case .running(let state) = lab.status() else {
            Issue.record("status does not say running after up")
            return
        }
        #expect(state.sshPort == up.state.sshPort)

        let ssh = lab.sshRunner(port: state.sshPort)
        let info = try await ssh.run(["xl", "info"], timeout: .seconds(60))
        #expect(info.succeeded)
        let xenVersion = info.stdout.split(separator: "\n").first { $0.hasPrefix("xen_version") }
        #expect(xenVersion?.contains("4.17") == true, "xen_version: \(xenVersion ?? "none")")

        // The test guest from the lab's host file, as a plan would boot it.
        let host = try HostConfig.load(path: lab.paths.hostFile)
        let name = "xentest-e2e-guest"
        let config = """
            name = "\(name)"
            type = "pv"
            kernel = "\(host.guestKernel ?? "")"
            ramdisk = "\(host.guestRamdisk ?? "")"
            extra = "console=hvc0 loglevel=4 \(host.guestCommandLine ?? "")"
            memory = 256
            vcpus = 1
            vif = [ 'bridge=\(host.bridge ?? ""),mac=00:16:3e:00:00:42' ]
            on_poweroff = "destroy"

            """
        let write = try await ssh.run(
            ["dd", "of=/tmp/\(name).cfg", "status=none"],
            timeout: .seconds(30),
            input: config
        )
        #expect(write.succeeded, "\(write.stderr)")
        let createStart = Date()
        let create = try await ssh.run(["xl", "create", "/tmp/\(name).cfg"], timeout: .seconds(300))
        #expect(create.succeeded, "\(create.stderr)")
        let created = Date()
        let log = "/var/log/xen/console/guest-\(name).log"
        var ready = false
        while !ready, Date().timeIntervalSince(created) < 180 {
            let grep = try await ssh.run(["grep", "-c", TestGuestBuilder.readyMarker, log], timeout: .seconds(30))
            ready = grep.succeeded
            if !ready { try await Task.sleep(for: .milliseconds(500)) }
        }
        print(
            String(
                format: "xl create %.1f s; XENTEST_GUEST_READY %.1f s after create returned, %.1f s after it began",
                created.timeIntervalSince(createStart),
                Date().timeIntervalSince(created),
                Date().timeIntervalSince(createStart)
            )
        )
        #expect(ready, "XENTEST_GUEST_READY in \(log)")
        let ping = try await ssh.run(["ping", "-c", "2", "-W", "3", host.guestAddress ?? ""], timeout: .seconds(60))
        #expect(ping.succeeded, "dom0 pings the guest on the bridge: \(ping.stdout)")
        let destroy = try await ssh.run(["xl", "destroy", name], timeout: .seconds(120))
        #expect(destroy.succeeded, "\(destroy.stderr)")
        let list = try await ssh.run(["xl", "list"], timeout: .seconds(30))
        #expect(!list.stdout.contains(name))

        let down = try await lab.down()
        stopped = true
        #expect(down == .stopped(pid: state.pid, killed: false))
        #expect(lab.status() == .stopped(note: nil))
        #expect(!LabProcess.isAlive(state.pid) || LabProcess.ownership(pid: state.pid, paths: lab.paths) != .ours)
    }
}
