import Foundation
import Logging
import Synchronization
import Testing
@testable import XentestBackendLibvirt
@testable import XentestPlan
@testable import XentestRun
@testable import XentestSupport

/// The host-health inventory, read from what its script printed in the lab's dom0 (Fixtures/host/, see the README
/// there), and its comparisons.
@Suite("Host inventory: what a case leaves behind, and what the host logged") struct HostInventoryTests {
    static func capture(_ name: String) throws -> String {
        let url = try Fixtures.bundled.appendingPathComponent("host/\(name).txt")
        return try String(contentsOf: url, encoding: .utf8)
    }

    @Test("an idle dom0: Domain-0 is not an object, dom0's xenstore entry, its log tails") func idleDom0() throws {
        let inventory = try HostInventoryScript.parse(try Self.capture("inventory-idle"))
        #expect(inventory.objects["domains"] == [])
        #expect(inventory.objects["xenstore-domains"] == ["0"])
        #expect(inventory.objects["vifs"] == [])
        #expect(inventory.hypervisorLog.contains { $0.hasPrefix("(XEN) ") })
        #expect(!inventory.kernelLog.isEmpty)
    }

    @Test(
        "a running guest: its domain, xenstore entry, vif and xl's userdata file are new; the new log lines are found"
    ) func runningGuest() throws {
        let idle = try HostInventoryScript.parse(try Self.capture("inventory-idle"))
        let running = try HostInventoryScript.parse(try Self.capture("inventory-guest-running"))
        let leaked = Dictionary(uniqueKeysWithValues: running.leaked(since: idle).map { ($0.kind, $0.names) })
        #expect(leaked["domains"] == ["inventory-guest"])
        #expect(leaked["vifs"]?.count == 1)
        #expect(leaked["xenstore-domains"]?.count == 1)
        #expect(leaked["files"]?.contains { $0.hasPrefix("/var/lib/xen/userdata-") } == true, "\(leaked)")
        let new = HostInventory.newLines(idle.kernelLog, running.kernelLog)
        #expect(!new.isEmpty && new.count < running.kernelLog.count)
        #expect(new.contains { $0.contains("vif") }, "\(new)")
        #expect(running.leaked(since: running).isEmpty)
    }

    @Test func newLinesFollowTheLongestOverlap() {
        #expect(HostInventory.newLines(["a", "b", "c"], ["a", "b", "c", "d", "e"]) == ["d", "e"])
        // The ring dropped its oldest lines.
        #expect(HostInventory.newLines(["a", "b", "c"], ["c", "d"]) == ["d"])
        // A line repeated: the match that carries the longest tail of before wins.
        #expect(HostInventory.newLines(["x", "c"], ["c", "x", "c", "d"]) == ["d"])
        #expect(HostInventory.newLines(["a"], ["b"]) == ["b"], "nothing in common: all new")
        #expect(HostInventory.newLines([], ["b"]) == ["b"])
        #expect(HostInventory.newLines(["a", "b"], ["a", "b"]).isEmpty)
    }

    @Test func problemLines() {
        #expect(HostInventory.isProblem("(XEN) Assertion 'x' failed at arch/x86/mm.c:123"))
        #expect(HostInventory.isProblem("(XEN) Xen BUG at common/page_alloc.c:400"))
        #expect(HostInventory.isProblem("[  12.3] WARNING: CPU: 0 PID: 1 at kernel/x.c:9 f+0x1"))
        #expect(HostInventory.isProblem("Kernel panic - not syncing: Fatal exception"))
        #expect(HostInventory.isProblem("(XEN) d1 warning: something"))
        #expect(!HostInventory.isProblem("(XEN) HVM12 restore: CPU_XSAVE 0"))
        #expect(!HostInventory.isProblem("xenbr0: port 2(vif3.0) entered forwarding state"))
        #expect(!HostInventory.isProblem("debug: bugfix applied"), "BUG is a word, in capitals")
    }

    @Test func malformedOutputIsAnError() {
        #expect(throws: InventoryParseError.self) { try HostInventoryScript.parse("stray\n## domains\n") }
        #expect(throws: InventoryParseError.self) { try HostInventoryScript.parse("## nonsense\n") }
        #expect(throws: InventoryParseError.self) { try HostInventoryScript.parse("## domains\nd1\n") }
    }

    @Test func exceptionsFromThePlan() throws {
        var rules = HostHealthRules()
        rules.benignLog = [try PlanPattern("Ignoring unknown option")]
        rules.ignore = [try PlanPattern("^files /var/lib/xen/dump/")]
        #expect(rules.isBenign("Warning: Ignoring unknown option 'x'"))
        #expect(!rules.isBenign("WARNING: something else"))
        #expect(rules.ignores(kind: "files", name: "/var/lib/xen/dump/core.1"))
        #expect(!rules.ignores(kind: "vifs", name: "/var/lib/xen/dump/core.1"))
    }
}

extension HostInventoryTests {
    /// Runs one create/destroy case on the test driver with `before` and `after` as the host's readings.
    static func runCase(before: HostInventory, after: HostInventory, hostHealth: String = "", caseKeys: String = "")
        async throws -> CaseResult
    {
        let plan = try inlinePlan(
            """
            release: 4.17.0
            title: Host health
            \(hostHealth)
            cases:
              - id: one
                title: One
                area: lifecycle
                guest: {type: pv}
                \(caseKeys)
                steps:
                  - create:
                  - destroy:
            """
        )
        let backend = TestDriverWithHooks(try privateTestHost(), readings: [before, after])
        return try #require(try await backend.run(plan, runID: "health").first)
    }

