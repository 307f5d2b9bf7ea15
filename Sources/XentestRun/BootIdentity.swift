import Foundation
import XentestPlan
import XentestSupport

/// Which boot of the guest answers on its console: the kernel's `boot_id`, the same for as long as one boot lives
/// (through a save and restore, or a migration) and new after a reboot. How lifecycle steps know the guest lived
/// on, or came back, rather than taking the toolstack's word for it.
package enum BootIdentity {
    /// The file the id is read from.
    static let path = "/proc/sys/kernel/random/boot_id"

    /// The boot id the guest's shell reads, or why it could not be read; the console retries until the guest
    /// answers or the step's time limit ends the task.
    package static func read(on console: any GuestConsole) async throws -> Result<String, BootCheckFailure> {
        let outcome = try await console.exec("cat \(path)")
        guard outcome.reached else {
            return .failure(
                BootCheckFailure(
                    message: outcome.problem ?? "the guest's console did not answer",
                    evidence: outcome.evidence
                )
            )
        }
        let id = outcome.output.trimmingCharacters(in: .whitespacesAndNewlines)
        guard outcome.status == 0, !id.isEmpty else {
            return .failure(
                BootCheckFailure(
                    message: "the guest could not read its boot id (\(path)): exit \(outcome.status), '\(id)'",
                    evidence: outcome.evidence
                )
            )
        }
        return .success(id)
    }

    /// Succeeds when the guest answers as the boot `before` (it lived on); fails naming the new boot otherwise.
    package static func confirmSame(_ before: String, on console: any GuestConsole, after what: String) async throws
        -> Result<[Evidence], BootCheckFailure>
    {
        switch try await read(on: console) {
        case .failure(let failure): return .failure(failure.after(what))
        case .success(let id) where id == before: return .success([])
        case .success(let id):
            return .failure(
                BootCheckFailure(
                    message: "after \(what) the guest answered as another boot (boot id \(id), was \(before)): "
                        + "it started afresh instead of living on",
                    evidence: []
                )
            )
        }
    }

    /// Waits until the guest answers as a boot other than `before` (it rebooted); the step's time limit ends the
    /// wait. Keeps the evidence of the last read only.
    package static func awaitNew(after before: String, on console: any GuestConsole) async throws -> Result<
        String, BootCheckFailure
    > {
        while true {
            let outcome = try await console.exec("cat \(path)")
            let id = outcome.output.trimmingCharacters(in: .whitespacesAndNewlines)
            if outcome.reached, outcome.status == 0, !id.isEmpty, id != before { return .success(id) }
            try await Task.sleep(for: .seconds(1))
        }
    }
}

/// The guest could not tell which boot it is, or told another than it should.
package struct BootCheckFailure: Error, Sendable {
    /// What was seen, in words.
    package var message: String
    /// The console calls made.
    package var evidence: [Evidence]

    /// The same failure, saying after which step it was seen.
    func after(_ what: String) -> BootCheckFailure {
        BootCheckFailure(message: "after \(what): \(message)", evidence: evidence)
    }
}

/// `save`, `restore`, `migrate` and `reboot` on every toolstack: the toolstack's own call, and around it, when the
/// guest answers on its console, the check of which boot it is.
package enum GuestContinuity {
    /// Reads the boot id (kept for `restore`), then saves through `toolstack`.
    package static func save(
        _ session: CaseSession,
        console: any GuestConsole,
        _ toolstack: () async throws -> ActionOutcome
    ) async throws -> ActionOutcome {
        if session.guestAnswers {
            switch try await BootIdentity.read(on: console) {
            case .failure(let failure): return .failure("before the save: \(failure.message)", failure.evidence)
            case .success(let id): session.withState { $0.savedBootID = id }
            }
        }
        return try await toolstack()
    }

    /// Restores through `toolstack`, then checks the guest answers as the boot that was saved.
    package static func restore(
        _ session: CaseSession,
        console: any GuestConsole,
        _ toolstack: () async throws -> ActionOutcome
    ) async throws -> ActionOutcome {
        let outcome = try await toolstack()
        guard outcome.succeeded, session.guestAnswers, let saved = session.withState({ $0.savedBootID }) else {
            return outcome
        }
        return try await confirmed(outcome, same: saved, console: console, after: "the restore")
    }

    /// Migrates `times` times through `toolstack` (one migration a call), checking after each that the guest
    /// answers as the same boot.
    package static func migrate(
        _ session: CaseSession,
        times: Int,
        console: any GuestConsole,
        _ toolstack: () async throws -> ActionOutcome
    ) async throws -> ActionOutcome {
        var boot: String?
        if session.guestAnswers {
            switch try await BootIdentity.read(on: console) {
            case .failure(let failure): return .failure("before the migration: \(failure.message)", failure.evidence)
            case .success(let id): boot = id
            }
        }
        var evidence: [Evidence] = []
        for round in 1...times {
            var outcome = try await toolstack()
            let what = times == 1 ? "the migration" : "migration \(round) of \(times)"
            outcome.evidence = evidence + outcome.evidence
            guard outcome.succeeded else {
                outcome.errorMessage = times == 1 ? outcome.errorMessage : "\(what): \(outcome.errorMessage ?? "")"
                return outcome
            }
            if let boot {
                outcome = try await confirmed(outcome, same: boot, console: console, after: what)
                guard outcome.succeeded else { return outcome }
            }
            evidence = outcome.evidence
        }
        return .success(evidence)
    }

    /// Reads the boot id, reboots through `toolstack`, then waits until a new boot answers.
    package static func reboot(
        _ session: CaseSession,
        console: any GuestConsole,
        _ toolstack: () async throws -> ActionOutcome
    ) async throws -> ActionOutcome {
        guard session.guestAnswers else { return try await toolstack() }
        let before: String
        switch try await BootIdentity.read(on: console) {
        case .failure(let failure): return .failure("before the reboot: \(failure.message)", failure.evidence)
        case .success(let id): before = id
        }
        var outcome = try await toolstack()
        guard outcome.succeeded else { return outcome }
        switch try await BootIdentity.awaitNew(after: before, on: console) {
        case .failure(let failure):
            return .failure("after the reboot: \(failure.message)", outcome.evidence + failure.evidence)
        case .success(let id):
            outcome.observation = .text("boot id \(before) before, \(id) after")
            return outcome
        }
    }

    private static func confirmed(
        _ outcome: ActionOutcome,
        same boot: String,
        console: any GuestConsole,
        after what: String
    ) async throws -> ActionOutcome {
        switch try await BootIdentity.confirmSame(boot, on: console, after: what) {
        case .failure(let failure): return .failure(failure.message, outcome.evidence + failure.evidence)
        case .success(let more): return .success(outcome.evidence + more)
        }
    }
}
