import Foundation
import Libvirt
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

/// A guest on its own isolated network (`nics: 1`), and a second case that shows whether the run went on.
private let underFirePlan = """
    release: test
    title: cleanup under fire
    guests:
      g: {type: pv, memory: 256M, maxvcpus: 2, nics: 1}
    cases:
      - id: under-fire
        title: a running guest on its own network, hit mid-step
        area: lifecycle
        guest: g
        steps:
          - create:
          - guest-exec: echo up
          - STEP
      - id: after
        title: the run goes on
        area: lifecycle
        guest: g
        steps:
          - create:
          - guest-exec: echo up
          - destroy:
    """

/// The plan with the step that is under way when the harness is hit.
private func planText(step: String) -> String { underFirePlan.replacingOccurrences(of: "- STEP", with: step) }

// Nested in QemuSystemTests so that its `.serialized` keeps these apart from the rc6 run and the boot test: they
// share the daemon (restarted here) and the isolated subnet of the test guest's network.
extension QemuSystemTests {
    @Suite(
        "cleanup under fire on libvirtd + QEMU: SIGINT and SIGTERM, a hung libvirt call, libvirtd restarted mid-run",
        .tags(.qemu),
        .serialized,
        .enabled(if: libvirtdTestsEnabled, "set XENTEST_LIBVIRTD_TESTS=1 after `scripts/libvirtd start`")
    ) struct QemuUnderFireTests {
        @Test(
            "a signal to the xentest binary mid-step: exit 130, a valid partial report, the guest and its network removed",
            .timeLimit(.minutes(3)),
            arguments: [SIGINT, SIGTERM]
        ) func signalled(_ signalNumber: Int32) async throws {
            let backend = try qemuSystem()
            let guest = try await QemuTestGuest()
            let before = try xentestObjects(backend.connection)
            let plan = try guest.folder.write(
                planText(step: "- guest-exec: sleep 100\n        timeout: 2m"),
                to: "fire.yaml"
            )
            let hostFile = try guest.folder.write(guest.hostYAML, to: "host.yaml")
            let results = guest.folder.path + "/results"

            // The signal comes once the journal shows the guest answered: the next step (sleep 100 in the guest) runs.
            let start = Date()
            let outcome = try await XentestBinary.run(
                ["run", plan, "--connect", "qemu:///system", "--host-config", hostFile, "--results", results],
                signal: signalNumber,
                when: { journal(in: results)?.contains("\"label\":\"guest-exec echo up\"") == true }
            )
            print(
                String(
                    format: "signal %d: the run ended %.1f s after it started, %.1f s after the signal",
                    signalNumber,
                    Date().timeIntervalSince(start),
                    outcome.secondsAfterSignal ?? -1
                )
            )
            try #require(outcome.signalled, "the journal never showed the guest answering: \(outcome)")
            #expect(outcome.status == 130, "\(outcome)")
            let name = signalNumber == SIGINT ? "Ctrl-C" : "SIGTERM"
            #expect(outcome.stderr.contains("\(name): stopping after teardown"), "\(outcome.stderr)")

            let directory = try #require(try runDirectories(results).first)
            let report = try JSONReporter.decode(String(contentsOfFile: directory + "/report.json", encoding: .utf8))
            #expect(report.interrupted)
            #expect(report.exitStatus == .interrupted)
            let hit = try #require(report.cases.first { $0.id == "under-fire" })
            #expect(hit.status == .interrupted, "\(hit.reason ?? "")")
            #expect(hit.steps.map(\.label) == ["create", "guest-exec echo up", "guest-exec sleep 100"])
            #expect(hit.steps.last?.status == .interrupted)
            #expect(report.cases.first { $0.id == "after" }?.status == .interrupted, "never started")

            // Teardown evidence: the guest destroyed and undefined, its network destroyed, each by name.
            let domain = "xentest-\(report.runID)-under-fire"
            #expect(hit.teardown.map(\.status) == [.pass], "\(hit.teardown)")
            let undone = hit.teardown.flatMap(\.evidence)
            #expect(undone.contains { $0.call == "virDomainDestroy" && $0.arguments == [domain] && $0.status == 0 })
            #expect(
                undone.contains { $0.call == "virDomainUndefineFlags" && $0.arguments == [domain] && $0.status == 0 }
            )
            #expect(
                undone.contains {
                    $0.call == "virNetworkDestroy" && $0.arguments == [domain + "-net"] && $0.status == 0
                }
            )
            // The journal it was rebuilt from says the same.
            let rebuilt = try #require(try Journal.result(path: directory + "/journal.jsonl"))
            #expect(rebuilt.cases.first { $0.id == "under-fire" }?.status == .interrupted)

