import Foundation
import Libvirt
import XentestPlan
import XentestRun
import XentestSupport

extension LibvirtBackend {
    /// The case's guest's console through libvirt's stream; the domain is looked up when a command is run.
    func console(_ session: CaseSession) -> any GuestConsole { DomainConsole(backend: self, name: session.domainName) }
}

/// A guest's console by domain name: looks the domain up, then runs the command through `LibvirtGuestConsole`;
/// the lookup is the first call of the evidence.
private struct DomainConsole: GuestConsole {
    let backend: LibvirtBackend
    let name: String

    func exec(_ command: String) async throws -> GuestConsoleOutcome {
        try await withConsole { try await $0.exec(command) }
    }

    func watch(for pattern: PlanPattern) async throws -> GuestConsoleOutcome {
        try await withConsole { try await $0.watch(for: pattern) }
    }

    private func withConsole(_ body: (LibvirtGuestConsole) async throws -> GuestConsoleOutcome) async throws
        -> GuestConsoleOutcome
    {
        let calls = CallLog()
        switch try await backend.attempt({ [backend, name] in try backend.lookup(name, calls) }) {
        case .failure(let error):
            return GuestConsoleOutcome(
                reached: false,
                status: -1,
                output: "",
                problem: error.message,
                evidence: calls.evidence
            )
        case .success(let domain):
            var outcome = try await body(LibvirtGuestConsole(domain: domain, closings: backend.consoleClosings))
            outcome.evidence = calls.evidence + outcome.evidence
            return outcome
        }
    }
}
