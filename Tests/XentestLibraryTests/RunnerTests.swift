import Foundation
import Libvirt
import Logging
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

/// A plan run in-process on libvirt's real test driver (or another libvirt backend), with every event kept.
struct TestDriverRun {
    let backend: LibvirtBackend
    let result: RunResult
    let events: [RunEvent]
    let domainNames: [String]

    /// Runs `plan` on `backend` (default: a private test host), driven `through` a wrapper of it when one is given
    /// (`TestDriverWithHooks`), as run `runID` (default: a random one); `cancelWhen` cancels the run when an event
    /// matches; `observe` sees each event as it is emitted, before the runner goes on.
    static func run(
        _ plan: Plan,
        backend given: LibvirtBackend? = nil,
        through wrapper: (any Backend)? = nil,
        runID: String? = nil,
        host: HostConfig = .testDriverDefault,
        only: [String] = [],
        runTimeout: PlanDuration? = nil,
        jobs: Int = 1,
        cancelWhen: (@Sendable (RunEvent) -> Bool)? = nil,
        observe: (@Sendable (RunEvent) -> Void)? = nil
    ) async throws -> TestDriverRun {
        let backend = try given ?? privateTestHost()
        let driven = wrapper ?? backend
        let facts = try await driven.collectFacts(host: .testDriverDefault)
        let runPlan = try RunPlanner.resolve(plan, only: only, backend: driven, facts: facts, host: host)
        let events = Mutex<[RunEvent]>([])
        let cancel = Mutex<(@Sendable () -> Void)?>(nil)
        var runner = Runner(
            backend: driven,
            host: host,
            facts: facts,
            runID: runID ?? String(UUID().uuidString.prefix(8)).lowercased(),
            casesDirectory: "/nonexistent",
            runTimeout: runTimeout,
            logger: Logger(label: "test"),
            emit: { event in
                events.withLock { $0.append(event) }
                observe?(event)
                if let cancelWhen, cancelWhen(event) { cancel.withLock { $0 }?() }
            }
        )
        runner.jobs = jobs
        // The run starts only once its cancel is in place, so that an early event cannot find none.
        let (go, starting) = AsyncStream<Void>.makeStream()
        let task = Task { [runner] in
            for await _ in go { break }
            await runner.run(runPlan)
        }
        cancel.withLock { $0 = { task.cancel() } }
        starting.yield()
        _ = await task.value
        var builder = RunResultBuilder()
        let recorded = events.withLock { $0 }
        for event in recorded { builder.add(event) }
        let result = try #require(builder.result())
        return TestDriverRun(
            backend: backend,
            result: result,
            events: recorded,
            domainNames: plan.cases.map { runner.domainName(for: $0) }
        )
    }

    func status(_ id: String) -> CaseStatus? { result.cases.first { $0.id == id }?.status }
    func reason(_ id: String) -> String { result.cases.first { $0.id == id }?.reason ?? "" }

    /// Domains of this run still known to libvirt: must be none after any run.
    func leftoverDomains() throws -> [String] {
        try backend.connection.domains().map(\.name).filter { $0.hasPrefix("xentest-") }
    }
}

/// libvirt's test driver on a host of our own (`Fixtures/hosts/testhost.xml`): fresh state on every open, unlike
/// `test:///default`, which every connection in the process shares (and tests run in parallel).
func privateTestHost() throws -> LibvirtBackend {
    let path = try Fixtures.bundled.appendingPathComponent("hosts/testhost.xml").path
    return try LibvirtBackend(uri: "test://" + path)
}

/// Loads a plan written inline.
func inlinePlan(_ yaml: String, name: String = "inline") throws -> Plan {
    let directory = try ScratchDirectory()
    let path = try directory.write(yaml, to: "\(name).yaml")
    return try PlanLoader().load(path: path).plan
}

let guestsYAML = """
    release: test
    title: runner test
    guests:
      g:
        type: pv
        vcpus: 1
        maxvcpus: 4
    """