            try expectNothingLeft(backend.connection, run: report.runID, before: before)
        }

        @Test(
            "a libvirt call that hangs (QEMU stopped under virDomainSuspend): timeout naming the call, all removed, the run goes on",
            .timeLimit(.minutes(3))
        ) func hungCall() async throws {
            let backend = try qemuSystem()
            let guest = try await QemuTestGuest()
            let before = try xentestObjects(backend.connection)
            let plan = try inlinePlan(planText(step: "- pause:\n        timeout: 5s"), name: "hung")
            let runID = Mutex<String?>(nil)
            let stopped = Mutex<pid_t?>(nil)
            let start = Date()
            // QEMU is stopped once the guest has answered, before the pause: the runner waits for this observer.
            let run = try await TestDriverRun.run(
                plan,
                backend: backend,
                host: guest.host,
                observe: { event in
                    switch event {
                    case .runStarted(let header): runID.withLock { $0 = header.runID }
                    case .stepEnded("under-fire", let step, false)
                    where step.label == "guest-exec echo up" && step.status == .pass:
                        guard let id = runID.withLock({ $0 }), let pid = qemuPID(of: "xentest-\(id)-under-fire") else {
                            return
                        }
                        if kill(pid, SIGSTOP) == 0 { stopped.withLock { $0 = pid } }
                    default: break
                    }
                }
            )
            // Whatever happened, no QEMU is left stopped (teardown should have killed it: then there is no such process).
            if let pid = stopped.withLock({ $0 }) { kill(pid, SIGCONT) }
            print(String(format: "hung call: the run took %.1f s", Date().timeIntervalSince(start)))
            try #require(stopped.withLock { $0 } != nil, "QEMU was never stopped: \(run.reason("under-fire"))")

            #expect(run.status("under-fire") == .timeout, "\(run.reason("under-fire"))")
            #expect(run.reason("under-fire").contains("step 3 (pause): pause did not finish within 5s"))
            let hit = try #require(run.result.cases.first { $0.id == "under-fire" })
            let pause = try #require(hit.steps.last)
            // The evidence names the call that hung, and that it was still running when the step ended.
            #expect(pause.evidence.contains { $0.call == "virDomainLookupByName" && $0.status == 0 })
            let hung = try #require(pause.evidence.first { $0.call == "virDomainSuspend" }, "\(pause.evidence)")
            #expect(hung.kind == "api")
            #expect(hung.status == -1)
            #expect(hung.error.contains("still running after"), "\(hung.error)")
            #expect(hung.durationSeconds >= 4.9)

            // QEMU's log of the guest was kept, then teardown destroyed the guest whose QEMU still did not answer, and
            // its network.
            let domain = run.domainNames[0]
            expectLogsKeptThenRemoved(hit, domain: domain)
            let undone = hit.teardown.flatMap(\.evidence)
            #expect(undone.contains { $0.call == "virDomainDestroy" && $0.arguments == [domain] && $0.status == 0 })
            #expect(
                undone.contains {
                    $0.call == "virNetworkDestroy" && $0.arguments == [domain + "-net"] && $0.status == 0
                }
            )
            if let pid = stopped.withLock({ $0 }) { #expect(kill(pid, 0) != 0, "QEMU (PID \(pid)) is gone") }

            #expect(run.status("after") == .pass, "\(run.reason("after"))")
            try expectNothingLeft(backend.connection, run: run.result.runID, before: before)
        }

        @Test(
            "libvirtd restarted while a step waits on events: the case errors, teardown reconnects and removes all, the run goes on",
            .timeLimit(.minutes(3))
        ) func daemonRestarted() async throws {
            let backend = try qemuSystem()
            let guest = try await QemuTestGuest()
            let daemon = try LibvirtDaemon()
            let before = try xentestObjects(backend.connection)
            let oldPID = try daemon.pid()
            let plan = try inlinePlan(planText(step: "- wait-for-state: paused\n        timeout: 90s"), name: "restart")
            let restart = Mutex<Task<Double, any Error>?>(nil)
            let start = Date()
            // Once the guest runs, libvirtd is stopped and started again while the next step waits on lifecycle events.
            let run = try await TestDriverRun.run(
                plan,
                backend: backend,
                host: guest.host,
                observe: { event in
                    guard case .stepEnded("under-fire", let step, false) = event, step.label == "guest-exec echo up"
                    else { return }
                    restart.withLock { $0 = Task { try await LibvirtBackend.offPool { try daemon.restart() } } }
                }
            )
            let restartTask = try #require(
                restart.withLock { $0 },
                "libvirtd was never restarted: \(run.reason("under-fire"))"
            )
            let restartSeconds = try await restartTask.value
            print(
                String(
                    format: "libvirtd restarted in %.1f s; the run took %.1f s",
                    restartSeconds,
                    Date().timeIntervalSince(start)
                )
            )
            #expect(try daemon.pid() != oldPID, "a new libvirtd")

            #expect(run.status("under-fire") == .error, "\(run.reason("under-fire"))")
            #expect(
                run.reason("under-fire").contains("lost the connection to libvirt at qemu:///system"),
                "\(run.reason("under-fire"))"
            )
            let hit = try #require(run.result.cases.first { $0.id == "under-fire" })
            let waited = try #require(hit.steps.last)
            #expect(waited.label == "wait-for-state paused")
            #expect(waited.status == .error)
            #expect(waited.durationSeconds < 60, "ended by the lost connection, not by its 90 s limit")
            // The restart may come as the wait registers for events, or while it waits: either is in the evidence.
            #expect(waited.evidence.contains { $0.call == "virConnectDomainEventRegisterAny" }, "\(waited.evidence)")

            // Teardown opened a new connection (after failed attempts while the daemon was down) and removed both.
            let domain = run.domainNames[0]
            expectLogsKeptThenRemoved(hit, domain: domain)
            let undone = hit.teardown.flatMap(\.evidence)
            #expect(undone.last { $0.call == "virConnectOpen" }?.status == 0, "\(undone)")
            // The guest is destroyed here, unless the new libvirtd already stopped it (it does when it cannot reconnect to
            // the guest's cgroups, as in CI's container): either way its definition and its network go.
            #expect(
                undone.contains { $0.call == "virDomainUndefineFlags" && $0.arguments == [domain] && $0.status == 0 }
            )
            #expect(
                undone.contains {
                    $0.call == "virNetworkDestroy" && $0.arguments == [domain + "-net"] && $0.status == 0
                }
            )

            // The next case ran on the new connection, console included.
            #expect(run.status("after") == .pass, "\(run.reason("after"))")
            #expect(backend.connection.isAlive)
            try expectNothingLeft(backend.connection, run: run.result.runID, before: before)
        }
    }
}

