import XentestPlan
import XentestRun
import XentestSupport

/// `save`, `restore`, local `migrate` and `reboot` through xl, each checked by `GuestContinuity` against what the
/// guest itself says.
extension XLBackend {
    /// `xl save NAME FILE`: the file, beside the guest's xl.cfg, is on the ledger before it exists. xl destroys the
    /// domain once its state is saved.
    func save(_ step: inout XLStep) async throws -> ActionOutcome {
        let session = step.session
        session.record(.file(path: savePath(session.domainName)))
        return try await GuestContinuity.save(session, console: console(session)) { try await step.xlSucceeds(.save) }
    }

    /// `xl restore FILE`: the domain comes back under its name, with the config the save file carries.
    func restore(_ step: inout XLStep) async throws -> ActionOutcome {
        let session = step.session
        return try await GuestContinuity.restore(session, console: console(session)) {
            try await step.xlSucceeds(.restore)
        }
    }

    /// `xl migrate -s '' NAME 'xl migrate-receive'`, `times` times. While one runs, xl names the two copies
    /// `NAME--migratedaway` and `NAME--incoming`; both are on the ledger until the migration has ended, so a
    /// migration that fails half-way leaves neither behind.
    func migrate(times: Int, _ step: inout XLStep) async throws -> ActionOutcome {
        let session = step.session
        let copies = ["--migratedaway", "--incoming"].map { LedgerEntry.domain(name: session.domainName + $0) }
        for copy in copies { session.record(copy) }
        let outcome = try await GuestContinuity.migrate(session, times: times, console: console(session)) {
            try await step.xlSucceeds(.migrate(times: 1))
        }
        if outcome.succeeded { for copy in copies { session.forget(copy) } }
        return outcome
    }

    /// `xl reboot -w NAME`: returns once the old boot has shut down; xl's monitor starts it again (`on_reboot =
    /// "restart"`), and `GuestContinuity` waits for the new boot to answer.
    func reboot(_ step: inout XLStep) async throws -> ActionOutcome {
        let session = step.session
        return try await GuestContinuity.reboot(session, console: console(session)) {
            try await step.xlSucceeds(.reboot)
        }
    }

    /// Where `save` writes the state of the guest `domainName`.
    func savePath(_ domainName: String) -> String { configDirectory + "/" + domainName + ".save" }
}
