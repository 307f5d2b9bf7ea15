import Foundation
import Synchronization
import Testing
@testable import XentestBackendLibvirt
@testable import XentestBackendXL
@testable import XentestLab
@testable import XentestPlan
@testable import XentestReport
@testable import XentestRun
@testable import XentestSupport
@testable import XentestXLParsing

@Suite("Running external commands") struct CommandRunnerTests {
    let runner = LocalCommandRunner()

    @Test("argv values, exit status, both streams and stdin come back as evidence") func basics() async throws {
        let result = try await runner.run(
            ["sh", "-c", "cat; echo out; echo err >&2; exit 3"],
            timeout: .seconds(10),
            input: "from stdin\n"
        )
        #expect(result.status == 3)
        #expect(result.stdout == "from stdin\nout\n")
        #expect(result.stderr == "err\n")
        #expect(!result.timedOut && !result.succeeded)
        #expect(result.evidence.kind == "command" && result.evidence.call == "sh")
        #expect(result.evidence.arguments.first == "-c")
    }

    @Test("arguments are never split or interpreted: spaces, quotes, $ and ; stay one argument") func noShell()
        async throws
    {
        let tricky = ["a b", "it's", "$(echo no)", "x;rm -rf /nonexistent", "*"]
        let result = try await runner.run(["printf", "%s\\n"] + tricky, timeout: .seconds(10))
        #expect(result.stdout == tricky.joined(separator: "\n") + "\n")
    }