// MARK: Helpers

/// Domains and networks named `xentest-*`.
private func xentestObjects(_ connection: LibvirtConnection) throws -> Set<String> {
    let names = try connection.domains().map(\.name) + connection.networks().map(\.name)
    return Set(names.filter { $0.hasPrefix("xentest-") })
}

/// A case that did not pass kept QEMU's log of its guest (its command line names the guest), then teardown removed
/// the guest and its network, both steps passing.
private func expectLogsKeptThenRemoved(
    _ hit: CaseResult,
    domain: String,
    sourceLocation: Testing.SourceLocation = #_sourceLocation
) {
    #expect(
        hit.teardown.map(\.label) == ["logs: \(domain)", "teardown: domain \(domain)"],
        sourceLocation: sourceLocation
    )
    #expect(hit.teardown.map(\.status) == [.pass, .pass], "\(hit.teardown)", sourceLocation: sourceLocation)
    let log = hit.teardown.first?.evidence.first { $0.arguments.last == "/var/log/libvirt/qemu/\(domain).log" }
    #expect(log?.status == 0, "\(hit.teardown.first?.evidence ?? [])", sourceLocation: sourceLocation)
    #expect(log?.output.contains("-name guest=\(domain)") == true, sourceLocation: sourceLocation)
}

/// No domain or network of run `runID` is left, and no `xentest-*` one that was not there `before`.
private func expectNothingLeft(
    _ connection: LibvirtConnection,
    run runID: String,
    before: Set<String>,
    sourceLocation: Testing.SourceLocation = #_sourceLocation
) throws {
    let after = try xentestObjects(connection)
    #expect(after.filter { $0.contains(runID) }.isEmpty, "left in libvirt: \(after)", sourceLocation: sourceLocation)
    #expect(
        after.subtracting(before).isEmpty,
        "left behind: \(after.subtracting(before))",
        sourceLocation: sourceLocation
    )
}