@Suite("Runner on libvirt's test driver") struct RunnerTests {
    @Test("the whole rc6 plan: lifecycle and vCPU limits pass, the rest skip with the driver's reasons")
    func rc6OnTestDriver() async throws {
        let plan = try PlanLoader().load(path: Fixtures.realPlan("rc6")).plan
        let run = try await TestDriverRun.run(plan)
        let passing = [
            "lifecycle-create-destroy", "lifecycle-pause-unpause", "lifecycle-shutdown", "cpu-hotplug-above-max",
            "general-save-restore.pv", "general-save-restore.hvm", "general-reboot.pv", "general-reboot.hvm",
            "general-balloon", "general-vcpu-pin",
        ]
        for id in passing { #expect(run.status(id) == .pass, "\(id): \(run.reason(id))") }
        #expect(run.status("pci-hotplug-attach-detach") == .skip)
        #expect(run.reason("pci-hotplug-attach-detach").contains("cannot hot-plug devices"))
        #expect(run.reason("pci-assignable").contains("cannot detach node devices"))
        #expect(run.reason("network-attach-detach").contains("virDomainAttachDeviceFlags is not supported"))
        // vCPU hot-plug is checked on a booted guest: the test driver runs none.
        for id in [
            "cpu-hotplug-pv-add", "cpu-hotplug-pv-add-in-guest", "cpu-hotplug-hvm-add", "cpu-hotplug-hvm-unplug",
        ] { #expect(run.reason(id).contains("runs no guest code"), "\(id): \(run.reason(id))") }
        #expect(run.reason("network-split-event-channels") == "the case runs on xl only")
        #expect(run.reason("network-guest-to-guest").contains("runs no guest code"))
        for id in ["general-local-migrate.pv", "general-local-migrate.pvh", "general-local-migrate.hvm"] {
            #expect(run.reason(id) == "the case runs on xl only", "\(id): \(run.reason(id))")
        }
        #expect(run.reason("general-mem-max").contains("cannot change a running guest's maximum memory"))
        for id in ["general-disk-hotplug.pv", "general-disk-hotplug.hvm", "general-disk-qcow2"] {
            let reason = run.reason(id)
            #expect(reason.contains("cannot hot-plug devices") || reason.contains("qemu-img"), "\(id): \(reason)")
        }
        #expect(run.reason("general-cdrom").contains("runs no guest code"), "\(run.reason("general-cdrom"))")
        // for-each: the PVH variant alone is skipped where the host has no PVH.
        #expect(run.reason("general-reboot.pvh").contains("PVH"), "\(run.reason("general-reboot.pvh"))")
        #expect(run.result.summary.pass == passing.count)
        #expect(run.result.summary.skip == plan.cases.count - passing.count)
        #expect(run.result.exitStatus == .success)
        #expect(try run.leftoverDomains().isEmpty)
        let above = try #require(run.result.cases.first { $0.id == "cpu-hotplug-above-max" })
        let refused = try #require(above.steps.first { $0.label == "vcpu-set 5" }?.evidence.last)
        #expect(refused.call == "virDomainSetVcpusFlags")
        #expect(refused.error.contains("exceeds maximum (5 > 4)"))
    }

    @Test("save and restore through libvirt: the save file exists between them and is gone after the run")
    func saveRestoreFile() async throws {
        let plan = try inlinePlan(
            guestsYAML + """

                cases:
                  - id: keep
                    title: Save and restore
                    area: general
                    guest: g
                    steps:
                      - create:
                      - save:
                      - list:
                        expect: {state: shutoff}
                      - restore:
                      - mem-set: 192M
                      - list:
                        expect: {memory: 192M}
                      - destroy:
                """
        )
        let backend = try privateTestHost()
        let seenBetween = Mutex<Bool?>(nil)
        let run = try await TestDriverRun.run(
            plan,
            backend: backend,
            observe: { event in
                guard case .stepEnded(_, let step, false) = event, step.label == "save" else { return }
                let files =
                    (try? FileManager.default.contentsOfDirectory(
                        atPath: FileManager.default.temporaryDirectory.appendingPathComponent("xentest").path
                    )) ?? []
                seenBetween.withLock { $0 = files.contains { $0.hasSuffix("-keep.save") } }
            }
        )
        #expect(run.status("keep") == .pass, "\(run.reason("keep"))")
        #expect(seenBetween.withLock { $0 } == true)
        let path = backend.savePath(try #require(run.domainNames.first))
        #expect(!FileManager.default.fileExists(atPath: path))
        let steps = try #require(run.result.cases.first).steps
        let calls = { (label: String) in steps.first { $0.label == label }?.evidence.map { $0.call } ?? [] }
        #expect(calls("save").contains("virDomainSave"))
        #expect(calls("restore").contains("virDomainRestore"))
        #expect(try run.leftoverDomains().isEmpty)
    }

    @Test("disks: the guest's images exist while it runs, its XML lists them, teardown removes them") func guestDisks()
        async throws
    {
        let plan = try inlinePlan(
            guestsYAML + """

                  d: {type: pv, disks: [1M, 2M]}
                cases:
                  - id: disks
                    title: Two disks from the start
                    area: general
                    guest: d
                    steps:
                      - create:
                      - block-list:
                        expect: {count: 2}
                      - block-list:
                        expect: {count: 3}
                """
        )
        let backend = try privateTestHost()
        let sizes = Mutex<[UInt64]>([])
        let run = try await TestDriverRun.run(
            plan,
            backend: backend,
            observe: { event in
                guard case .stepEnded(_, let step, false) = event, step.label == "create" else { return }
                let directory = backend.hostFilesDirectory
                let files = ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [])
                    .filter { $0.hasSuffix("-disks-disk0.raw") || $0.hasSuffix("-disks-disk1.raw") }.sorted()
                sizes.withLock {
                    $0 = files.compactMap {
                        (try? FileManager.default.attributesOfItem(atPath: directory + "/" + $0))?[.size] as? UInt64
                    }
                }
            }
        )
        #expect(run.status("disks") == .fail)
        #expect(run.reason("disks").contains("step 3 (block-list): expected lists 3 entries, saw 2 disks listed"))
        #expect(sizes.withLock { $0 } == [1 << 20, 2 << 20], "both images, at their sizes, while the guest ran")
        let name = try #require(run.domainNames.first)
        let guest = GuestInstance(
            domainName: name,
            spec: try #require(plan.cases.first?.guest),
            host: .testDriverDefault
        )
        for index in 0..<2 {
            #expect(
                !FileManager.default.fileExists(
                    atPath: guest.diskImagePath(index, .raw, in: backend.hostFilesDirectory)
                )
            )
        }
        #expect(try run.leftoverDomains().isEmpty)
    }

    @Test("the planner skips a qcow2 disk where the host has no qemu-img, and any disk where xentest has no shell")
    func diskFormatRequirement() throws {
        var facts = HostFacts(
            hostname: "h",
            toolstack: "xl",
            cpus: 2,
            totalMemoryMiB: 1024,
            freeMemoryMiB: 512,
            runsGuestCode: true
        )
        let backend = try privateTestHost()
        func reason(_ format: DiskFormat) -> String? {
            RunPlanner.unmet(.diskFormat(format), backend: backend, facts: facts, host: .testDriverDefault)
        }
        #expect(reason(.raw)?.contains("no shell") == true)
        facts.diskFormats = [.raw]
        #expect(reason(.raw) == nil)
        #expect(reason(.qcow2) == "the host cannot make qcow2 images: no qemu-img there (Debian: qemu-utils)")
        facts.diskFormats = [.raw, .qcow2]
        #expect(reason(.qcow2) == nil)
    }

    @Test("libvirt says why it cannot migrate locally or change a running guest's maximum on the test driver")
    func libvirtRefusals() throws {
        let backend = try privateTestHost()
        let migration = backend.unsupportedReason(for: .migrate(times: 1), guest: nil)
        #expect(migration?.contains("only to another host") == true)
        let maximum = backend.unsupportedReason(for: .memMax(MemorySize(mebibytes: 256)), guest: nil)
        #expect(maximum?.contains("virDomainSetMaxMemory") == true)
        #expect(backend.unsupportedReason(for: .memSet(MemorySize(mebibytes: 256)), guest: nil) == nil)
        #expect(backend.unsupportedReason(for: .save, guest: nil) == nil)
    }

    @Test("a failing case keeps its evidence, is torn down, and the run goes on") func failingCase() async throws {
        let plan = try inlinePlan(
            guestsYAML + """

                cases:
                  - id: wrong-count
                    title: expects the wrong count
                    area: cpu-hotplug
                    guest: g
                    steps:
                      - create:
                      - vcpu-set: 2
                      - vcpu-list:
                        expect: {online-vcpus: 3}
                      - destroy:
                  - id: after
                    title: runs after the failure
                    area: cpu-hotplug
                    guest: g
                    steps:
                      - create:
                      - destroy:
                """
        )
        let run = try await TestDriverRun.run(plan)
        #expect(run.status("wrong-count") == .fail)
        #expect(run.reason("wrong-count").contains("expected 3 vCPUs online, saw 2 vCPUs online"))
        #expect(run.status("after") == .pass)
        #expect(run.result.exitStatus == .failed)
        let failed = try #require(run.result.cases.first { $0.id == "wrong-count" })
        #expect(failed.steps.count == 3, "steps after the failing one do not run")
        #expect(
            failed.steps.last?.evidence.map(\.call) == [
                "virDomainLookupByName", "virDomainGetVcpusFlags", "virDomainGetVcpusFlags", "virNodeGetInfo",
                "virDomainGetVcpuPinInfo",
            ]
        )
        #expect(failed.teardown.map(\.label) == ["teardown: domain \(run.domainNames[0])"])
        #expect(
            failed.teardown.first?.evidence.map(\.call) == [
                "virDomainLookupByName", "virDomainDestroy", "virDomainUndefineFlags",
            ]
        )
        #expect(try run.leftoverDomains().isEmpty)
    }

    @Test("vcpu-pin sets the affinity vcpu-list reads back; an affinity not set fails, naming what was read")
    func vcpuPinning() async throws {
        let plan = try inlinePlan(
            guestsYAML + """

                cases:
                  - id: pin
                    title: pins vCPU 1 to CPUs 2 and 3
                    area: cpu
                    guest: g
                    steps:
                      - create:
                      - vcpu-set: 2
                      - vcpu-pin: {vcpu: 1, cpus: 2-3}
                      - vcpu-list:
                        expect: {affinity: {vcpu: 1, cpus: '2,3'}}
                      - vcpu-list:
                        expect: {affinity: {vcpu: 0, cpus: all}}
                      - destroy:
                  - id: not-pinned
                    title: expects a pin that was never made
                    area: cpu
                    guest: g
                    steps:
                      - create:
                      - vcpu-list:
                        expect: {affinity: {vcpu: 0, cpus: 1}}
                      - destroy:
                """
        )
        let run = try await TestDriverRun.run(plan)
        #expect(run.status("pin") == .pass, "\(run.reason("pin"))")
        let pinned = try #require(
            run.result.cases.first { $0.id == "pin" }?.steps.first { $0.label == "vcpu-pin 1 2-3" }
        )
        #expect(pinned.evidence.last?.call == "virDomainPinVcpu")
        #expect(pinned.evidence.last?.arguments.suffix(2) == ["1", "2-3"])
        #expect(run.status("not-pinned") == .fail)
        #expect(
            run.reason("not-pinned").contains("expected vCPU 0 runs on CPU 1 only, saw 1 vCPUs online, vCPU 0 on all")
        )
        #expect(try run.leftoverDomains().isEmpty)
    }

    @Test("a step that never finishes times out, the guest is torn down, the run goes on") func hangingStep()
        async throws
    {
        let plan = try inlinePlan(
            guestsYAML + """

                cases:
                  - id: hangs
                    title: waits for a state that never comes
                    area: lifecycle
                    guest: g
                    steps:
                      - create:
                      - wait-for-state: paused
                        timeout: 300ms
                      - destroy:
                  - id: next
                    title: runs after the timeout
                    area: lifecycle
                    guest: g
                    steps:
                      - create:
                      - destroy:
                """
        )
        let run = try await TestDriverRun.run(plan)
        #expect(run.status("hangs") == .timeout)
        #expect(run.reason("hangs").contains("wait-for-state paused did not finish within 300ms"))
        #expect(run.status("next") == .pass)
        #expect(run.result.exitStatus == .failed)
        let hung = try #require(run.result.cases.first { $0.id == "hangs" })
        #expect(hung.teardown.count == 1 && hung.teardown[0].status == .pass)
        #expect(try run.leftoverDomains().isEmpty)
    }

    @Test("cancelling (Ctrl-C) mid-case: the case is interrupted, teardown still runs, later cases are interrupted")
    func cancellation() async throws {
        let plan = try inlinePlan(
            guestsYAML + """

                cases:
                  - id: long
                    title: a long wait, interrupted
                    area: lifecycle
                    guest: g
                    steps:
                      - create:
                      - wait-for-state: paused
                        timeout: 60s
                  - id: never
                    title: never starts
                    area: lifecycle
                    guest: g
                    steps:
                      - create:
                """
        )
        let run = try await TestDriverRun.run(plan) { event in
            if case .stepEnded(let id, let step, false) = event { return id == "long" && step.label == "create" }
            return false
        }
        #expect(run.status("long") == .interrupted)
        #expect(run.reason("long").contains("interrupted (Ctrl-C or SIGTERM)"))
        #expect(run.status("never") == .interrupted)
        #expect(run.reason("never") == "the run stopped before this case started")
        #expect(run.result.interrupted)
        #expect(run.result.exitStatus == .interrupted)
        let long = try #require(run.result.cases.first { $0.id == "long" })
        #expect(long.teardown.count == 1 && long.teardown[0].status == .pass, "teardown ran despite cancellation")
        #expect(try run.leftoverDomains().isEmpty)
    }

    @Test("known issues: a failure that matches is xfail, a pass is xpass (and fails the run)") func knownIssues()
        async throws
    {
        let plan = try inlinePlan(
            guestsYAML + """

                cases:
                  - id: known-failure
                    title: fails as the known issue says
                    area: cpu-hotplug
                    guest: g
                    known-issue: {summary: unplug is broken here, drivers: [test]}
                    steps:
                      - create:
                      - vcpu-list:
                        expect: {online-vcpus: 2}
                  - id: fixed
                    title: the known issue did not reproduce
                    area: cpu-hotplug
                    guest: g
                    known-issue: {summary: was broken, drivers: [test]}
                    steps:
                      - create:
                  - id: other-driver
                    title: the known issue is scoped to another driver
                    area: cpu-hotplug
                    guest: g
                    known-issue: {summary: broken on qemu only, drivers: [qemu]}
                    steps:
                      - create:
                      - vcpu-list:
                        expect: {online-vcpus: 2}
                  - id: other-xen
                    title: scoped to a Xen version, and this host is not Xen
                    area: cpu-hotplug
                    guest: g
                    known-issue: {summary: broken in 4.3, xen: '< 4.4'}
                    steps:
                      - create:
                  - id: matching-failure
                    title: the failure is the one the known issue describes
                    area: cpu-hotplug
                    guest: g
                    known-issue: {summary: two vCPUs never show, failure-matches: 'step 2 .*saw 1 vCPU'}
                    steps:
                      - create:
                      - vcpu-list:
                        expect: {online-vcpus: 2}
                  - id: another-failure
                    title: a failure the known issue does not describe stays a failure
                    area: cpu-hotplug
                    guest: g
                    known-issue: {summary: unplug times out, failure-matches: 'timed out'}
                    steps:
                      - create:
                      - vcpu-list:
                        expect: {online-vcpus: 2}
                """
        )
        let run = try await TestDriverRun.run(plan)
        #expect(run.status("known-failure") == .xfail)
        #expect(run.reason("known-failure").hasPrefix("known issue: unplug is broken here"))
        #expect(run.status("fixed") == .xpass)
        #expect(run.status("other-driver") == .fail)
        #expect(run.status("other-xen") == .pass)
        #expect(run.status("matching-failure") == .xfail, "\(run.reason("matching-failure"))")
        #expect(run.status("another-failure") == .fail)
        #expect(run.reason("another-failure").hasSuffix("(not the known issue: /timed out/ does not match)"))
        #expect(run.result.exitStatus == .failed, "an xpass fails the run")
        #expect(try run.leftoverDomains().isEmpty)
    }

    @Test("retry-for tries again until the expectation holds, then reports the attempts") func retryFor() async throws {
        let plan = try inlinePlan(
            guestsYAML + """

                cases:
                  - id: never-true
                    title: retries and gives up
                    area: cpu-hotplug
                    guest: g
                    steps:
                      - create:
                      - vcpu-list:
                        expect: {online-vcpus: 3}
                        retry-for: 700ms
                """
        )
        let run = try await TestDriverRun.run(plan)
        let step = try #require(run.result.cases.first?.steps.last)
        #expect(step.label == "vcpu-list", "\(step.label): \(step.message ?? "")")
        #expect(step.status == .fail)
        #expect(step.attempts >= 3, "\(step.attempts) attempts in \(step.durationSeconds)s: \(step.message ?? "")")
        #expect(step.durationSeconds >= 0.7, "retries until the window closes")
        #expect(step.message?.contains("after \(step.attempts) attempts") == true)
    }

    @Test("--only selects by id or area; an unknown selector is an error with a suggestion") func onlySelection()
        async throws
    {
        let plan = try PlanLoader().load(path: Fixtures.realPlan("rc6")).plan
        let run = try await TestDriverRun.run(plan, only: ["cpu-hotplug", "lifecycle-shutdown"])
        #expect(Set(run.result.cases.map(\.area)) == ["cpu-hotplug", "lifecycle"])
        #expect(run.result.cases.filter { $0.area == "lifecycle" }.map(\.id) == ["lifecycle-shutdown"])
        let backend = try privateTestHost()
        let facts = try await backend.collectFacts(host: .testDriverDefault)
        #expect {
            try RunPlanner.resolve(plan, only: ["cpu-hotplg"], backend: backend, facts: facts, host: .testDriverDefault)
        } throws: { error in "\(error)".contains("did you mean 'cpu-hotplug'?") }
    }

    @Test("a run over its whole-run time limit ends the remaining cases as timeouts") func runTimeout() async throws {
        let plan = try inlinePlan(
            guestsYAML + """

                cases:
                  - id: slow
                    title: takes the whole budget
                    area: lifecycle
                    guest: g
                    steps:
                      - create:
                      - wait-for-state: paused
                        timeout: 5s
                  - id: late
                    title: starts after the budget
                    area: lifecycle
                    guest: g
                    steps:
                      - create:
                """
        )
        let run = try await TestDriverRun.run(plan, runTimeout: PlanDuration(milliseconds: 400))
        #expect(run.status("slow") == .timeout)
        #expect(run.status("late") == .timeout)
        #expect(run.reason("late").contains("time limit (400ms) was reached before this case started"))
        #expect(try run.leftoverDomains().isEmpty)
    }

    @Test("host prerequisites decide skips before anything is created") func prerequisites() async throws {
        let plan = try inlinePlan(
            guestsYAML + """

                cases:
                  - id: needs-memory
                    title: needs more memory than the test host has
                    area: lifecycle
                    requires: [{min-free-memory: 1G}, {xen: '>= 4.3'}, {min-host-cpus: 1000}]
                    guest: g
                    steps:
                      - create:
                """
        )
        let run = try await TestDriverRun.run(plan)
        let reason = run.reason("needs-memory")
        #expect(run.status("needs-memory") == .skip)
        #expect(reason.contains("needs 1G free memory; libvirt TEST driver cannot tell how much is free"))
        #expect(reason.contains("needs Xen >= 4.3; this host is not running Xen"))
        #expect(reason.contains("needs 1000 physical CPUs; the host has 8"))
        #expect(!run.events.contains { if case .caseStarted = $0 { true } else { false } })
    }
}

