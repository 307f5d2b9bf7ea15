import Foundation
import Logging
import Testing
@testable import XentestBackendLibvirt
@testable import XentestBackendXL
@testable import XentestLab
@testable import XentestPlan
@testable import XentestReport
@testable import XentestRun
@testable import XentestSupport
@testable import XentestXLParsing

/// The xl backend driven against real Xen 4.17 in the lab: what the smoke plan checks inside guests, a hung `xl`
/// call, and that a run leaves dom0 as it found it. In the lab suite, so that one lab boots at a time.
extension LabEndToEndTests {
    /// What a run must leave as it found it in dom0.
    struct Dom0Snapshot: Equatable, CustomStringConvertible {
        var domains: [String]
        var assignable: [PCIAddress]
        /// The driver dom0 has bound to the lab's spare NIC (`e1000` when it is dom0's).
        var spareNICDriver: String
        var description: String { "domains \(domains), assignable \(assignable), spare NIC driver \(spareNICDriver)" }
    }

    static func snapshot(_ ssh: some CommandRunner, spareNIC: PCIAddress) async throws -> Dom0Snapshot {
        let list = try await ssh.run(["xl", "list"], timeout: .seconds(60))
        #expect(list.succeeded, "xl list: \(list.stderr)")
        let assignable = try await ssh.run(["xl", "pci-assignable-list"], timeout: .seconds(60))
        #expect(assignable.succeeded, "xl pci-assignable-list: \(assignable.stderr)")
        let driver = try await ssh.run(
            ["readlink", "-f", "/sys/bus/pci/devices/\(spareNIC)/driver"],
            timeout: .seconds(30)
        )
        return Dom0Snapshot(
            domains: try XLParse.list(list.stdout).map(\.name).sorted(),
            assignable: try XLParse.pciAssignableList(assignable.stdout).sorted { $0.description < $1.description },
            spareNICDriver: driver.stdout.trimmed.split(separator: "/").last.map(String.init) ?? ""
        )
    }

    /// Boots a lab of its own in a fresh folder, gives it to `body`, and stops it whatever happens.
    static func withBootedLab(_ body: (Lab, LabState, String) async throws -> Void) async throws {
        let folder = "/tmp/xentest-lab-xl-\(UUID().uuidString.prefix(8))"
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let lab = Lab(paths: LabPaths(root: folder + "/lab"), progress: { print("lab: \($0)") })
        let up = try await lab.up(bootTimeout: .seconds(600))
        print(String(format: "lab up: booted in %.1f s", up.state.bootSeconds ?? 0))
        do { try await body(lab, up.state, folder) } catch {
            kill(up.state.pid, SIGKILL)
            throw error
        }
        _ = try await lab.down()
    }

    /// Boots a lab of its own and gives `body` dom0's shell and the spare NIC, which dom0 drives at the start; when
    /// `body` is done, dom0 must be as it was (no domain left, nothing assignable, the NIC back with e1000).
    static func withBootedLabLeftAsItWas(
        _ body: (Lab, LabState, String, _ ssh: SSHCommandRunner, _ spare: PCIAddress) async throws -> Void
    ) async throws {
        try await withBootedLab { lab, state, folder in
            let ssh = lab.sshRunner(port: state.sshPort)
            let host = try HostConfig.load(path: lab.paths.hostFile)
            let spare = try #require(host.pciDevices["nic"]?.address)
            let before = try await snapshot(ssh, spareNIC: spare)
            #expect(before.spareNICDriver == "e1000", "dom0 drives the spare NIC before the run: \(before)")
            try await body(lab, state, folder, ssh, spare)
            let after = try await snapshot(ssh, spareNIC: spare)
            #expect(after == before, "dom0 after the run: \(after); before: \(before)")
        }
    }

