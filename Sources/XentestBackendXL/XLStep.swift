import Foundation
import XentestPlan
import XentestRun
import XentestSupport
import XentestXLParsing

/// One action's commands on the xl backend: each runs through the backend's runner, and its evidence is kept in
/// order, so the step's outcome carries every call it made.
struct XLStep {
    let backend: XLBackend
    let session: CaseSession
    /// The calls made so far.
    private(set) var calls: [Evidence] = []

    init(backend: XLBackend, session: CaseSession) {
        self.backend = backend
        self.session = session
    }

    /// Runs one command, keeping its evidence.
    mutating func run(_ argv: [String], timeout: PlanDuration = .seconds(60), input: String? = nil) async throws
        -> CommandResult
    {
        let result = try await backend.runner.run(argv, timeout: timeout, input: input)
        calls.append(result.evidence)
        return result
    }

    /// Makes `disk`'s image at `path` in dom0, on the ledger first, keeping the command's evidence.
    mutating func make(_ disk: DiskSpec, at path: String) async throws -> CommandResult {
        let result = try await DiskImages.make(disk, at: path, in: session, through: backend.runner)
        calls.append(result.evidence)
        return result
    }

    /// Runs the one xl command that performs `action` (its argv from `XLCommand`, as `xentest show` prints it).
    mutating func xl(_ action: Action) async throws -> CommandResult {
        var context = XLStepContext(
            guest: session.guest,
            host: session.host,
            configPath: backend.configPath(session.domainName),
            attachedNICs: session.withState { $0.attachedNICs },
            attachedDisks: session.withState { $0.attachedDisks }
        )
        context.insertedMedia = session.withState { $0.insertedMedia }
        guard
            let command = XLCommand.forAction(action, context: context, timeout: PlanSyntax.defaultTimeout(for: action))
        else { preconditionFailure("\(action.name) is not a single xl command") }
        return try await run(command.argv, timeout: command.timeout)
    }

    /// Runs `action`'s xl command: success when it exits 0.
    mutating func xlSucceeds(_ action: Action) async throws -> ActionOutcome {
        let result = try await xl(action)
        return result.succeeded ? .success(calls) : failure(result)
    }

    /// The failed command's problem in plain words (xl's own text kept), with every call so far.
    func failure(_ result: CommandResult) -> ActionOutcome {
        let text = XLBackend.problem(in: result.stderr)
        let message = result.timedOut ? "\(result.argv.joined(separator: " ")) did not finish in time" : text
        return .failure(message.isEmpty ? "exit status \(result.status)" : message, calls)
    }

    /// The case's guest's state from `xl list NAME` (gone when xl does not know it), or the failed `xl list`.
    mutating func state() async throws -> Result<GuestState, XLCommandFailed> { try await listing().map(\.state) }

    /// The case's guest's state, memory (MiB) and domain id from `xl list NAME`: gone, with neither, when xl does not
    /// know it; or the failed `xl list`.
    mutating func listing() async throws -> Result<(state: GuestState, memoryMiB: Int?, domid: Int?), XLCommandFailed> {
        let name = session.domainName
        let result = try await run(["xl", "list", name])
        if !result.succeeded {
            return result.stderr.contains("invalid domain identifier")
                ? .success((.gone, nil, nil)) : .failure(XLCommandFailed(result))
        }
        guard let entry = try XLParse.list(result.stdout).first(where: { $0.name == name }) else {
            return .success((.gone, nil, nil))
        }
        return .success((entry.state.guestState, entry.memoryMiB, entry.id))
    }
}

/// A command of a step that did not succeed.
struct XLCommandFailed: Error {
    var result: CommandResult
    init(_ result: CommandResult) { self.result = result }
}
