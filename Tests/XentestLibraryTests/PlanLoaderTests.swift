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

@Suite("Plan loader: what a valid plan becomes") struct PlanLoaderTests {
    func sample() throws -> Plan {
        let outcome = try loadFixturePlan("valid/sample.yaml")
        #expect(outcome.lines.isEmpty, "a valid plan has no diagnostics, not even warnings")
        return try #require(outcome.plan, "\(outcome.lines)")
    }

    @Test func planFields() throws {
        let plan = try sample()
        #expect(plan.name == "sample")
        #expect(plan.path.hasSuffix("/plans/valid/sample.yaml"))
        #expect(plan.release == "4.3.0-rc6")
        #expect(plan.title == "Sample plan")
        #expect(
            plan.summary
                == "Checks every kind of guest, step and expectation, with a known issue and explicit requirements.\n"
        )
        #expect(plan.cases.map(\.id) == ["lifecycle-basic", "network-hotplug", "pci-gpu", "cpu-too-many"])
        #expect(plan.areas == ["lifecycle", "network", "pci-passthrough", "cpu-hotplug"])
        #expect(
            plan.testCase("pci-gpu")?.title
                == "Boot an HVM guest with a large-BAR graphics card, detach and re-attach it"
        )
        #expect(plan.testCase("nope") == nil)
    }

    @Test func defaultsAndExplicitValues() throws {
        let plan = try sample()
        let basic = try #require(plan.testCase("lifecycle-basic"))
        #expect(basic.tags == ["quick"])
        #expect(basic.description == nil)
        #expect(basic.backends == [.libvirt, .xl], "all backends, sorted, when none are named")
        #expect(basic.timeout == .seconds(600))
        #expect(basic.knownIssues.isEmpty)
        #expect(basic.requirements.isEmpty)
        #expect((basic.location.line, basic.location.column) == (22, 5))
        #expect(
            basic.steps.map(\.action) == [
                .create(paused: true), .list, .unpause, .waitForState(.running), .shutdown, .list,
            ]
        )
        #expect(
            basic.steps.map(\.expectation) == [
                .succeeds, .state(.paused), .succeeds, .succeeds, .succeeds, .state(.gone),
            ]
        )
        // Per-action default timeouts, and an explicit one.
        #expect(basic.steps.map(\.timeout.milliseconds) == [120_000, 30_000, 30_000, 90_000, 120_000, 30_000])
        #expect(basic.steps.map(\.location.line) == [28, 29, 31, 32, 34, 35])

        let guest = try #require(basic.guest)
        #expect(
            guest
                == GuestSpec(
                    name: "pv-small",
                    type: .pv,
                    memory: MemorySize(mebibytes: 256),
                    vcpus: 1,
                    maxvcpus: 1,
                    nics: 0,
                    pci: [],
                    passthrough: false
                )
        )
    }

    @Test func stepsOptionsAndExpectations() throws {
        let network = try #require(try sample().testCase("network-hotplug"))
        #expect(network.backends == [.libvirt])
        #expect(network.timeout == PlanDuration(milliseconds: 600_000))
        #expect(network.description == "The guest starts with two vifs; a third is attached and detached again.\n")
        #expect(network.guest?.type == .pvh)
        #expect(network.guest?.memory == MemorySize(mebibytes: 512))
        #expect((network.guest?.vcpus, network.guest?.maxvcpus, network.guest?.nics) == (2, 4, 2))
        #expect(
            network.steps.map(\.action) == [
                .create(paused: false), .networkList, .networkAttach, .networkList, .ping(.guest), .ping(.host),
                .networkDetach, .vcpuSet(4), .vcpuList, .guestExec("cat /sys/devices/system/cpu/online"),
                .xenstoreRead("/local/domain/{domid}/name"), .destroy,
            ]
        )
        let onlineCPUs = try PlanPattern("^0-3$")
        #expect(
            network.steps.map(\.expectation) == [
                .succeeds, .count(2), .succeeds, .count(3), .succeeds, .succeeds, .succeeds, .succeeds, .onlineVcpus(4),
                .output(exitStatus: 0, matching: onlineCPUs), .equals("xentest-network-hotplug"), .succeeds,
            ]
        )
        #expect(network.steps[3].retryFor == .seconds(10))
        #expect(network.steps.filter { $0.retryFor != nil }.count == 1)
        #expect(network.steps[5].note == "The addresses come from the host file.")
        #expect(network.steps[4].timeout == .seconds(60), "pings default to 60s")
        #expect(network.requirements == [.pvh, .bridge, .testGuest])
    }

    @Test func requirementsExplicitFirstThenImplied() throws {
        let gpu = try #require(try sample().testCase("pci-gpu"))
        #expect(
            gpu.requirements == [
                .largeBarDevice(role: "gpu"), .minFreeMemory(MemorySize(mebibytes: 2048)), .minHostCPUs(4),
                .xenVersion(try #require(VersionRange.parse(">= 4.3").parsedValue)), .hvm, .bridge, .iommu,
                .pciDevice(role: "gpu"),
            ]
        )
        #expect(
            gpu.requirements.map(\.description) == [
                "large-bar-device: gpu", "min-free-memory: 2G", "min-host-cpus: 4", "xen: >= 4.3", "hvm", "bridge",
                "iommu", "pci-device: gpu",
            ]
        )
        #expect(gpu.tags == ["large-bar", "graphics"])
        #expect(gpu.guest?.passthrough == true, "a guest with PCI devices can have more hot-plugged")
        #expect(gpu.guest?.pci == ["gpu"])
        let issue = try #require(gpu.knownIssues.first)
        #expect(gpu.knownIssues.count == 1)
        #expect(issue.summary == "Large BARs above 4 GiB fail to map")
        #expect(issue.link == "https://lists.xenproject.org/archives/html/xen-devel/2013-06/msg00000.html")
        #expect(issue.xen?.contains(Version([4, 3, 1])) == true)
        #expect(issue.xen?.contains(Version([4, 4])) == false)
        #expect(issue.backends == [.xl])
        #expect(issue.drivers == [.xen])
    }

    @Test func inlineGuestAndExpectedFailures() throws {
        let cpu = try #require(try sample().testCase("cpu-too-many"))
        #expect(cpu.guest?.name == "inline")
        #expect(cpu.guest?.maxvcpus == 2)
        #expect(cpu.guest?.vcpus == 1)
        let refusal = try PlanPattern("maxcpus|exceeds")
        #expect(
            cpu.steps.map(\.expectation) == [.succeeds, .fails(matching: refusal), .fails(matching: nil), .succeeds]
        )
    }

    @Test func actionLabelsAndExpectationTexts() throws {
        #expect(Action.vcpuSet(2).label == "vcpu-set 2")
        #expect(Action.create(paused: true).label == "create paused")
        #expect(Action.create(paused: false).label == "create")
        #expect(Action.pciAttach(role: "nic").label == "pci-attach nic")
        #expect(Expectation.onlineVcpus(1).description == "1 vCPU online")
        #expect(Expectation.onlineVcpus(4).description == "4 vCPUs online")
        #expect(Expectation.count(1).description == "lists 1 entry")
        #expect(Expectation.count(3).description == "lists 3 entries")
        #expect(
            Expectation.fails(matching: try PlanPattern("x|y")).description == "fails with a message matching /x|y/"
        )
        #expect(Expectation.output(exitStatus: 1, matching: nil).description == "exits 1")
    }

    @Test("for-each: one case per guest type, ids ID.TYPE, each variant with its own prerequisites")
    func forEachExpands() throws {
        let outcome = try loadPlanText(
            """
            release: 4.3.0-rc6
            title: Variants
            cases:
              - id: migrate
                title: Migrate
                area: general
                guest: {type: pvh, memory: 128M}
                for-each: {type: [pv, pvh, hvm]}
                steps:
                  - create:
                  - migrate: localhost
                  - destroy:
            """
        )
        let plan = try #require(outcome.plan, "\(outcome.lines)")
        #expect(plan.cases.map(\.id) == ["migrate.pv", "migrate.pvh", "migrate.hvm"])
        #expect(plan.cases.map(\.title) == ["Migrate (PV)", "Migrate (PVH)", "Migrate (HVM)"])
        #expect(plan.cases.map { $0.guest?.type } == [.pv, .pvh, .hvm])
        #expect(plan.cases.allSatisfy { $0.guest?.memory == MemorySize(mebibytes: 128) })
        #expect(plan.cases.map(\.requirements) == [[.shadowPaging], [.pvh], [.hvm]])
    }

    @Test("vcpu-pin: the action, its label, and the host CPUs it implies (a larger stated requirement covers it)")
    func vcpuPinImpliesHostCPUs() throws {
        let outcome = try loadPlanText(
            """
            release: 4.3.0-rc6
            title: Pins
            guests:
              g: {type: pv, vcpus: 2, maxvcpus: 2}
            cases:
              - id: pin
                title: Pin
                area: general
                guest: g
                steps:
                  - create:
                  - vcpu-pin: {vcpu: 1, cpus: '0,3'}
                  - vcpu-pin: {vcpu: 1, cpus: all}
                  - vcpu-list:
                    expect: {affinity: {vcpu: 1, cpus: 0-1}}
              - id: stated
                title: Stated
                area: general
                guest: g
                requires: [{min-host-cpus: 8}]
                steps:
                  - create:
                  - vcpu-pin: {vcpu: 0, cpus: 5}
            """
        )
        let plan = try #require(outcome.plan, "\(outcome.lines)")
        let steps = plan.cases[0].steps.dropFirst().map { $0 }
        #expect(steps[0].action == .vcpuPin(vcpu: 1, cpus: CPUSet(cpus: [0, 3])))
        #expect(steps.map(\.action.label) == ["vcpu-pin 1 0,3", "vcpu-pin 1 all", "vcpu-list"])
        #expect(steps[2].expectation == .affinity(vcpu: 1, cpus: CPUSet(cpus: [0, 1])))
        #expect(plan.cases[0].requirements == [.minHostCPUs(4)])
        #expect(plan.cases[1].requirements == [.minHostCPUs(8)])
    }

    @Test("disks: a guest's own and hot-plugged ones, their labels, and the image formats they imply")
    func disksImplyTheirImageFormats() throws {
        let outcome = try loadPlanText(
            """
            release: 4.3.0-rc6
            title: Disks
            guests:
              g: {type: pv, disks: [64M, {size: 1G, format: qcow2}]}
            cases:
              - id: disks
                title: Disks
                area: general
                guest: g
                steps:
                  - create:
                  - block-attach: 32M
                  - block-attach: {size: 16M, format: qcow2}
                  - block-list:
                    expect: {count: 4}
                  - block-detach:
                  - block-detach:
              - id: raw
                title: Raw
                area: general
                guest: {type: hvm}
                steps:
                  - create:
                  - block-attach: {size: 2G}
            """
        )
        let plan = try #require(outcome.plan, "\(outcome.lines)")
        let guest = try #require(plan.cases[0].guest)
        #expect(
            guest.disks == [
                DiskSpec(size: MemorySize(mebibytes: 64)), DiskSpec(size: MemorySize(mebibytes: 1024), format: .qcow2),
            ]
        )
        let steps = plan.cases[0].steps.dropFirst().map { $0 }
        #expect(steps[1].action == .blockAttach(DiskSpec(size: MemorySize(mebibytes: 16), format: .qcow2)))
        #expect(
            steps.map(\.action.label) == [
                "block-attach 32M", "block-attach 16M qcow2", "block-list", "block-detach", "block-detach",
            ]
        )
        #expect(steps[2].expectation == .count(4))
        #expect(plan.cases[0].requirements == [.diskFormat(.raw), .diskFormat(.qcow2)])
        #expect(plan.cases[1].requirements == [.hvm, .diskFormat(.raw)])
        #expect(plan.cases[1].steps[1].timeout == .seconds(60))
    }

    /// Every action name parses to an action of that name, and back.
    @Test func everyActionNameRoundTrips() throws {
        var steps = ""
        let values: [ActionName: String] = [
            .vcpuSet: "1", .pciAssignableAdd: "nic", .pciAssignableRemove: "nic", .pciAttach: "nic", .pciDetach: "nic",
            .waitForState: "running", .guestExec: "true", .ping: "guest", .xenstoreRead: "/local/domain/{domid}/name",
            .migrate: "localhost", .memSet: "192M", .memMax: "320M", .vcpuPin: "{vcpu: 0, cpus: 1}",
            .blockAttach: "64M", .waitForConsole: "'login:'", .stayUp: "5s", .cdInsert: "32M",
        ]
        for action in ActionName.allCases where ![.create, .destroy, .shutdown].contains(action) {
            steps += "      - \(action.rawValue): \(values[action] ?? "")\n"
        }
        let outcome = try loadPlanText(
            """
            release: 4.3.0-rc6
            title: Every action
            cases:
              - id: every-action
                title: Every action
                area: lifecycle
                guest: {type: hvm, passthrough: true, cdrom: 16M}
                steps:
                  - create:
                  - network-attach:
            \(steps)      - shutdown:
                  - create:
                  - destroy:
            """
        )
        let plan = try #require(outcome.plan, "\(outcome.lines)")
        let names = plan.cases[0].steps.map(\.action.name)
        #expect(Set(names) == Set(ActionName.allCases))
        for step in plan.cases[0].steps {
            #expect(step.action.label.hasPrefix(step.action.name.rawValue))
            // Messages interpolate the name: it must read as plans write it (`vcpu-set`, not `vcpuSet`).
            #expect("\(step.action.name)" == step.action.name.rawValue)
        }
    }
}