@Suite("Journal and rebuilt reports") struct JournalTests {
    @Test("a journal cut in the middle (and mid-line) rebuilds a valid interrupted report") func cutJournal()
        async throws
    {
        let plan = try PlanLoader().load(path: Fixtures.realPlan("rc6")).plan
        let directory = try ScratchDirectory()
        let results = try ResultsDirectory(root: directory.path, plan: plan.name, host: "testhost", at: Date())
        let backend = try privateTestHost()
        let facts = try await backend.collectFacts(host: .testDriverDefault)
        let runPlan = try RunPlanner.resolve(plan, only: [], backend: backend, facts: facts, host: .testDriverDefault)
        let runner = Runner(
            backend: backend,
            host: .testDriverDefault,
            facts: facts,
            runID: "j1",
            casesDirectory: results.casesPath,
            logger: Logger(label: "test"),
            emit: { results.record($0) }
        )
        await runner.run(runPlan)
        let full = try #require(try Journal.result(path: results.journal.path))
        #expect(!full.interrupted)
        #expect(JSONReporter.render(full) == results.result().map(JSONReporter.render))
        #expect(FileManager.default.fileExists(atPath: results.casesPath + "/cpu-hotplug-above-max/evidence.txt"))

        let text = try String(contentsOfFile: results.journal.path, encoding: .utf8)
        let lines = text.split(separator: "\n")
        let firstCPUCase = try #require(
            lines.firstIndex { $0.contains("\"caseStarted\"") && $0.contains("cpu-hotplug-above-max") }
        )
        let cut = lines[..<(firstCPUCase + 2)].joined(separator: "\n") + "\n" + lines[firstCPUCase + 2].prefix(40)
        let cutPath = try directory.write(cut, to: "cut/journal.jsonl")
        let rebuilt = try #require(try Journal.result(path: cutPath))
        #expect(rebuilt.interrupted)
        #expect(rebuilt.exitStatus == .interrupted)
        #expect(rebuilt.cases.count == plan.cases.count)
        #expect(rebuilt.cases.first { $0.id == "lifecycle-create-destroy" }?.status == .pass)
        let open = try #require(rebuilt.cases.first { $0.id == "cpu-hotplug-above-max" })
        #expect(open.status == .interrupted)
        #expect(open.steps.count == 1, "the step that ended before the cut is kept")
        #expect(
            rebuilt.cases.first { $0.id == "network-vif-ping" }?.reason == "the run stopped before this case started"
        )
        let json = ReportFormat.json.render(rebuilt)
        #expect(try JSONReporter.decode(json) == rebuilt)
        #expect(ReportFormat.junit.render(rebuilt).contains("type=\"interrupted\""))
    }

    @Test("a bad line in the middle of a journal is an error naming the line") func corruptJournal() throws {
        let directory = try ScratchDirectory()
        let path = try directory.write("{\"runEnded\":{}}\nnot json\n{}\n", to: "journal.jsonl")
        #expect { try Journal.read(path: path) } throws: { error in
            "\(error)".contains("journal.jsonl:1: error: not a journal event")
        }
    }
}