    /// Commands over one shared SSH connection to dom0: one master, a command killed at its limit on the far side
    /// leaves it carrying the next, and `close` ends it and removes its folder.
    static func checkSharedConnection(_ ssh: SSHCommandRunner) async throws {
        let sharing = try #require(ssh.sharing)
        for _ in 0..<3 {
            #expect(try await ssh.run(["xl", "domid", "Domain-0"], timeout: .seconds(60)).stdout == "0\n")
        }
        let sockets = try FileManager.default.contentsOfDirectory(atPath: sharing.directory)
        try #require(sockets.count == 1, "one control socket for dom0: \(sockets)")
        let socket = sharing.directory + "/" + sockets[0]
        let check = ["ssh", "-o", "ControlPath=\(socket)", "-O", "check", "dom0"]
        #expect(try await LocalCommandRunner().run(check, timeout: .seconds(10)).succeeded, "the master runs")
        // Commands run in one shell kept open on it (`ShellSession`): the same parent for each, arguments and input
        // arriving exactly through dom0's sshd and shell.
        // The far side runs `timeout COMMAND`: the shell is the parent of the command's parent.
        let shell = ["sh", "-c", "read -r pid comm state parent rest </proc/$PPID/stat; echo $parent"]
        let parent = try await ssh.run(shell, timeout: .seconds(60)).stdout
        #expect(!parent.isEmpty)
        let tricky = ["/local/domain/{domid}/x y", "it's", "$(reboot)", "a;b", "", "two\nlines"]
        let printed = try await ssh.run(["printf", "<%s>\\n"] + tricky, timeout: .seconds(60))
        #expect(printed.stdout == tricky.map { "<\($0)>" }.joined(separator: "\n") + "\n", "\(printed)")
        for input in ["\r", "it's \"quoted\"\n$(x)\n", "no newline"] {
            let echoed = try await ssh.run(["cat"], timeout: .seconds(60), input: input)
            #expect(echoed.stdout == input && echoed.status == 0, "\(echoed)")
        }
        let streams = try await ssh.run(["sh", "-c", "echo out; echo err >&2; exit 3"], timeout: .seconds(60))
        #expect(streams.status == 3 && streams.stdout == "out\n" && streams.stderr == "err\n", "\(streams)")
        #expect(try await ssh.run(shell, timeout: .seconds(60)).stdout == parent, "one shell for all of them")
        // A hung command ends at the far side's `timeout`; the shell goes on.
        let hung = try await ssh.run(["sleep", "60"], timeout: .seconds(2))
        #expect(hung.timedOut && hung.durationSeconds < 20, "\(hung)")
        let after = try await ssh.run(["cat", "/proc/uptime"], timeout: .seconds(60))
        #expect(after.succeeded, "the connection carries commands after one was killed: \(after.stderr)")
        #expect(try await ssh.run(shell, timeout: .seconds(60)).stdout == parent, "the same shell after it")
        await ssh.close()
        #expect(!FileManager.default.fileExists(atPath: sharing.directory))
        #expect(!(try await LocalCommandRunner().run(check, timeout: .seconds(10)).succeeded), "the master is gone")
        // Closed, the runner still works, a connection a command.
        #expect(try await ssh.run(["true"], timeout: .seconds(60)).succeeded)
    }

    /// xl's wait on xenstored (`awaitXenstoreChange`, the wait of a retried `xenstore-read` or device listing),
    /// through dom0's real xenstored: a write under the watched trees ends it long before its limit; with no change
    /// it lasts to its limit (the watches' own first events do not end it), a watch all the same.
    static func checkXenstoreWatch(_ ssh: SSHCommandRunner) async throws {
        let xl = XLBackend(runner: ssh)
        let probe = "/local/domain/0/xentest-watch-probe"
        let start = Date()
        async let watched = xl.awaitXenstoreChange(XLBackend.deviceTrees, atMost: 60)
        try await Task.sleep(for: .seconds(3))
        let wrote = try await ssh.run(["xenstore-write", probe, "1"], timeout: .seconds(30))
        #expect(wrote.succeeded, "\(wrote)")
        #expect(try await watched, "the watch ran")
        let woken = Date().timeIntervalSince(start)
        #expect(woken < 30, "the write ended the watch, not its 60 s limit: \(woken) s")
        let removed = try await ssh.run(["xenstore-rm", probe], timeout: .seconds(30))
        #expect(removed.succeeded, "\(removed)")
        let quiet = Date()
        #expect(try await xl.awaitXenstoreChange(XLBackend.deviceTrees, atMost: 3), "a watch with no change")
        let waited = Date().timeIntervalSince(quiet)
        #expect(waited > 2.5, "with nothing changing (no guest), the watch lasted to its limit: \(waited) s")
        print(String(format: "xenstore watch: woken after %.1f s (written at 3 s); idle %.1f s", woken, waited))
    }

    /// The one run under `root`.
    static func onlyResult(under root: String) throws -> RunResult {
        let runs = try FileManager.default.contentsOfDirectory(atPath: root)
        try #require(runs.count == 1, "one run folder in \(root): \(runs)")
        return try #require(try Journal.result(path: "\(root)/\(runs[0])/journal.jsonl"))
    }