/// The run directories under `results`.
private func runDirectories(_ results: String) throws -> [String] {
    try FileManager.default.contentsOfDirectory(atPath: results).sorted().map { results + "/" + $0 }
}

/// The journal of the one run under `results`, once there is one.
private func journal(in results: String) -> String? {
    guard let directory = try? runDirectories(results).first else { return nil }
    return try? String(contentsOfFile: directory + "/journal.jsonl", encoding: .utf8)
}

/// The PID of a running domain's QEMU, from the file libvirt keeps for it.
private func qemuPID(of domain: String) -> pid_t? {
    guard let text = try? String(contentsOfFile: "/run/libvirt/qemu/\(domain).pid", encoding: .utf8) else { return nil }
    return pid_t(text.trimmingCharacters(in: .whitespacesAndNewlines))
}

extension QemuTestGuest {
    /// The host file as `xentest run --host-config` reads it.
    var hostYAML: String {
        """
        guest-kernel: \(build.kernel)
        guest-ramdisk: \(build.ramdisk)
        guest-cmdline: \(host.guestCommandLine ?? "")
        host-address: \(Self.hostAddress)
        guest-address: \(Self.guestAddress)
        pci-devices:
          nic: 0000:ff:1f.7

        """
    }
}

/// The libvirtd that `scripts/libvirtd start` runs, by the PID it recorded.
private struct LibvirtDaemon: Sendable {
    let state = ProcessInfo.processInfo.environment["XENTEST_LIBVIRTD_STATE"] ?? "/run/xentest-libvirtd"

    init() throws {
        guard FileManager.default.fileExists(atPath: state + "/libvirtd.pid") else {
            Issue.record(
                "no \(state)/libvirtd.pid: this test restarts the libvirtd that `scripts/libvirtd start` started"
            )
            throw CocoaError(.fileNoSuchFile)
        }
    }

    func pid() throws -> pid_t {
        let text = try String(contentsOfFile: state + "/libvirtd.pid", encoding: .utf8)
        guard let pid = pid_t(text.trimmingCharacters(in: .whitespacesAndNewlines)) else {
            throw CocoaError(.fileReadCorruptFile)
        }
        return pid
    }