    @Test(
        "a command that leaves a daemon behind ends when it exits (xl create leaves one), and passes on no descriptor"
    ) func leavesADaemon() async throws {
        // Like xl's domain-monitoring child: it outlives the command, with its own output sent elsewhere.
        let result = try await runner.run(
            ["sh", "-c", "sleep 60 </dev/null >/dev/null 2>&1 & echo $!; ls /proc/$$/fd"],
            timeout: .seconds(30)
        )
        let lines = result.stdout.split(separator: "\n").map(String.init)
        if let daemon = lines.first.flatMap({ pid_t($0) }) { kill(daemon, SIGKILL) }
        #expect(result.succeeded, "\(result)")
        #expect(!result.timedOut, "the command's exit was seen although its daemon still ran")
        // The shell has standard input, output and error, and whatever it opened itself: nothing of xentest's.
        let descriptors = Set(lines.dropFirst().compactMap { Int($0) })
        #expect(descriptors.isSuperset(of: [0, 1, 2]), "\(lines)")
        #expect(
            descriptors.subtracting([0, 1, 2]).allSatisfy { $0 >= 10 },
            "only the shell's own (10 and up): \(lines)"
        )
    }

    @Test("a command past its time limit is killed, and says so") func timeout() async throws {
        let result = try await runner.run(["sleep", "30"], timeout: PlanDuration(milliseconds: 300))
        #expect(result.timedOut)
        #expect(!result.succeeded)
        #expect(result.status == 128 + SIGTERM)
        #expect(result.evidence.error.contains("killed at its time limit"))
    }

    @Test("commands start with no signal blocked or ignored, so SIGTERM at the time limit reaches them")
    func cleanSignals() async throws {
        let status = try await runner.run(["grep", "-E", "^Sig(Blk|Ign)", "/proc/self/status"], timeout: .seconds(10))
        let masks = Dictionary(
            uniqueKeysWithValues: status.stdout.split(separator: "\n")
                .compactMap { line -> (String, UInt64)? in
                    let parts = line.split(separator: "\t")
                    return parts.count == 2 ? (String(parts[0]), UInt64(parts[1], radix: 16) ?? .max) : nil
                }
        )
        #expect(masks["SigBlk:"] == 0, "nothing blocked")
        // Signals 32 and 33 are glibc's own and stay ignored; those a harness sends or a shell needs must not be.
        let wanted: UInt64 = [SIGHUP, SIGINT, SIGPIPE, SIGTERM].reduce(0) { $0 | (1 << UInt64($1 - 1)) }
        #expect((masks["SigIgn:"] ?? .max) & wanted == 0, "HUP, INT, PIPE and TERM are not ignored")
        let result = try await runner.run(["sleep", "30"], timeout: PlanDuration(milliseconds: 200))
        #expect(result.status == 128 + SIGTERM, "SIGTERM ended it, not the SIGKILL 2 s later")
    }

    @Test("a command that ignores SIGTERM is killed with SIGKILL") func stubborn() async throws {
        let result = try await runner.run(
            ["sh", "-c", "trap '' TERM; sleep 30"],
            timeout: PlanDuration(milliseconds: 300)
        )
        #expect(result.timedOut)
        #expect(result.status == 128 + SIGKILL)
    }

    @Test("cancelling the task stops the command") func cancellation() async throws {
        let task = Task { try await runner.run(["sleep", "30"], timeout: .seconds(60)) }
        try await Task.sleep(for: .milliseconds(200))
        task.cancel()
        let result = try await task.value
        #expect(result.status == 128 + SIGTERM, "stopped, not run to its end")
        #expect(!result.succeeded)
    }

    @Test("a missing program is an error that names it") func missingProgram() async throws {
        await #expect { try await runner.run(["xentest-no-such-program"], timeout: .seconds(5)) } throws: { error in
            "\(error)".contains("xentest-no-such-program is not installed or not on PATH")
        }
    }

    @Test("output past the limit is dropped and counted, never buffered without bound") func outputLimit() async throws
    {
        var small = LocalCommandRunner()
        small.outputLimit = 1000
        let result = try await small.run(["sh", "-c", "head -c 100000 /dev/zero | tr '\\0' x"], timeout: .seconds(10))
        #expect(result.stdout.hasPrefix(String(repeating: "x", count: 1000)))
        #expect(result.stdout.contains("[99000 more bytes dropped]"))
    }

    @Test("over SSH, each argument reaches the far side's shell as one argument") func sshQuoting() async throws {
        let ssh = SSHCommandRunner(
            user: "root",
            host: "127.0.0.1",
            port: 2222,
            identityFile: "/k",
            knownHostsFile: "/kh"
        )
        let tricky = ["xenstore-read", "/local/domain/{domid}/x y", "it's", "$(reboot)", "a;b", ""]
        let argv = ssh.sshArgv(for: tricky)
        #expect(Array(argv.prefix(2)) == ["ssh", "-o"])
        #expect(argv.contains("UserKnownHostsFile=/kh") && argv.contains("StrictHostKeyChecking=yes"))
        #expect(argv[argv.count - 3..<argv.count - 1] == ["root@127.0.0.1", "--"])
        // What sshd does with the command line: hand it to the user's shell. Run it through a real one.
        let remote = try #require(argv.last)
        let result = try await LocalCommandRunner()
            .run(
                ["sh", "-c", "printf '<%s>\\n' " + remote.split(separator: " ", maxSplits: 1).last.map(String.init)!],
                timeout: .seconds(10)
            )
        #expect(result.stdout == tricky.dropFirst().map { "<\($0)>" }.joined(separator: "\n") + "\n")
    }

    @Test("over SSH, the far side's own `timeout` ends the command at its limit (rounded up to whole seconds)")
    func sshRemoteTimeout() async throws {
        #expect(
            SSHCommandRunner.remoteArgv(for: ["xl", "list"], timeout: PlanDuration(milliseconds: 1500)) == [
                "timeout", "-k", "2", "2", "xl", "list",
            ]
        )
        #expect(
            SSHCommandRunner.remoteArgv(for: ["xl"], timeout: PlanDuration(milliseconds: 1)).prefix(4) == [
                "timeout", "-k", "2", "1",
            ]
        )
        // What the far side runs, run here with the same coreutils: a hung command ends at the limit, status 124.
        let hung = SSHCommandRunner.remoteArgv(for: ["sleep", "60"], timeout: .seconds(1))
        let result = try await LocalCommandRunner().run(hung, timeout: .seconds(30))
        #expect(result.status == 124)
        #expect(!result.timedOut && result.durationSeconds < 20)
    }

    @Test("a command started under a deadline takes no longer than the deadline, whatever its own limit")
    func taskDeadlineShortensCommands() async throws {
        let result = try await TaskDeadline.$current.withValue(Date().addingTimeInterval(1)) {
            try await LocalCommandRunner().run(["sleep", "60"], timeout: .seconds(120))
        }
        #expect(result.timedOut)
        #expect(result.durationSeconds < 20)
        let now = Date()
        let limited = TaskDeadline.$current.withValue(now.addingTimeInterval(5)) {
            TaskDeadline.limit(.seconds(120), now: now)
        }
        #expect(limited == .seconds(5))
        #expect(TaskDeadline.limit(.seconds(120)) == .seconds(120))
    }

    @Test("a step's deadline reaches the commands it runs; a longer inner deadline does not extend it")
    func withDeadlineSetsTaskDeadline() async throws {
        let start = Date()
        let (outer, inner) = try await withDeadline(.seconds(120)) {
            let outer = TaskDeadline.current
            let inner = try await withDeadline(.seconds(600)) { TaskDeadline.current }
            return (outer, inner)
        }
        let outerDeadline = try #require(outer)
        #expect(outerDeadline.timeIntervalSince(start) <= 121 && outerDeadline.timeIntervalSince(start) >= 100)
        #expect(inner == outer)
    }

    @Test("a cancelled wait ends after the work it cancels, so a teardown never races it; at most a grace later")
    func cancelledDeadlineWaitsForWork() async throws {
        // Work that ignores cancellation for a while, as a blocking libvirt call does (on a Dispatch thread).
        let finished = Flag()
        let waited = Task {
            try await withDeadline(.seconds(120)) { await Self.ignoringCancellation(seconds: 1) { finished.set() } }
        }
        try await Task.sleep(for: .milliseconds(200))
        waited.cancel()
        await #expect(throws: CancellationError.self) { try await waited.value }
        #expect(finished.isSet, "the wait ended after the work")

        let hung = Flag()
        let start = Date()
        let abandoned = Task {
            try await withDeadline(.seconds(120), cancelGrace: PlanDuration(milliseconds: 300)) {
                await Self.ignoringCancellation(seconds: 30) { hung.set() }
            }
        }
        try await Task.sleep(for: .milliseconds(200))
        abandoned.cancel()
        await #expect(throws: CancellationError.self) { try await abandoned.value }
        #expect(!hung.isSet && Date().timeIntervalSince(start) < 25, "a hung one only a grace")

        // Cancelled before it began: the work never starts.
        let started = Flag()
        let cancelledFirst = Task {
            withUnsafeCurrentTask { $0?.cancel() }
            return try await withDeadline(.seconds(120)) { started.set() }
        }
        await #expect(throws: CancellationError.self) { try await cancelledFirst.value }
        try await Task.sleep(for: .milliseconds(300))
        #expect(!started.isSet, "no work started for a wait cancelled before it began")
    }

    /// Waits `seconds` on a Dispatch thread, whatever cancels the task, then runs `then`.
    static func ignoringCancellation(seconds: Int, then: @escaping @Sendable () -> Void) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            DispatchQueue.global()
                .asyncAfter(deadline: .now() + .seconds(seconds)) {
                    then()
                    continuation.resume()
                }
        }
    }

    @Test("a step that does not finish keeps the commands it ran and the one still running")
    func stepActivityKeepsEvidence() async throws {
        let activity = StepActivity()
        let work = Task {
            try await StepActivity.$current.withValue(activity) {
                _ = try await LocalCommandRunner().run(["true"], timeout: .seconds(30))
                _ = try await LocalCommandRunner().run(["sleep", "60"], timeout: .seconds(120))
            }
        }
        // What the runner sees when the step's time is up while `sleep` runs.
        var seen: [Evidence] = []
        for _ in 0..<600 where seen.last?.call != "sleep" {
            try await Task.sleep(for: .milliseconds(50))
            seen = activity.evidenceSoFar()
        }
        work.cancel()
        #expect(seen.map(\.call) == ["true", "sleep"])
        #expect(seen.first?.status == 0)
        let hung = try #require(seen.last)
        #expect(hung.arguments == ["60"] && hung.status == -1)
        #expect(hung.error.contains("still running after"), "\(hung)")
        // Killed, it is still one entry: its outcome, if it has one, takes the place of the running one.
        _ = try? await work.value
        #expect(activity.evidenceSoFar().map(\.call) == ["true", "sleep"])
    }

    @Test("ssh:// URLs name user, host and port") func sshURL() throws {
        let parsed = try #require(SSHCommandRunner(url: "ssh://admin@xen1.example:2200"))
        #expect(parsed.user == "admin" && parsed.host == "xen1.example" && parsed.port == 2200)
        #expect(parsed.sshArgv(for: ["true"]).contains("admin@xen1.example"))
        // What the URL leaves out, ssh takes from the tester's ~/.ssh/config: an alias names user, port and key.
        let alias = try #require(SSHCommandRunner(url: "ssh://xen1"))
        #expect(alias.user == nil && alias.port == nil)
        let argv = alias.sshArgv(for: ["xl", "info"])
        #expect(!argv.contains("-p") && argv.suffix(3) == ["xen1", "--", "xl info"], "\(argv)")
        #expect(alias.description == "ssh xen1")
        #expect(try #require(SSHCommandRunner(url: "ssh://xen1:2200")).sshArgv(for: ["true"]).contains("2200"))
        #expect(SSHCommandRunner(url: "http://x") == nil)
        #expect(SSHCommandRunner(url: "ssh://host:99999") == nil)
        #expect(SSHCommandRunner(url: "ssh://host:") == nil)
        // Nothing of the URL may reach ssh as an option of its own.
        #expect(SSHCommandRunner(url: "ssh://-oProxyCommand=x") == nil)
        #expect(SSHCommandRunner(url: "ssh://-l@host") == nil)
    }

    @Test("a shared SSH connection: ControlMaster options on every command, a private folder that close removes")
    func sshConnectionSharing() async throws {
        let sharing = try SSHConnectionSharing(idleSeconds: 30)
        let attributes = try FileManager.default.attributesOfItem(atPath: sharing.directory)
        #expect((attributes[.posixPermissions] as? Int) == 0o700, "only the run's user reaches its control sockets")
        #expect((sharing.directory + "/%C").utf8.count + 40 < 108, "a control socket's path fits a sun_path")
        let ssh = SSHCommandRunner(user: "root", host: "xen1", port: 22, sharing: sharing)
        let argv = ssh.sshArgv(for: ["xl", "list"])
        for option in ["ControlMaster=auto", "ControlPath=\(sharing.directory)/%C", "ControlPersist=30"] {
            #expect(argv.contains(option), "\(argv)")
        }
        #expect(argv.suffix(3) == ["root@xen1", "--", "xl list"])
        #expect(!SSHCommandRunner(user: "root", host: "xen1").sshArgv(for: ["true"]).contains("ControlMaster=auto"))
        await ssh.close()
        #expect(!FileManager.default.fileExists(atPath: sharing.directory))
        #expect(!ssh.sshArgv(for: ["true"]).contains("ControlMaster=auto"), "closed: a connection a command again")
        await ssh.close()  // twice is harmless
    }
}

/// A flag set from other tasks.
private final class Flag: Sendable {
    private let value = Atomic<Bool>(false)
    func set() { value.store(true, ordering: .relaxed) }
    var isSet: Bool { value.load(ordering: .relaxed) }
}
