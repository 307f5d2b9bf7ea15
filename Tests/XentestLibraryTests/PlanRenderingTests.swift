import Foundation
import Testing
@testable import XentestBackendLibvirt
@testable import XentestBackendXL
@testable import XentestLab
@testable import XentestPlan
@testable import XentestReport
@testable import XentestRun
@testable import XentestXLParsing

/// `xentest show` (the plan as Markdown instructions) and `xentest list` (the cases as a table), golden-file tested.
@Suite("Plan instructions and listing (golden files)") struct PlanRenderingTests {
    func sample() throws -> Plan {
        let outcome = try loadFixturePlan("valid/sample.yaml")
        return try #require(outcome.plan, "\(outcome.lines)")
    }

    func labHost() throws -> HostConfig { try HostConfig.load(path: try Fixtures.plan("hosts/lab-host.yaml")) }

    @Test func instructionsWithoutAHostFile() throws {
        let plan = try sample()
        let text = PlanInstructionsRenderer.render(plan)
        try expectGolden(text, "plan/sample-show.md")
        #expect(text == PlanInstructionsRenderer.render(plan), "deterministic")
        // Placeholders stand in for what a host file would say.
        #expect(text.contains("GUEST_KERNEL"))
        #expect(text.contains("PCI_gpu"))
        #expect(text.contains("GUEST_ADDRESS"))
    }

    @Test func instructionsWithAHostFile() throws {
        let plan = try sample()
        let text = PlanInstructionsRenderer.render(plan, host: try labHost(), hostFile: "lab-host.yaml")
        try expectGolden(text, "plan/sample-show-with-host.md")
        #expect(!text.contains("GUEST_KERNEL"))
        #expect(!text.contains("PCI_gpu"))
        #expect(!text.contains("GUEST_ADDRESS"))
        #expect(text.contains("xl pci-assignable-add 0000:01:00.0"))
        #expect(text.contains("ping -c 3 192.168.100.50"))
    }

    /// Every case is there under its area, and every step is one numbered line, in order.
    @Test func instructionsHaveEveryCaseAndStep() throws {
        let plan = try sample()
        let lines = PlanInstructionsRenderer.render(plan).split(separator: "\n", omittingEmptySubsequences: false)
        #expect(
            lines.filter { $0.hasPrefix("## ") }.map { String($0.dropFirst(3)) } == ["Before you start"] + plan.areas
        )
        #expect(lines.filter { $0.hasPrefix("### ") }.map { String($0.dropFirst(4)) } == plan.cases.map(\.title))
        let numbered = lines.filter { $0.first?.isNumber == true && $0.contains(". ") }
        #expect(numbered.count == plan.cases.reduce(0) { $0 + $1.steps.count })
        #expect(
            lines.filter { $0.hasPrefix("> **Known issue**") }.count
                == plan.cases.reduce(0) { $0 + $1.knownIssues.count }
        )
    }

    @Test func listing() throws {
        let plan = try sample()
        let text = PlanListing.render(plan)
        try expectGolden(text, "plan/sample-list.txt")
        let lines = text.split(separator: "\n")
        #expect(lines.count == plan.cases.count + 2)
        #expect(lines[1] == "ID\tAREA\tBACKENDS\tNEEDS")
        for (line, testCase) in zip(lines.dropFirst(2), plan.cases) {
            let columns = line.split(separator: "\t", omittingEmptySubsequences: false)
            #expect(columns.count == 4, "\(line)")
            #expect(columns.first.map(String.init) == testCase.id)
        }
    }

    /// The real plans render too (not golden: they change with each RC).
    @Test(arguments: ["rc6", "smoke"]) func realPlansRender(_ name: String) throws {
        let (plan, _) = try PlanLoader().load(path: Fixtures.realPlan(name))
        let text = PlanInstructionsRenderer.render(plan, host: try labHost())
        for testCase in plan.cases { #expect(text.contains("id `\(testCase.id)`")) }
        #expect(PlanListing.render(plan).split(separator: "\n").count == plan.cases.count + 2)
    }
}
