import Testing
@testable import XentestBackendLibvirt
@testable import XentestBackendXL
@testable import XentestPlan
@testable import XentestRun
@testable import XentestSupport

/// A backend that is only a toolstack and a hypervisor driver, what a known issue's scope and the default host
/// file look at. It performs nothing.
private final class ScopeOnlyBackend: Backend {
    let kind: BackendKind
    let driver: HypervisorDriver

    init(_ kind: BackendKind, _ driver: HypervisorDriver) {
        self.kind = kind
        self.driver = driver
    }

    func collectFacts(host: HostConfig) async throws -> HostFacts { throw BackendUnavailable("scope only") }
    func unsupportedReason(for action: Action, guest: GuestSpec?) -> String? { nil }
    func perform(_ action: Action, in session: CaseSession) async throws -> ActionOutcome {
        throw BackendUnavailable("scope only")
    }
    func undo(_ entry: LedgerEntry, in session: CaseSession) async throws -> [Evidence] {
        throw BackendUnavailable("scope only")
    }
    func leftovers() async throws -> [String] { [] }
    func removeLeftover(_ name: String) async throws -> [Evidence] { [] }
}

@Suite("Known issues scoped to hypervisor drivers") struct KnownIssueScopeTests {
    static let facts = HostFacts(
        hostname: "h",
        toolstack: "t",
        cpus: 4,
        totalMemoryMiB: 4096,
        freeMemoryMiB: 2048,
        runsGuestCode: true
    )

    /// The one case of a plan whose known issues are `knownIssues` (YAML).
    static func testCase(knownIssues: String) throws -> TestCase {
        let outcome = try loadPlanText(
            """
            release: 4.3.0-rc6
            title: Scopes
            cases:
              - id: scoped
                title: Scoped
                area: lifecycle
                known-issue: \(knownIssues)
                steps:
                  - pci-assignable-list:
            """
        )
        return try #require(outcome.plan?.cases.first, "\(outcome.lines)")
    }

    @Test("drivers: [qemu] applies on the qemu driver, not on xen (xl's or libvirt's) nor on test") func qemuOnly()
        throws
    {
        let testCase = try Self.testCase(knownIssues: "{summary: slow under TCG, drivers: [qemu]}")
        #expect(testCase.knownIssues.first?.drivers == [.qemu])
        func applies(_ backend: any Backend) -> Bool {
            RunPlanner.applicableKnownIssue(testCase, backend: backend, facts: Self.facts) != nil
        }
        #expect(applies(ScopeOnlyBackend(.libvirt, .qemu)))
        #expect(!applies(ScopeOnlyBackend(.libvirt, .xen)))
        #expect(!applies(ScopeOnlyBackend(.libvirt, .test)))
        #expect(!applies(XLBackend(runner: LocalCommandRunner())))
    }

    @Test("the first issue whose drivers include the run's applies; a driver named once or in a list alike")
    func firstMatchingDriver() throws {
        let testCase = try Self.testCase(
            knownIssues: "[{summary: on xen, drivers: xen}, {summary: elsewhere, drivers: [qemu, test, qemu]}]"
        )
        #expect(testCase.knownIssues.map(\.drivers) == [[.xen], [.qemu, .test]])
        func summary(_ backend: any Backend) -> String? {
            RunPlanner.applicableKnownIssue(testCase, backend: backend, facts: Self.facts)?.summary
        }
        #expect(summary(XLBackend(runner: LocalCommandRunner())) == "on xen")
        #expect(summary(ScopeOnlyBackend(.libvirt, .xen)) == "on xen")
        #expect(summary(ScopeOnlyBackend(.libvirt, .qemu)) == "elsewhere")
        #expect(summary(ScopeOnlyBackend(.libvirt, .test)) == "elsewhere")
    }

    @Test("libvirt's driver types (virConnectGetType) are the drivers of the same names; xl drives Xen")
    func backendsDrivers() throws {
        #expect(HypervisorDriver(libvirtDriverType: "Xen") == .xen)
        #expect(HypervisorDriver(libvirtDriverType: "QEMU") == .qemu)
        #expect(HypervisorDriver(libvirtDriverType: "TEST") == .test)
        #expect(HypervisorDriver(libvirtDriverType: "LXC") == nil)
        #expect(try privateTestHost().driver == .test)
        #expect(XLBackend(runner: LocalCommandRunner()).driver == .xen)
    }

    @Test("without a host file, only the test driver gets its built-in host") func defaultHostFile() throws {
        let onTest = try RunJob.hostConfig(nil, backend: ScopeOnlyBackend(.libvirt, .test))
        #expect(onTest.source == HostConfig.testDriverDefault.source)
        for driver in [HypervisorDriver.xen, .qemu] {
            let other = try RunJob.hostConfig(nil, backend: ScopeOnlyBackend(.libvirt, driver))
            #expect(other.source != HostConfig.testDriverDefault.source, "\(driver)")
            #expect(other.bridge == nil, "\(driver)")
        }
    }
}
