import Foundation
import XentestPlan
import XentestRun
import XentestSupport

extension XLBackend {
    /// Creates a copy of the tester's own guest from its xl config (`from-host: ROLE`): reads the config in dom0,
    /// makes the copy (`XLOwnGuestCopy`), then each overlay and the copy's config, every one on the ledger before it
    /// exists, and `xl create`s the copy. The original config and images are only read. A disk that cannot be
    /// overlaid skips the case before anything is made.
    func createCopy(of role: String, _ action: Action, _ step: inout XLStep) async throws -> ActionOutcome {
        let session = step.session
        guard let guest = session.guest, case .xlConfig(let original)? = session.host.guests[role]?.source else {
            return .failure("the host file names no xl config for its guest '\(role)'", [])
        }
        let read = try await step.run(["cat", original], timeout: .seconds(30))
        guard read.succeeded else {
            return .failure("cannot read \(original), the host file's guest '\(role)': \(read.stderr)", step.calls)
        }
        let config: XLConfigFile
        do { config = try XLConfigFile.parse(read.stdout, file: original) } catch {
            let problems = error.diagnostics.map(\.description).joined(separator: "; ")
            return .failure("\(original) is not an xl config xentest can read: \(problems)", step.calls)
        }
        let copy: XLOwnGuestCopy
        do { copy = try XLOwnGuestCopy.make(config, for: guest, overlaysIn: configDirectory) } catch {
            throw CaseCannotRun(error.reason, evidence: step.calls)
        }
        try await makeConfigDirectory(&step)
        for overlay in copy.overlays {
            session.record(.file(path: overlay.path))
            let made = try await step.run(overlay.makeCommand, timeout: .seconds(60))
            guard made.succeeded else {
                throw CaseCannotRun(
                    "the image \(overlay.original) of the host file's guest '\(role)' cannot be overlaid (it is only "
                        + "ever read): \(made.stderr.trimmingCharacters(in: .whitespacesAndNewlines))",
                    evidence: step.calls
                )
            }
        }
        let path = configPath(session.domainName)
        session.record(.file(path: path))
        let written = try await step.run(["dd", "of=\(path)", "status=none"], input: copy.text)
        guard written.succeeded else { return step.failure(written) }
        session.record(.domain(name: session.domainName))
        let created = try await step.xl(action)
        let copied = Evidence(
            kind: "file",
            call: path,
            arguments: ["a copy of \(original)"],
            status: 0,
            output: copy.text,
            durationSeconds: 0
        )
        return created.succeeded ? .success(step.calls + [copied]) : step.failure(created)
    }
}
