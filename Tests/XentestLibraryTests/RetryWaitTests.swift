import Foundation
import Synchronization
import Testing
@testable import XentestBackendLibvirt
@testable import XentestPlan
@testable import XentestRun
@testable import XentestSupport

@Suite("Retried steps wait on the backend's events") struct RetryWaitTests {
    /// Runs `steps` on one guest of the test driver with events; the case's last step and the waits asked for.
    static func lastStep(_ steps: String, wake: Duration) async throws -> (StepResult, [(String, Int)]) {
        let plan = try inlinePlan(
            guestsYAML + """

                cases:
                  - id: one
                    title: retried
                    area: cpu-hotplug
                    guest: g
                    steps:
                      - create:
                \(steps)
                """
        )
        // An event source for vcpu-list only, which the test driver has none of: each wait is recorded and ends
        // after `wake`, as if a change had come.
        let waits = Mutex<[(String, Int)]>([])
        let backend = TestDriverWithHooks(
            try privateTestHost(),
            awaitChange: { action, seconds in
                guard case .vcpuList = action else { return false }
                waits.withLock { $0.append((action.label, seconds)) }
                try await Task.sleep(for: wake)
                return true
            }
        )
        let result = try #require(try await backend.run(plan).first)
        return (try #require(result.steps.last), waits.withLock { $0 })
    }

    @Test("between attempts the runner waits on the backend's event, at most 2 s and the window left, not a pause")
    func waitsOnEvents() async throws {
        let (step, waits) = try await Self.lastStep(
            """
                  - vcpu-list:
                    expect: {online-vcpus: 3}
                    retry-for: 3s
            """,
            wake: .milliseconds(300)
        )
        #expect(step.status == .fail && step.label == "vcpu-list", "\(step.label): \(step.message ?? "")")
        try #require(!waits.isEmpty, "the runner asked the backend to wait on its event")
        #expect(waits.allSatisfy { $0.0 == "vcpu-list" })
        #expect(waits.first?.1 == 2, "the first wait is capped at 2 s of the 3 s window: \(waits)")
        #expect(waits.allSatisfy { (1...2).contains($0.1) }, "never past the window, never under a second: \(waits)")
        #expect(waits.map(\.1) == waits.map(\.1).sorted(by: >), "the bound shrinks with the window: \(waits)")
        // Each wait ended with the (simulated) event, and the step was tried again at once: one attempt a wait,
        // plus the first, plus the pauses of the last second, where a whole-second watch no longer fits.
        #expect(step.attempts > waits.count, "\(step.attempts) attempts, \(waits.count) waits")
        #expect(step.durationSeconds >= 3, "tried until the window closed: \(step.durationSeconds) s")
    }

    @Test("a step met at once waits on nothing; one whose action has no event polls as before") func noEventPolls()
        async throws
    {
        let (listed, waits) = try await Self.lastStep(
            """
                  - vcpu-list:
                    expect: {online-vcpus: 1}
                    retry-for: 5s
                  - list:
                    expect: {state: paused}
                    retry-for: 1s
            """,
            wake: .milliseconds(300)
        )
        #expect(listed.label == "list" && listed.status == .fail, "\(listed.label): \(listed.message ?? "")")
        #expect(listed.attempts >= 3, "polled: \(listed.attempts) attempts")
        #expect(waits.isEmpty, "no wait for a vcpu-list met at once, nor for list (no event): \(waits)")
    }
}
