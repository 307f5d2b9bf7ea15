import Foundation
import Libvirt
import Synchronization
import Testing
@testable import XentestBackendLibvirt
@testable import XentestPlan
@testable import XentestRun
@testable import XentestSupport

/// A teardown command that fails (dom0's `rm` was seen to segfault under load) is tried once more; one that fails
/// again makes the case an error naming both failures. On libvirt's real test driver, the failures made by a hook.
@Suite("Teardown tries a failed undo once more") struct TeardownRetryTests {
    static let plan = """
        release: test
        title: teardown
        cases:
          - id: one
            title: a guest created and left for teardown
            area: lifecycle
            guest: {type: pv}
            steps:
              - create:
        """

    /// A failure like the one seen, before the undo of the case's domain.
    struct Crashed: Error, CustomStringConvertible {
        var description: String { "rm -f /var/lib/xentest/x.cfg failed (exit 139): Segmentation fault" }
    }

    @Test("an undo that fails once is done on the second attempt: the case passes, the first failure is kept")
    func failsOnce() async throws {
        let backend = TestDriverWithHooks(
            try privateTestHost(),
            beforeUndo: { entry, attempt in if case .domain = entry, attempt == 1 { throw Crashed() } }
        )
        let result = try #require(try await backend.run(try inlinePlan(Self.plan)).first)
        #expect(result.status == .pass, "\(result.reason ?? "")")
        let teardown = try #require(result.teardown.first { $0.label.hasPrefix("teardown: domain") })
        #expect(teardown.status == .pass && teardown.attempts == 2)
        #expect(teardown.message?.contains("the first failed: rm -f") == true, "\(teardown.message ?? "")")
        #expect(try backend.inner.connection.domains().filter { $0.name.hasPrefix("xentest-") }.isEmpty)
    }

    @Test("an undo that fails twice is an error of the case naming both failures; nothing more is tried")
    func failsTwice() async throws {
        let attempts = Mutex(0)
        let backend = TestDriverWithHooks(
            try privateTestHost(),
            beforeUndo: { entry, _ in
                if case .domain = entry {
                    attempts.withLock { $0 += 1 }
                    throw Crashed()
                }
            }
        )
        let result = try #require(try await backend.run(try inlinePlan(Self.plan)).first)
        #expect(result.status == .error)
        #expect(result.reason?.contains("teardown of domain") == true, "\(result.reason ?? "")")
        let teardown = try #require(result.teardown.first { $0.label.hasPrefix("teardown: domain") })
        #expect(teardown.status == .error && teardown.attempts == 2)
        #expect(teardown.message?.contains("; again: rm -f") == true, "\(teardown.message ?? "")")
        #expect(attempts.withLock { $0 } == 2)
        // The guest the hook kept teardown from removing, removed here.
        for domain in try backend.inner.connection.domains() where domain.name.hasPrefix("xentest-") {
            try? domain.destroy()
            try? domain.undefine()
        }
    }
}