    @Test("the runner: a vif and a domain left after teardown make the case an error naming them")
    func leakMakesAnError() async throws {
        let idle = try HostInventoryScript.parse(try Self.capture("inventory-idle"))
        let running = try HostInventoryScript.parse(try Self.capture("inventory-guest-running"))
        let result = try await Self.runCase(before: idle, after: running)
        #expect(result.status == .error)
        #expect(
            result.reason?.contains("teardown left behind domains: inventory-guest") == true,
            "\(result.reason ?? "")"
        )
        #expect(result.reason?.contains("vifs: vif23.0") == true)
        #expect(result.teardown.last?.label == "host health")
        #expect(result.teardown.last?.status == .error)
        let ignored = try await Self.runCase(
            before: idle,
            after: running,
            hostHealth: "host-health: {ignore: ['^domains ', '^vifs ', '^xenstore-domains ', '^files /var/lib/xen/']}"
        )
        #expect(ignored.status == .pass, "\(ignored.reason ?? "")")
    }

    @Test("the runner: a new warning in the hypervisor's log fails a passing case, unless the plan calls it benign")
    func warningFailsTheCase() async throws {
        let idle = try HostInventoryScript.parse(try Self.capture("inventory-idle"))
        var warned = idle
        warned.hypervisorLog.append("(XEN) d1v0 Warning: something the case caused")
        let result = try await Self.runCase(before: idle, after: warned)
        #expect(result.status == .fail)
        #expect(result.reason == "the host logged during the case: (XEN) d1v0 Warning: something the case caused")
        let benign = try await Self.runCase(
            before: idle,
            after: warned,
            hostHealth: "host-health: {benign-log: ['something the case caused']}"
        )
        #expect(benign.status == .pass)
        // A case's own pattern fails it on a line that is no warning.
        var bridged = idle
        bridged.kernelLog.append("[  99.1] xenbr0: port 1(vif7.0) entered disabled state")
        let lacks = try await Self.runCase(before: idle, after: bridged, caseKeys: "host-log-lacks: 'entered disabled'")
        #expect(lacks.status == .fail)
        #expect(lacks.reason?.contains("vif7.0") == true)
        let same = try await Self.runCase(before: idle, after: idle)
        #expect(same.status == .pass)
        #expect(same.teardown.last?.label == "host health")
    }

    @Test("under --jobs, cases that ran together share one reading before and one after; a leak is its owner's")
    func windowOfCases() async throws {
        let plan = try inlinePlan(
            """
            release: 4.17.0
            title: Host health window
            cases:
              - id: one
                title: One
                area: lifecycle
                guest: {type: pv}
                steps: [{create: }, {destroy: }]
              - id: one-b
                title: One B
                area: lifecycle
                guest: {type: pv}
                steps: [{create: }, {destroy: }]
            """
        )
        let idle = try HostInventoryScript.parse(try Self.capture("inventory-idle"))
        func run(after: HostInventory) async throws -> [String: CaseResult] {
            // Two readings for the two cases: they ran together, in one window.
            let backend = TestDriverWithHooks(try privateTestHost(), readings: [idle, after])
            let cases = try await backend.run(plan, jobs: 2, runID: "w")
            return Dictionary(uniqueKeysWithValues: cases.map { ($0.id, $0) })
        }
        // A leaked xl.cfg names case one-b's domain: one-b's leak, not one's (whose domain name it starts with).
        var leaked = idle
        leaked.objects["files", default: []].insert("/var/lib/xentest/xentest-w-one-b.cfg")
        var cases = try await run(after: leaked)
        #expect(cases["one"]?.status == .pass, "\(cases["one"]?.reason ?? "")")
        #expect(cases["one-b"]?.status == .error)
        #expect(
            cases["one-b"]?.reason
                == "teardown left behind files: /var/lib/xentest/xentest-w-one-b.cfg (it ran together with one)"
        )
        #expect(cases.values.allSatisfy { $0.teardown.last?.label == "host health" })
        // A vif names no case: each case of the window is told, and with whom it ran.
        var vif = idle
        vif.objects["vifs", default: []].insert("vif9.0")
        cases = try await run(after: vif)
        #expect(cases["one"]?.reason == "teardown left behind vifs: vif9.0 (it ran together with one-b)")
        #expect(cases["one-b"]?.reason == "teardown left behind vifs: vif9.0 (it ran together with one)")
    }

    @Test("an object's owner is the case whose domain it names, the longest name first") func owners() {
        let owners = [
            (id: "a", domains: ["xentest-r-a"]), (id: "a-b", domains: ["xentest-r-a-b", "xentest-r-a-b-g2"]),
        ]
        #expect(Runner.owner(of: "xentest-r-a", among: owners) == "a")
        #expect(Runner.owner(of: "/var/lib/xentest/xentest-r-a.cfg", among: owners) == "a")
        #expect(Runner.owner(of: "/var/lib/xentest/xentest-r-a-disk0.raw", among: owners) == "a")
        #expect(Runner.owner(of: "/var/lib/xentest/xentest-r-a-b.save", among: owners) == "a-b")
        #expect(Runner.owner(of: "loop0 /var/lib/xentest/xentest-r-a-b-g2-disk1.qcow2", among: owners) == "a-b")
        #expect(
            Runner.owner(of: "qemu-system-i386 -xen-domid 7 -name xentest-r-a-b -nographic", among: owners) == "a-b"
        )
        #expect(Runner.owner(of: "vif7.0", among: owners) == nil)
        #expect(Runner.owner(of: "xentest-r-ab", among: owners) == nil)
    }
}
