import Foundation
import XentestPlan
import XentestSupport

/// Cases that ran on the host between two readings of its inventory: from a moment no case ran to the next.
struct HostHealthWindow: Sendable {
    /// The reading before the first of them started.
    var before: InventoryReading
    /// How many cases have started in it.
    var started = 0
    /// Those that have ended, awaiting their verdicts.
    var cases: [Runner.CaseRun] = []
}

/// The host-health check around every case, as OSSTest's `ts-leak-check`: what the case left behind after its
/// teardown is an error; a warning the hypervisor or dom0 logged during it is a failure.
extension Runner {
    /// What the check found: a leak (the case errors), or problem lines in the logs (a passing case fails).
    struct HostHealthCheck: Sendable {
        var leak: String?
        var logged: String?
    }

    /// Reads the inventory again after the window's last teardown, judges each of its cases against the reading
    /// before the first, and gives each its verdict, in plan order. Interrupted, it judges nothing more.
    func closeWindow(_ window: HostHealthWindow, rules: HostHealthRules) async {
        let cases = window.cases.sorted { $0.order < $1.order }
        guard !Task.isCancelled else {
            for run in cases { finish(run, health: nil, checkSeconds: 0) }
            return
        }
        let start = Date()
        let after = await Task { await backend.readInventory() }.value
        let owners = cases.map { (id: $0.testCase.id, domains: guestInstances(for: $0.testCase).map(\.domainName)) }
        for run in cases {
            let companions = cases.map(\.testCase.id).filter { $0 != run.testCase.id }
            let check = judgeHostHealth(
                run,
                before: window.before,
                after: after,
                rules: rules,
                owners: owners,
                companions: companions,
                since: start
            )
            finish(run, health: check, checkSeconds: Date().timeIntervalSince(start))
        }
    }

    /// Compares the readings for one case of the window; the comparison is a teardown step of the case (`host
    /// health`) with both readings as evidence. A leaked object that names a domain of another case of the window is
    /// that case's; one that names none is every case's. A problem line in the logs is every case's, and a case's
    /// own `host-log-lacks` patterns are its own.
    func judgeHostHealth(
        _ run: CaseRun,
        before: InventoryReading,
        after: InventoryReading?,
        rules: HostHealthRules,
        owners: [(id: String, domains: [String])],
        companions: [String],
        since start: Date
    ) -> HostHealthCheck {
        let id = run.testCase.id
        var check = HostHealthCheck()
        var message: String?
        let evidence = before.evidence + (after?.evidence ?? [])
        let together = companions.isEmpty ? "" : " (it ran together with \(companions.joined(separator: ", ")))"
        if let old = before.inventory, let new = after?.inventory {
            let leaks = new.leaked(since: old)
                .compactMap { kind, names -> String? in
                    let kept = names.filter {
                        !rules.ignores(kind: kind, name: $0) && [nil, id].contains(Self.owner(of: $0, among: owners))
                    }
                    return kept.isEmpty ? nil : "\(kind): \(kept.joined(separator: ", "))"
                }
            if !leaks.isEmpty { check.leak = "teardown left behind \(leaks.joined(separator: "; "))" + together }
            let lines =
                HostInventory.newLines(old.hypervisorLog, new.hypervisorLog)
                + HostInventory.newLines(old.kernelLog, new.kernelLog)
            let lacks = run.testCase.hostLogLacks
            let problems = lines.filter { line in
                (HostInventory.isProblem(line) || lacks.contains { $0.matches(line) }) && !rules.isBenign(line)
            }
            if !problems.isEmpty {
                check.logged =
                    "the host logged during the case" + together + ": " + problems.prefix(5).joined(separator: " | ")
                    + (problems.count > 5 ? " (and \(problems.count - 5) more)" : "")
            }
            let found = [check.leak, check.logged].compactMap { $0 }
            message = found.isEmpty ? nil : found.joined(separator: "; ")
        } else {
            message = "no inventory to compare: " + (before.problem ?? after?.problem ?? "the second reading failed")
            logger.warning("host health of \(id) not checked: \(message ?? "")")
        }
        emit(
            .stepEnded(
                caseID: id,
                step: StepResult(
                    index: run.nextIndex,
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

    /// The case whose domain `object` names (a domain, its xl.cfg, a disk image, a loop device's backing file),
    /// the longest name first (`xentest-r-a-b` is case `a-b`'s or guest `b` of case `a`, never `a`'s first guest);
    /// nil when it names none.
    static func owner(of object: String, among owners: [(id: String, domains: [String])]) -> String? {
        var best: (id: String, length: Int)?
        for owner in owners {
            for domain in owner.domains where domain.count > (best?.length ?? 0) {
                guard let range = object.range(of: domain) else { continue }
                // The name ends there (`NAME.cfg`, `NAME-disk0.raw`, `-name NAME `), and is not the start of a longer
                // domain name.
                let rest = object[range.upperBound...]
                let ends = rest.first.map { !($0.isLetter || $0.isNumber || $0 == "-") } ?? true
                if ends || rest.hasPrefix("-disk") { best = (owner.id, domain.count) }
            }
        }
        return best?.id
    }
}
