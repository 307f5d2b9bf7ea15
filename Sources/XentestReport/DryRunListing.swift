import XentestPlan
import XentestRun
import XentestSupport

/// `xentest run --dry-run`: what would run and what would be skipped, and why; nothing is created.
public enum DryRunListing {
    /// The listing of a prepared run.
    public static func render(_ prepared: PreparedRun) -> String {
        let runPlan = prepared.runPlan
        let facts = prepared.facts
        var lines = [
            "Plan \(runPlan.plan.name) (\(runPlan.plan.release)) on \(facts.toolstack)"
                + (facts.libvirtURI.map { " (\($0))" } ?? "") + "; host file: \(prepared.host.source)"
        ]
        let jobs = prepared.runner.jobs
        if jobs > 1 {
            let budget = CaseAdmission(jobs: jobs, facts: facts)
            let memory = budget.memoryMiB.map { "\($0) MiB free" } ?? "memory not budgeted"
            let cpus = budget.cpus > 0 ? "\(budget.cpus) CPUs" : "CPUs not budgeted"
            lines.append(
                "--jobs \(jobs): cases start in plan order, up to \(jobs) at once, each when what it holds is free "
                    + "(host: \(memory), \(cpus))"
            )
        }
        var toRun = 0
        for entry in runPlan.entries {
            switch entry.decision {
            case .run:
                toRun += 1
                let guests = prepared.runner.guestInstances(for: entry.testCase).map(\.domainName)
                let named =
                    guests.isEmpty ? "" : "  guest\(guests.count > 1 ? "s" : "") " + guests.joined(separator: ", ")
                lines.append("run   \(entry.testCase.id)\(named)")
                if jobs > 1 {
                    let claims = CaseClaims(entry.testCase, makesOwnNetwork: prepared.runner.backend.makesOwnNetwork)
                    lines.append("        holds: \(claims.summary)")
                }
                for step in entry.testCase.steps {
                    let on = step.guest.map { " (on \($0))" } ?? ""
                    lines.append("        \(step.action.label)\(on): expect \(step.expectation)")
                }
            case .skip(let reasons): lines.append("skip  \(entry.testCase.id): \(reasons.joined(separator: "; "))")
            }
        }
        lines.append("\(toRun) to run, \(runPlan.entries.count - toRun) to skip. Dry run: nothing was created.")
        return lines.joined(separator: "\n") + "\n"
    }
}