@Suite("Guest XML against libvirt itself") struct DomainXMLAcceptanceTests {
    @Test("every guest of the rc6 plan renders to XML that libvirt's test driver defines and starts")
    func rc6GuestsDefine() throws {
        let plan = try PlanLoader().load(path: Fixtures.realPlan("rc6")).plan
        let connection = try privateTestHost().connection
        let host = HostConfig(
            pciDevices: ["nic": .init(address: PCIAddress(domain: 0, bus: 0, device: 4, function: 0), largeBar: false)],
            bridge: "virbr0",
            guestKernel: "/boot/vmlinuz",
            guestRamdisk: "/boot/initrd.img",
            source: "test"
        )
        var checked = 0
        for testCase in plan.cases {
            guard let spec = testCase.guest else { continue }
            let guest = GuestInstance(domainName: "xentest-x-\(testCase.id)", spec: spec, host: host)
            let domain = try connection.defineDomain(xml: DomainXMLRenderer.render(guest, dialect: .test))
            #expect(domain.name == guest.domainName)
            #expect(try domain.vcpuCount(.maximum) == spec.maxvcpus)
            try domain.create()
            #expect(try domain.vcpuCount(.live) == spec.vcpus)
            let xml = try domain.xml()
            #expect(LibvirtXML(xml).interfaceCount == spec.nics)
            #expect(LibvirtXML(xml).hostdevAddresses == guest.pciAddresses)
            try domain.destroy()
            try domain.undefine()
            checked += 1
        }
        #expect(checked == plan.cases.filter { $0.guest != nil }.count)
    }
}
