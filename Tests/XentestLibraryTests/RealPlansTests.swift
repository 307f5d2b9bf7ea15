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

/// The plans the project ships, found from this file: the repository root is three levels up.
@Suite("The real plans in testplans/") struct RealPlansTests {
    func load(_ name: String) throws -> Plan {
        let path = Fixtures.realPlan(name)
        do {
            let (plan, warnings) = try PlanLoader().load(path: path)
            #expect(warnings.isEmpty, "\(warnings.map(\.description))")
            return plan
        } catch {
            Issue.record("\(name) does not load:\n\(error)")
            throw error
        }
    }

    @Test func everyShippedPlanLoads() throws {
        let folder = Fixtures.repositoryRoot.appendingPathComponent("testplans").path
        let names = try FileManager.default.contentsOfDirectory(atPath: folder).filter { $0.hasSuffix(".yaml") }
            .map { String($0.dropLast(5)) }.sorted()
        #expect(names.contains("rc6"))
        #expect(names.contains("smoke"))
        for name in names {
            let plan = try load(name)
            #expect(plan.name == name)
            #expect(!plan.cases.isEmpty)
        }
    }

    @Test func rc6CoversEveryArea() throws {
        let plan = try load("rc6")
        #expect(plan.release == "4.3.0-rc6")
        for area in ["pci-passthrough", "cpu-hotplug", "network", "lifecycle"] {
            #expect(plan.cases.contains { $0.area == area }, "rc6 has no \(area) case")
        }
        #expect(Set(plan.cases.map(\.id)).count == plan.cases.count)
    }

    /// The RC6 call for testing asked for large-BAR graphics cards, HVM vCPU hot-add and hot-unplug.
    @Test func rc6HasTheHeadlineCases() throws {
        let plan = try load("rc6")
        #expect(plan.cases.contains { $0.requirements.contains(.largeBarDevice(role: "gpu")) })
        let hvmHotplug = plan.cases.filter { $0.area == "cpu-hotplug" && $0.guest?.type == .hvm }
        #expect(hvmHotplug.contains { $0.steps.contains { if case .vcpuSet = $0.action { true } else { false } } })
        // libxl does not hot-unplug HVM vCPUs (4.3 then, 4.17 in the lab now): the case carries a known issue for Xen.
        let unplug = hvmHotplug.filter { testCase in
            guard let guest = testCase.guest else { return false }
            return testCase.steps.contains { if case .vcpuSet(let n) = $0.action { n < guest.vcpus } else { false } }
        }
        #expect(!unplug.isEmpty)
        for testCase in unplug {
            let onXen = testCase.knownIssues.filter { $0.drivers.contains(.xen) }
            #expect(onXen.contains { $0.xen == nil || $0.xen?.contains(Version([4, 3])) == true }, "\(testCase.id)")
        }
    }

    @Test func smokeIsASubsetOfRc6WithIdenticalSteps() throws {
        let rc6 = try load("rc6")
        let smoke = try load("smoke")
        #expect(smoke.release == rc6.release)
        #expect(!smoke.cases.isEmpty)
        #expect(smoke.cases.count < rc6.cases.count)
        // Every area but the tester's own guests, which CI's hosts do not have.
        #expect(
            Set(smoke.areas) == Set(rc6.areas).subtracting(["own-configuration"]),
            "smoke has a case or two of every area"
        )
        for smokeCase in smoke.cases {
            guard let full = rc6.testCase(smokeCase.id) else {
                Issue.record("smoke case \(smokeCase.id) is not in rc6")
                continue
            }
            #expect(smokeCase.title == full.title)
            #expect(smokeCase.area == full.area)
            #expect(smokeCase.guest == full.guest, "\(smokeCase.id)")
            #expect(smokeCase.requirements == full.requirements, "\(smokeCase.id)")
            #expect(smokeCase.backends == full.backends, "\(smokeCase.id)")
            #expect(smokeCase.knownIssues == full.knownIssues, "\(smokeCase.id)")
            #expect(smokeCase.steps.count == full.steps.count, "\(smokeCase.id)")
            for (mine, theirs) in zip(smokeCase.steps, full.steps) {
                #expect(mine.action == theirs.action, "\(smokeCase.id)")
                #expect(mine.expectation == theirs.expectation, "\(smokeCase.id)")
                #expect(mine.timeout == theirs.timeout, "\(smokeCase.id)")
                #expect(mine.retryFor == theirs.retryFor, "\(smokeCase.id)")
                #expect(mine.note == theirs.note, "\(smokeCase.id)")
            }
        }
    }

    /// With a host file that offers every role the plan names, every guest renders without placeholders.
    @Test func rc6GuestsRenderCompletelyWithAFullHostFile() throws {
        let plan = try load("rc6")
        let host = try HostConfig.load(path: try Fixtures.plan("hosts/lab-host.yaml"))
        for testCase in plan.cases {
            guard let spec = testCase.guest else { continue }
            let guest = GuestInstance(domainName: "xentest-run-\(testCase.id)", spec: spec, host: host)
            let config = XLConfigRenderer.render(guest)
            #expect(!config.contains("PCI_"), "\(testCase.id)")
            #expect(!config.contains("GUEST_KERNEL"), "\(testCase.id)")
            #expect(!config.contains("BRIDGE"), "\(testCase.id)")
            for dialect in [HypervisorDriver.xen, .qemu, .test] {
                let xml = DomainXMLRenderer.render(guest, dialect: dialect)
                #expect(xml.components(separatedBy: "<hostdev ").count - 1 == spec.pci.count, "\(testCase.id)")
                #expect(xml.components(separatedBy: "<interface ").count - 1 == spec.nics, "\(testCase.id)")
            }
        }
    }
}
