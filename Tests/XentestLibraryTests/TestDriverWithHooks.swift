import Synchronization
import Testing
@testable import XentestBackendLibvirt
@testable import XentestPlan
@testable import XentestRun
@testable import XentestSupport

/// libvirt's real test driver, everything passed to it, with what it cannot do itself supplied by a test: host-health
/// readings (ones captured in the lab's dom0, handed out in turn), an event source for retried steps (xl's, a
/// xenstore watch, is tested through real xenstored in the lab), or an undo that fails first as dom0's `rm` once
/// did. What is tested is the runner's use of them.
final class TestDriverWithHooks: Backend {
    let inner: LibvirtBackend
    /// The host's readings, in turn, when `givesReadings`; else none (the test driver's own answer).
    let readings: Mutex<[HostInventory]>
    let givesReadings: Bool
    /// Waits on an event for a retried step's action, returning whether it did; nil: no event (the runner polls).
    let awaitChange: (@Sendable (Action, Int) async throws -> Bool)?
    /// Called before each undo with its attempt (1 for the first undo of an entry); throwing fails that undo.
    let beforeUndo: (@Sendable (LedgerEntry, Int) throws -> Void)?
    private let undoAttempts = Mutex<[String: Int]>([:])

    init(
        _ inner: LibvirtBackend,
        readings: [HostInventory]? = nil,
        awaitChange: (@Sendable (Action, Int) async throws -> Bool)? = nil,
        beforeUndo: (@Sendable (LedgerEntry, Int) throws -> Void)? = nil
    ) {
        self.inner = inner
        self.readings = Mutex(readings ?? [])
        self.givesReadings = readings != nil
        self.awaitChange = awaitChange
        self.beforeUndo = beforeUndo
    }

    var kind: BackendKind { inner.kind }
    var driver: HypervisorDriver { inner.driver }
    func collectFacts(host: HostConfig) async throws -> HostFacts { try await inner.collectFacts(host: host) }
    func unsupportedReason(for action: Action, guest: GuestSpec?) -> String? {
        inner.unsupportedReason(for: action, guest: guest)
    }
    func perform(_ action: Action, in session: CaseSession) async throws -> ActionOutcome {
        try await inner.perform(action, in: session)
    }
    func awaitChange(relevantTo action: Action, in session: CaseSession, atMost seconds: Int) async throws -> Bool {
        try await awaitChange?(action, seconds) ?? false
    }
    func undo(_ entry: LedgerEntry, in session: CaseSession) async throws -> [Evidence] {
        let attempt = undoAttempts.withLock { attempts in
            attempts["\(entry)", default: 0] += 1
            return attempts["\(entry)", default: 0]
        }
        try beforeUndo?(entry, attempt)
        return try await inner.undo(entry, in: session)
    }
    func leftovers() async throws -> [String] { try await inner.leftovers() }
    func removeLeftover(_ name: String) async throws -> [Evidence] { try await inner.removeLeftover(name) }
    func readInventory() async -> InventoryReading? {
        guard givesReadings else { return nil }
        let next = readings.withLock { $0.isEmpty ? nil : $0.removeFirst() }
        guard let next else {
            Issue.record("more inventory readings than the test gave")
            return nil
        }
        return InventoryReading(inventory: next, evidence: [], problem: nil)
    }

    /// Runs `plan`'s cases through this backend with the test driver's default host, `jobs` at a time, as run
    /// `runID`; each one's result.
    func run(_ plan: Plan, jobs: Int = 1, runID: String = "hooks") async throws -> [CaseResult] {
        try await TestDriverRun.run(plan, backend: inner, through: self, runID: runID, jobs: jobs).result.cases
    }
}
