import Foundation
import XentestPlan
import XentestSupport

/// The host-health check around every case, as OSSTest's `ts-leak-check`: what the case left behind after its
/// teardown is an error; a warning the hypervisor or dom0 logged during it is a failure.
extension Runner {
    /// What the check found: a leak (the case errors), or problem lines in the logs (a passing case fails).
    struct HostHealthCheck {
        var leak: String?
        var logged: String?
    }

    /// Reads the inventory again after teardown and compares it with `before`; the comparison is a teardown step of
    /// the case (`host health`) with both readings as evidence.
    func checkHostHealth(_ session: CaseSession, before: InventoryReading, rules: HostHealthRules, index: Int) async
        -> HostHealthCheck
    {
        let start = Date()
        let after = await Task { await backend.readInventory() }.value
        var check = HostHealthCheck()
        var message: String?
        let evidence = before.evidence + (after?.evidence ?? [])
        if let old = before.inventory, let new = after?.inventory {
            let leaks = new.leaked(since: old)
                .compactMap { kind, names -> String? in
                    let kept = names.filter { !rules.ignores(kind: kind, name: $0) }
                    return kept.isEmpty ? nil : "\(kind): \(kept.joined(separator: ", "))"
                }
            if !leaks.isEmpty { check.leak = "teardown left behind \(leaks.joined(separator: "; "))" }
            let lines =
                HostInventory.newLines(old.hypervisorLog, new.hypervisorLog)
                + HostInventory.newLines(old.kernelLog, new.kernelLog)
            let lacks = session.testCase.hostLogLacks
            let problems = lines.filter { line in
                (HostInventory.isProblem(line) || lacks.contains { $0.matches(line) }) && !rules.isBenign(line)
            }
            if !problems.isEmpty {
                check.logged =
                    "the host logged during the case: " + problems.prefix(5).joined(separator: " | ")
                    + (problems.count > 5 ? " (and \(problems.count - 5) more)" : "")
            }
            let found = [check.leak, check.logged].compactMap { $0 }
            message = found.isEmpty ? nil : found.joined(separator: "; ")
        } else {
            message = "no inventory to compare: " + (before.problem ?? after?.problem ?? "the second reading failed")
            logger.warning("host health of \(session.testCase.id) not checked: \(message ?? "")")
        }
        emit(
            .stepEnded(
                caseID: session.testCase.id,
                step: StepResult(
                    index: index,
                    label: "host health",
                    expected: "nothing left behind, no new warnings in the host's logs",
                    status: check.leak != nil ? .error : check.logged != nil ? .fail : .pass,
                    message: message,
                    durationSeconds: Date().timeIntervalSince(start),
                    attempts: 1,
                    evidence: evidence
                ),
                teardown: true
            )
        )
        return check
    }
}
