import Foundation
import Logging
import Synchronization
import Testing
@testable import XentestBackendLibvirt
@testable import XentestPlan
@testable import XentestReport
@testable import XentestRun
@testable import XentestSupport

/// `run --jobs N`: what a case holds, which cases may run beside which, and runs on libvirt's test driver that give
/// the serial run's verdicts with several cases at once.
@Suite("Cases in parallel: claims, admission, runs with --jobs") struct ParallelRunTests {
    /// A plan of `count` cases of every kind the scheduler tells apart: plain, on a PCI role, networked, exclusive,
    /// failing, and one each that the test driver skips.
    static func mixedPlan(_ count: Int) throws -> Plan {
        var cases = ""
        for index in 0..<count {
            switch index % 6 {
            case 0:
                cases += """
                      - id: plain-\(index)
                        title: Plain \(index)
                        area: lifecycle
                        guest: {type: pv, memory: 256M}
                        steps: [{create: }, {list: , expect: {state: running}}, {vcpu-set: 1}, {destroy: }]

                    """
            case 1:
                cases += """
                      - id: held-\(index)
                        title: Held \(index)
                        area: lifecycle
                        exclusive: true
                        guest: {type: pv}
                        steps: [{create: }, {pause: }, {list: , expect: {state: paused}}, {destroy: }]

                    """
            case 2:
                cases += """
                      - id: networked-\(index)
                        title: Networked \(index)
                        area: network
                        guest: {type: pv, nics: 1}
                        steps: [{create: }, {list: , expect: {state: running}}, {destroy: }]

                    """
            case 3:
                cases += """
                      - id: failing-\(index)
                        title: Failing \(index)
                        area: cpu-hotplug
                        guest: {type: pv, vcpus: 1, maxvcpus: 2}
                        steps: [{create: }, {vcpu-set: 2}, {vcpu-list: , expect: {online-vcpus: 1}}]

                    """
            case 4:
                cases += """
                      - id: pci-\(index)
                        title: PCI \(index)
                        area: pci-passthrough
                        guest: {type: pv, pci: [nic]}
                        steps: [{create: }]

                    """
            default:
                cases += """
                      - id: unplug-\(index)
                        title: Unplug \(index)
                        area: cpu-hotplug
                        guest: {type: hvm, vcpus: 2, maxvcpus: 2}
                        steps: [{create: }, {vcpu-set: 1}, {destroy: }]

                    """
            }
        }
        return try inlinePlan("release: test\ntitle: mixed\ncases:\n" + cases, name: "mixed")
    }