    @Test(
        "smoke on real Xen: vCPUs hot-added and a NIC passed through, seen in the guest; ping; dom0 left as it was",
        .enabled(if: labTestsEnabled, "set XENTEST_LAB_TESTS=1 and install qemu-system-x86 to boot Xen in QEMU"),
        .timeLimit(.minutes(20))
    ) func smokeOnRealXen() async throws {
        try await Self.withBootedLabLeftAsItWas { lab, state, folder, _, _ in
            try await Self.checkSharedConnection(lab.sshRunner(port: state.sshPort, sharing: SSHConnectionSharing()))
            let watching = lab.sshRunner(port: state.sshPort, sharing: try SSHConnectionSharing())
            try await Self.checkXenstoreWatch(watching)
            await watching.close()
            let status = try await lab.runPlan(RunOptions(plan: "smoke", resultsRoot: folder + "/results"))
            let result = try Self.onlyResult(under: folder + "/results")
            for failed in result.cases where failed.status != .pass {
                Issue.record("\(failed.id): \(failed.status.rawValue): \(failed.reason ?? "")")
            }
            let verdicts = Dictionary(uniqueKeysWithValues: result.cases.map { ($0.id, $0.status) })
            // Each of these passes only if what the guest itself reports matched (its console, through xl).
            #expect(verdicts["cpu-hotplug-pv-add-in-guest"] == .pass)
            #expect(verdicts["pci-hotplug-attach-detach"] == .pass)
            #expect(verdicts["network-vif-ping"] == .pass)
            #expect(result.cases.count == 8)
            #expect(status == .success)
            let inGuest = result.cases.first { $0.id == "cpu-hotplug-pv-add-in-guest" }?.steps ?? []
            let onlineSeen = inGuest.flatMap(\.evidence).map(\.output).filter { $0.contains("0-3") }
            #expect(!onlineSeen.isEmpty, "the guest's own /sys/devices/system/cpu/online said 0-3")
        }
    }

    @Test(
        "a hung xl call is killed in dom0 too, the run goes on; a guest gone by itself is seen; clean removes leftovers",
        .enabled(if: labTestsEnabled, "set XENTEST_LAB_TESTS=1 and install qemu-system-x86 to boot Xen in QEMU"),
        .timeLimit(.minutes(15))
    ) func hungXLCall() async throws {
        try await Self.withBootedLabLeftAsItWas { lab, _, folder, ssh, _ in
            // `xl shutdown -w` of a paused guest waits for a shutdown that cannot happen: a real hung xl call.
            let plan = folder + "/hang.yaml"
            try """
            release: 4.17.0
            title: A hung xl call
            guests:
              pv: {type: pv, memory: 128M}
            cases:
              - id: shutdown-of-paused-guest
                title: xl shutdown -w of a paused guest never returns
                area: lifecycle
                guest: pv
                steps:
                  - create: paused
                  - shutdown:
                    timeout: 8s
              - id: after-the-hang
                title: The next case runs
                area: lifecycle
                guest: pv
                steps:
                  - create:
                  - list:
                    expect: {state: running}
                  - destroy:
              - id: gone-by-itself
                title: A guest that powers itself off is seen gone (xenstored's @releaseDomain)
                area: lifecycle
                guest: pv
                steps:
                  - create:
                  - guest-exec: (sleep 3; poweroff -f) &
                    timeout: 2m
                  - wait-for-state: gone
                  - list:
                    expect: {state: gone}

            """
            .write(toFile: plan, atomically: true, encoding: .utf8)
            let start = Date()
            let status = try await lab.runPlan(RunOptions(plan: plan, resultsRoot: folder + "/results"))
            let seconds = Date().timeIntervalSince(start)
            let result = try Self.onlyResult(under: folder + "/results")
            let hung = try #require(result.cases.first { $0.id == "shutdown-of-paused-guest" })
            #expect(hung.status == .timeout, "\(hung.status): \(hung.reason ?? "")")
            let shutdown = try #require(hung.steps.last)
            #expect(shutdown.label.hasPrefix("shutdown") && shutdown.status == .timeout)
            #expect(
                shutdown.durationSeconds < 20,
                "the step ended at its 8 s limit, not xl's: \(shutdown.durationSeconds)"
            )
            let hungCall = shutdown.evidence.first { $0.call == "xl" && $0.arguments.first == "shutdown" }
            #expect(hungCall != nil, "the timed-out step names the xl call that hung: \(shutdown.evidence)")
            #expect(hung.teardown.allSatisfy { $0.status == .pass }, "the paused guest was destroyed at teardown")
            // Before teardown, libxl's own log of the guest was kept with the case's evidence.
            let logs = hung.teardown.first { $0.label.hasPrefix("logs: ") }?.evidence ?? []
            #expect(
                logs.contains { $0.call == "tail" && $0.arguments.last?.hasPrefix("/var/log/xen/xl-xentest-") == true }
            )
            #expect(result.cases.first { $0.id == "after-the-hang" }?.status == .pass)
            let gone = result.cases.first { $0.id == "gone-by-itself" }
            #expect(gone?.status == .pass, "\(gone?.reason ?? "")")
            #expect(status == .failed)
            print(String(format: "run with a hung xl call: %.1f s", seconds))