    /// SIGTERM to libvirtd, waits until it has exited, starts it again as `scripts/libvirtd` does, and waits until
    /// qemu:///system answers; returns the seconds it took. Blocks (run it off the cooperative pool).
    ///
    /// Spawned and reaped by hand: a Foundation `Process` in this test process was never seen to end here.
    func restart() throws -> Double {
        let start = Date()
        func waited() -> Double { Date().timeIntervalSince(start) }
        let old = try pid()
        guard kill(old, SIGTERM) == 0 else { throw POSIXError(.ESRCH) }
        while kill(old, 0) == 0 {
            guard waited() < 60 else { throw POSIXError(.ETIMEDOUT) }
            usleep(50_000)
        }
        let argv = ["/usr/sbin/libvirtd", "-d", "--pid-file", state + "/libvirtd.pid"]
        // No signal blocked or ignored in the daemon (this thread's mask would be inherited): SIGTERM must stop it.
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var none = sigset_t()
        sigemptyset(&none)
        var all = sigset_t()
        sigfillset(&all)
        posix_spawnattr_setsigmask(&attributes, &none)
        posix_spawnattr_setsigdefault(&attributes, &all)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        var child: pid_t = 0
        let cArgs = argv.map { strdup($0) } + [nil]
        defer { for argument in cArgs { free(argument) } }
        let spawned = posix_spawn(&child, argv[0], nil, &attributes, cArgs, environ)
        guard spawned == 0 else { throw POSIXError(POSIXErrorCode(rawValue: spawned) ?? .EIO) }
        var status: Int32 = 0
        _ = waitpid(child, &status, 0)  // -d: the first process exits once the daemon runs
        while (try? LibvirtConnection(uri: "qemu:///system")) == nil {
            guard waited() < 120 else { throw POSIXError(.ETIMEDOUT) }
            usleep(200_000)
        }
        return waited()
    }
}

/// The `xentest` executable SwiftPM built next to the test bundle, run with a signal sent when a condition holds.
enum XentestBinary {
    struct Outcome: CustomStringConvertible {
        var status: Int32
        var stderr: String
        /// Whether the condition held and the signal was sent.
        var signalled: Bool
        var secondsAfterSignal: Double?
        var description: String { "exit \(status), signalled: \(signalled)\n--- stderr\n\(stderr)" }
    }

    static var executable: URL? {
        var candidates = Bundle.allBundles.filter { $0.bundlePath.hasSuffix(".xctest") }
            .map { $0.bundleURL.deletingLastPathComponent() }
        if let main = Bundle.main.executableURL { candidates.append(main.deletingLastPathComponent()) }
        return candidates.map { $0.appendingPathComponent("xentest") }
            .first { FileManager.default.isExecutableFile(atPath: $0.path) }
    }

    /// Runs `xentest arguments`; polls `condition` every 100 ms and sends `signal` once it holds. A run still going
    /// 150 s after it started is killed (and fails the caller's expectations).
    static func run(_ arguments: [String], signal: Int32, when condition: @escaping @Sendable () -> Bool) async throws
        -> Outcome
    {
        let binary = try #require(executable, "no xentest executable next to the test bundle; build it first")
        let scratch = try ScratchDirectory()
        let stderrPath = try scratch.write("", to: "stderr")
        let process = Process()
        process.executableURL = binary
        process.arguments = arguments
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = FileHandle.nullDevice
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: stderrPath))
        let signalledAt = Mutex<Date?>(nil)
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            process.terminationHandler = { _ in continuation.resume() }
            do { try process.run() } catch {
                process.terminationHandler = nil
                continuation.resume(throwing: error)
                return
            }
            let pid = process.processIdentifier
            DispatchQueue.global()
                .async {
                    let start = Date()
                    while Date().timeIntervalSince(start) < 150, kill(pid, 0) == 0 {
                        if signalledAt.withLock({ $0 }) == nil, condition() {
                            signalledAt.withLock { $0 = Date() }
                            kill(pid, signal)
                        }
                        usleep(100_000)
                    }
                    if kill(pid, 0) == 0 { kill(pid, SIGKILL) }
                }
        }
        let sent = signalledAt.withLock { $0 }
        return Outcome(
            status: process.terminationStatus,
            stderr: try String(contentsOfFile: stderrPath, encoding: .utf8),
            signalled: sent != nil,
            secondsAfterSignal: sent.map { Date().timeIntervalSince($0) }
        )
    }
}