    @Test("what a case holds: PCI roles, guest addresses (unless the backend isolates them), memory, exclusive")
    func claims() throws {
        let plan = try inlinePlan(
            """
            release: test
            title: claims
            guests:
              a: {type: pv, memory: 512M, vcpus: 2, maxvcpus: 4, nics: 1}
              b: {type: pv, memory: 256M, pci: [nic]}
            cases:
              - id: moves
                title: Moves
                area: general
                guests: [a, b]
                steps: [{create: }, {create: , on: b}, {migrate: localhost, on: b}, {ping: a, on: b}]
              - id: alone
                title: Alone
                area: general
                exclusive: true
                guest: {type: pv}
                steps: [{create: }]
            """
        )
        let moves = CaseClaims(try #require(plan.testCase("moves")), makesOwnNetwork: false)
        #expect(moves.pciRoles == ["nic"])
        #expect(moves.memoryMiB == 512 + 2 * 256, "the guest that migrates counts twice")
        #expect(moves.vcpus == 3)
        #expect(moves.usesGuestAddresses && moves.exclusiveReason == nil)
        #expect(moves.summary == "pci nic, guest addresses, 1024 MiB, 3 vCPUs")
        #expect(!CaseClaims(try #require(plan.testCase("moves")), makesOwnNetwork: true).usesGuestAddresses)
        let alone = CaseClaims(try #require(plan.testCase("alone")), makesOwnNetwork: false)
        #expect(alone.exclusiveReason == "the plan marks it exclusive")
        #expect(alone.summary == "alone (the plan marks it exclusive)")
    }

    @Test("admission: at most N at once; an exclusive case alone; a role or the addresses held once; budgets")
    func admission() {
        let admission = CaseAdmission(jobs: 3, memoryMiB: 1024, cpus: 4)
        let small = CaseClaims(memoryMiB: 256, vcpus: 1)
        #expect(admission.refusal(small, besides: []) == nil)
        #expect(admission.refusal(small, besides: [small, small]) == nil)
        #expect(admission.refusal(small, besides: [small, small, small]) == "3 cases run")
        let alone = CaseClaims(memoryMiB: 256, exclusiveReason: "the plan marks it exclusive")
        #expect(admission.refusal(alone, besides: []) == nil)
        #expect(admission.refusal(alone, besides: [small])?.hasPrefix("it runs alone") == true)
        #expect(admission.refusal(small, besides: [alone])?.hasPrefix("a case that runs alone runs") == true)
        let nic = CaseClaims(pciRoles: ["nic"])
        #expect(admission.refusal(nic, besides: [CaseClaims(pciRoles: ["nic"])]) == "PCI device 'nic' is held")
        #expect(admission.refusal(nic, besides: [CaseClaims(pciRoles: ["gpu"])]) == nil)
        let networked = CaseClaims(usesGuestAddresses: true)
        #expect(admission.refusal(networked, besides: [networked]) == "the guest addresses are held")
        #expect(admission.refusal(networked, besides: [small]) == nil)
        let big = CaseClaims(memoryMiB: 900, vcpus: 1)
        #expect(admission.refusal(big, besides: [small])?.contains("memory") == true)
        #expect(admission.refusal(CaseClaims(memoryMiB: 4096), besides: []) == nil, "alone, any case may start")
        #expect(admission.refusal(CaseClaims(vcpus: 4), besides: [small])?.contains("CPUs") == true)
        let unbudgeted = CaseAdmission(jobs: 3, memoryMiB: nil, cpus: 0)
        #expect(unbudgeted.refusal(CaseClaims(memoryMiB: 9999, vcpus: 99), besides: [big]) == nil)
    }

    @Test("a simulated host's memory and CPUs are not budgeted: its guests run no code") func simulatedHostBudget()
        async throws
    {
        let facts = try await privateTestHost().collectFacts(host: .testDriverDefault)
        #expect(!facts.runsGuestCode)
        let admission = CaseAdmission(jobs: 4, facts: facts)
        #expect(admission.memoryMiB == nil && admission.cpus == 0)
    }

    /// How many cases were running at most at once, from the events.
    static func mostAtOnce(_ events: [RunEvent]) -> Int {
        var running = 0
        var most = 0
        for event in events {
            switch event {
            case .caseStarted: running += 1
            case .caseEnded: running -= 1
            default: break
            }
            most = max(most, running)
        }
        return most
    }

    @Test(
        "120 cases with --jobs 1, 4 and 8 on the test driver: the same verdicts and reasons, cases overlap, the holds kept",
        arguments: [4, 8]
    ) func sameVerdictsAsSerial(jobs: Int) async throws {
        let plan = try Self.mixedPlan(120)
        let serial = try await TestDriverRun.run(plan)
        let parallel = try await TestDriverRun.run(plan, jobs: jobs)
        #expect(Self.mostAtOnce(serial.events) == 1)
        let most = Self.mostAtOnce(parallel.events)
        #expect(most > 1 && most <= jobs, "at most \(jobs) at once, and more than one: \(most)")
        #expect(parallel.result.cases.map(\.id) == plan.cases.map(\.id), "reports list cases in plan order")
        for (one, other) in zip(serial.result.cases, parallel.result.cases) {
            #expect(one.status == other.status, "\(one.id): \(one.status) serially, \(other.status) with --jobs")
            #expect(one.reason == other.reason, "\(one.id)")
            #expect(one.steps.map(\.label) == other.steps.map(\.label), "\(one.id)")
        }
        let summary = parallel.result.summary
        // The PCI cases skip on the simulated host (no IOMMU); the failing ones fail on their expectation.
        #expect(summary.pass == 80 && summary.fail == 20 && summary.skip == 20)
        #expect(try parallel.leftoverDomains().isEmpty)

        // What is held is never shared: no two cases marked exclusive, or holding the addresses, overlap.
        var running: Set<String> = []
        for event in parallel.events {
            switch event {
            case .caseStarted(let id, _, _):
                if id.hasPrefix("held-") { #expect(running.isEmpty, "\(id) started beside \(running)") }
                #expect(!running.contains { $0.hasPrefix("held-") }, "\(id) started beside an exclusive case")
                if id.hasPrefix("networked-") {
                    #expect(!running.contains { $0.hasPrefix("networked-") }, "\(id) beside \(running)")
                }
                running.insert(id)
            case .caseEnded(let id, _, _, _, _): running.remove(id)
            default: break
            }
        }
        // Each case's events stay in order: started, its steps, ended.
        var open: Set<String> = []
        for event in parallel.events {
            switch event {
            case .caseStarted(let id, _, _): #expect(open.insert(id).inserted)
            case .stepEnded(let id, _, _): #expect(open.contains(id), "a step of \(id) outside its case")
            case .caseEnded(let id, _, _, _, _): #expect(open.remove(id) != nil)
            default: break
            }
        }
    }

    @Test("under --jobs the journal holds whole lines, and folds to the report the run kept in memory")
    func journalUnderConcurrency() async throws {
        let directory = try ScratchDirectory()
        let results = try ResultsDirectory(root: directory.path, plan: "mixed", host: "test", at: Date())
        let plan = try Self.mixedPlan(60)
        let backend = try privateTestHost()
        let facts = try await backend.collectFacts(host: .testDriverDefault)
        let runPlan = try RunPlanner.resolve(plan, only: [], backend: backend, facts: facts, host: .testDriverDefault)
        var runner = Runner(
            backend: backend,
            host: .testDriverDefault,
            facts: facts,
            runID: "p1",
            casesDirectory: results.casesPath,
            logger: Logger(label: "test"),
            emit: { results.record($0) }
        )
        runner.jobs = 6
        await runner.run(runPlan)
        // Journal.read refuses any line that is not one whole event.
        let events = try Journal.read(path: results.journal.path)
        #expect(
            events.count
                == (try String(contentsOfFile: results.journal.path, encoding: .utf8)).split(separator: "\n").count
        )
        #expect(Self.mostAtOnce(events) > 1)
        let rebuilt = try #require(try Journal.result(path: results.journal.path))
        #expect(JSONReporter.render(rebuilt) == results.result().map(JSONReporter.render))
        #expect(rebuilt.cases.map(\.id) == plan.cases.map(\.id))
        for testCase in rebuilt.cases where testCase.status != .skip {
            #expect(FileManager.default.fileExists(atPath: results.casesPath + "/\(testCase.id)/evidence.txt"))
        }
    }

    @Test("Ctrl-C under --jobs: every running case is torn down, the rest interrupted, nothing left")
    func cancellationTearsDownEveryRunningCase() async throws {
        let plan = try Self.mixedPlan(40)
        let started = Mutex(0)
        let run = try await TestDriverRun.run(
            plan,
            jobs: 4,
            cancelWhen: { event in
                guard case .caseStarted = event else { return false }
                return started.withLock { count in
                    count += 1
                    return count == 6
                }
            }
        )
        #expect(run.result.interrupted)
        #expect(run.result.cases.count == plan.cases.count)
        #expect(run.result.cases.contains { $0.status == .interrupted })
        let leftovers = try run.leftoverDomains()
        #expect(leftovers.isEmpty, "every running case's guest was destroyed: \(leftovers)")
        for testCase in run.result.cases where !testCase.steps.isEmpty {
            #expect(testCase.teardown.allSatisfy { $0.status == .pass }, "\(testCase.id): \(testCase.teardown)")
        }
    }
}