            // The hung xl was ended in dom0 itself, not only the local ssh that ran it.
            let processes = try await ssh.run(["ps", "-o", "args"], timeout: .seconds(30))
            let leftover = processes.stdout.split(separator: "\n").filter { $0.contains("xl shutdown") }
            #expect(leftover.isEmpty, "xl processes left in dom0: \(leftover)")

            // What a run killed before its teardown leaves in dom0's folder of guests' files: `xentest clean` finds it
            // by name (busybox's find here) and removes it, and neither the tester's file beside it nor a folder.
            let files = ["xentest-0ld123-case.cfg", "xentest-0ld123-case-disk0.raw", "xentest-0ld123-case-cd1.iso"]
            let touched = try await ssh.run(
                ["touch"] + (files + ["mine.img"]).map { "/var/lib/xentest/" + $0 },
                timeout: .seconds(30)
            )
            let folder = try await ssh.run(["mkdir", "/var/lib/xentest/xentest-dir"], timeout: .seconds(30))
            #expect(touched.succeeded && folder.succeeded, "\(touched) \(folder)")
            let xl = XLBackend(runner: ssh)
            let found = try await xl.leftovers()
            #expect(found == files.sorted().map { "/var/lib/xentest/" + $0 })
            let cleaned = await CleanJob.execute(backend: xl, dryRun: false)
            #expect(cleaned.removed == found && cleaned.failures.isEmpty)
            let kept = try await ssh.run(["ls", "/var/lib/xentest"], timeout: .seconds(30))
            #expect(kept.stdout.split(separator: "\n").sorted() == ["guest", "mine.img", "xentest-dir"])
            _ = try await ssh.run(
                ["rm", "-r", "/var/lib/xentest/mine.img", "/var/lib/xentest/xentest-dir"],
                timeout: .seconds(30)
            )
        }
    }

    @Test(
        "host health: a loop device left behind during a case makes it an error naming it; the next case passes",
        .enabled(if: labTestsEnabled, "set XENTEST_LAB_TESTS=1 and install qemu-system-x86 to boot Xen in QEMU"),
        .timeLimit(.minutes(15))
    ) func leakIsAnError() async throws {
        try await Self.withBootedLab { lab, state, folder in
            let ssh = lab.sshRunner(port: state.sshPort)
            let plan = folder + "/leak.yaml"
            try """
            release: 4.17.0
            title: A leak
            guests:
              pv: {type: pv, memory: 128M}
            cases:
              - id: leaks
                title: Something is left behind while the guest runs
                area: lifecycle
                guest: pv
                steps:
                  - create:
                  - guest-exec: sleep 20
                  - destroy:
              - id: after-the-leak
                title: The next case is not blamed for it
                area: lifecycle
                guest: pv
                steps:
                  - create:
                  - destroy:

            """
            .write(toFile: plan, atomically: true, encoding: .utf8)
            let image = "/tmp/xentest-leak.img"
            let run = Task { try await lab.runPlan(RunOptions(plan: plan, resultsRoot: folder + "/results")) }
            // Once the first case's guest exists, a loop device appears on the host, as a case's disk could leave it.
            var leaked = false
            for _ in 0..<120 where !leaked {
                let list = try await ssh.run(["xl", "list"], timeout: .seconds(30))
                if list.stdout.contains("-leaks ") {
                    let made = try await ssh.run(
                        [
                            "sh", "-c",
                            "dd if=/dev/zero of=\(image) bs=1024 count=1024 2>/dev/null && losetup -f \(image)",
                        ],
                        timeout: .seconds(30)
                    )
                    #expect(made.succeeded, "\(made.stderr)")
                    leaked = true
                } else {
                    try await Task.sleep(for: .seconds(1))
                }
            }
            #expect(leaked, "the first case's guest appeared")
            let status = try await run.value
            let result = try Self.onlyResult(under: folder + "/results")
            let leaking = try #require(result.cases.first { $0.id == "leaks" })
            #expect(leaking.status == .error)
            #expect(
                leaking.reason?.contains("teardown left behind loop-devices: loop") == true,
                "\(leaking.reason ?? "")"
            )
            #expect(leaking.reason?.contains(image) == true)
            let health = leaking.teardown.first { $0.label == "host health" }
            #expect(health?.status == .error)
            #expect(health?.evidence.count == 2, "the readings before and after")
            let after = result.cases.first { $0.id == "after-the-leak" }
            #expect(after?.status == .pass, "\(after?.reason ?? "no such case")")
            #expect(status == .failed)
            _ = try await ssh.run(
                [
                    "sh", "-c",
                    "for d in /sys/block/loop*; do [ \"$(cat $d/loop/backing_file 2>/dev/null)\" = \(image) ] "
                        + "&& losetup -d /dev/${d##*/}; done; rm -f \(image)",
                ],
                timeout: .seconds(30)
            )
        }
    }
}
