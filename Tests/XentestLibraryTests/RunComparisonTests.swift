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

@Suite("Comparing runs: a verdict per case per toolstack, and where they differ") struct RunComparisonTests {
    /// rc6 through xl on real Xen 4.17.7 in the lab (journal of a real run, kept as a fixture).
    static func labRun() throws -> RunResult {
        let path = try Fixtures.bundled.appendingPathComponent("runs/rc6-xl-lab.jsonl").path
        return try #require(try Journal.result(path: path))
    }

    @Test("rc6 on the simulated host and on real Xen: skips are no difference, and every case has a row")
    func testDriverAndLab() async throws {
        let plan = try PlanLoader().load(path: Fixtures.realPlan("rc6")).plan
        let simulated = try await TestDriverRun.run(plan).result
        let lab = try Self.labRun()
        let comparison = RunComparison([simulated, lab])
        #expect(comparison.rows.map(\.id) == plan.cases.map(\.id))
        #expect(comparison.columns.map(\.label).last == "xl (Xen 4.17.7) on xentest-lab")
        #expect(comparison.columns.first?.label.hasPrefix("libvirt test:///") == true)
        let unplug = try #require(comparison.rows.first { $0.id == "cpu-hotplug-hvm-unplug" })
        #expect(unplug.verdicts == [.skip, .xfail] && !unplug.differs)
        let lifecycle = try #require(comparison.rows.first { $0.id == "lifecycle-create-destroy" })
        #expect(lifecycle.verdicts == [.pass, .pass])
        #expect(comparison.differences.isEmpty)
        let text = comparison.markdown()
        #expect(text.contains("| cpu-hotplug-hvm-unplug | skip | xfail |  |"))
        #expect(text.contains("Every case gives the same verdict on every run that tried it"))
    }

    @Test("rc6 through xl and through libvirt's libxl driver on the same real Xen: the one difference is named")
    func xlAndLibvirtOnXen() throws {
        let path = try Fixtures.bundled.appendingPathComponent("runs/rc6-libvirt-lab.jsonl").path
        let libvirt = try #require(try Journal.result(path: path))
        let comparison = RunComparison([try Self.labRun(), libvirt])
        #expect(
            comparison.columns.map(\.label) == [
                "xl (Xen 4.17.7) on xentest-lab", "libvirt xen+ssh (Xen 4.17.7) on xentest-lab",
            ]
        )
        #expect(comparison.differences.map(\.id) == ["pci-assignable"])
        let hotAdd = try #require(comparison.rows.first { $0.id == "cpu-hotplug-hvm-add" })
        #expect(hotAdd.verdicts == [.pass, .pass])
        #expect(comparison.markdown().contains("| pci-assignable | pass | xfail | **differs** |"))
    }

    @Test("a case that passes on one toolstack and fails on another is marked and listed with its reason")
    func differencesAreNamed() throws {
        let lab = try Self.labRun()
        var other = lab
        other.host.toolstack = "libvirt"
        other.host.libvirtURI = "xen+ssh://root@127.0.0.1/system"
        let index = try #require(other.cases.firstIndex { $0.id == "network-vif-ping" })
        other.cases[index].status = .fail
        other.cases[index].reason = "step 3 (ping guest): no reply"
        // xfail on one and fail on the other is the same outcome: the case did not work on either.
        let unplug = try #require(other.cases.firstIndex { $0.id == "cpu-hotplug-hvm-unplug" })
        other.cases[unplug].status = .fail
        let comparison = RunComparison([lab, other])
        #expect(comparison.differences.map(\.id) == ["network-vif-ping"])
        let text = comparison.markdown()
        #expect(text.contains("| network-vif-ping | pass | **FAIL** | **differs** |"))
        #expect(text.contains("1 case differs:"))
        #expect(
            text.contains(
                "- network-vif-ping: xl (Xen 4.17.7) on xentest-lab: pass; "
                    + "libvirt xen+ssh (Xen 4.17.7) on xentest-lab: fail (step 3 (ping guest): no reply)"
            )
        )
    }

    @Test("a case one plan lacks is shown as such, not as a difference") func missingCase() throws {
        let lab = try Self.labRun()
        var fewer = lab
        fewer.cases.removeAll { $0.id == "network-split-event-channels" }
        let comparison = RunComparison([fewer, lab])
        let row = try #require(comparison.rows.last)
        #expect(row.id == "network-split-event-channels" && row.verdicts == [nil, .pass] && !row.differs)
        #expect(comparison.markdown().contains("| network-split-event-channels | (not in plan) | pass |  |"))
    }

    @Test("two runs on the same toolstack and host are headed apart: by host and start time")
    func sameBackendColumnsDiffer() throws {
        let before = try Self.labRun()
        var after = before
        after.startedAt = before.startedAt.addingTimeInterval(3600)
        let labels = RunComparison([before, after]).columns.map(\.label)
        #expect(
            labels == [
                "xl (Xen 4.17.7) on xentest-lab, \(ISO8601.format(before.startedAt))",
                "xl (Xen 4.17.7) on xentest-lab, \(ISO8601.format(after.startedAt))",
            ]
        )
        var simulated = before
        simulated.host.libvirtURI = "test:///default"
        var simulatedLater = simulated
        simulatedLater.startedAt = after.startedAt
        let local = RunComparison([simulated, simulatedLater, before]).columns.map(\.label)
        #expect(
            local == [
                "libvirt test:///default on xentest-lab, \(ISO8601.format(before.startedAt))",
                "libvirt test:///default on xentest-lab, \(ISO8601.format(after.startedAt))",
                "xl (Xen 4.17.7) on xentest-lab",
            ]
        )
    }
}
