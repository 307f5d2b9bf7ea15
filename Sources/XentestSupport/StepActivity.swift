import Foundation
import Synchronization

/// What the step in progress has run so far: every command (or libvirt call) as it finishes, and the ones still
/// running.
///
/// A backend hands its evidence back with its outcome; a step that never finishes has no outcome. The runner sets one
/// of these for each attempt (a task-local, so it reaches every command the action runs, however deep), and when the
/// step times out, is interrupted or throws, the evidence is what this saw: the commands that ended, and the one that
/// hung, with how long it had been running.
public final class StepActivity: Sendable {
    /// The activity of the step the current task works for, if any.
    @TaskLocal public static var current: StepActivity?

    private struct Running: Sendable {
        var argv: [String]
        var start: Date
        var kind: Kind
    }

    /// What is tracked: a command is killed when its step ends; a libvirt call, a blocking C call, cannot be, and
    /// is left to return (or not) on a thread of its own.
    public enum Kind: String, Sendable {
        case command
        case api
    }

    private struct State: Sendable {
        var finished: [Evidence] = []
        var running: [Int: Running] = [:]
        var nextToken = 0
    }

    private let state = Mutex(State())

    /// An activity with nothing run yet.
    public init() {}

    /// Notes that `argv` (a command, or a libvirt call and its arguments) started; give the token back to `finished`.
    public func started(_ argv: [String], kind: Kind = .command, at start: Date = Date()) -> Int {
        state.withLock {
            let token = $0.nextToken
            $0.nextToken += 1
            $0.running[token] = Running(argv: argv, start: start, kind: kind)
            return token
        }
    }

    /// Notes that the command of `token` ended with `evidence`.
    public func finished(_ token: Int, _ evidence: Evidence) {
        state.withLock {
            $0.running[token] = nil
            $0.finished.append(evidence)
        }
    }

    /// The commands that ended, then one entry per command still running (status -1, its time so far).
    public func evidenceSoFar(now: Date = Date()) -> [Evidence] {
        state.withLock { state in
            state.finished
                + state.running.sorted { $0.key < $1.key }
                .map { _, running in
                    let seconds = now.timeIntervalSince(running.start)
                    let fate = running.kind == .command ? "killed" : "abandoned (a libvirt call cannot be cancelled)"
                    return Evidence(
                        kind: running.kind.rawValue,
                        call: running.argv.first ?? "",
                        arguments: Array(running.argv.dropFirst()),
                        status: -1,
                        error: String(format: "still running after %.1f s when the step ended; ", seconds) + fate,
                        durationSeconds: seconds
                    )
                }
        }
    }

    /// Runs `command` as one of the current step's commands, if there is a step.
    static func tracking(_ argv: [String], _ command: () async throws -> CommandResult) async throws -> CommandResult {
        guard let activity = current else { return try await command() }
        let token = activity.started(argv)
        let result = try await command()
        activity.finished(token, result.evidence)
        return result
    }
}
