import Foundation
import Testing
@testable import XentestPlan
@testable import XentestRun

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
