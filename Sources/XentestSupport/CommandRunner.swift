import Dispatch
import Foundation
import Synchronization

/// How one external command ended: the evidence a step keeps.
public struct CommandResult: Sendable, Hashable {
    /// What ran, as given (for SSH, the command run on the far side).
    public var argv: [String]
    /// Exit status; 128+N when killed by signal N.
    public var status: Int32
    /// What it wrote to standard output, decoded as UTF-8; past the runner's output limit, cut with a note of the bytes
    /// dropped.
    public var stdout: String
    /// What it wrote to standard error, read like `stdout`.
    public var stderr: String
    /// Seconds from its start until it ended and its output was read.
    public var durationSeconds: Double
    /// Whether it was killed at its time limit.
    public var timedOut: Bool

    /// Exit status 0 and not timed out.
    public var succeeded: Bool { status == 0 && !timedOut }

    /// As step evidence.
    public var evidence: Evidence {
        Evidence(
            kind: "command",
            call: argv.first ?? "",
            arguments: Array(argv.dropFirst()),
            status: Int(status),
            output: stdout,
            error: timedOut ? stderr + "\n(killed at its time limit)" : stderr,
            durationSeconds: durationSeconds
        )
    }
}

/// Where commands run: this machine, or a Xen host over SSH. Every external command goes through one of these, as
/// argv values, never as a shell string.
public protocol CommandRunner: Sendable, CustomStringConvertible {
    /// `local`, or `ssh root@host:port`: for reports.
    var description: String { get }
    /// Runs `argv` with a time limit (SIGTERM, then SIGKILL 2 s later), shortened to the task's deadline if that
    /// comes first (`TaskDeadline`); `input` is written to its stdin.
    func run(_ argv: [String], timeout: PlanDuration, input: String?) async throws -> CommandResult
    /// Ends what the runner keeps open between commands (a shared SSH connection). Later commands still run, each
    /// opening what it needs.
    func close() async
}

extension CommandRunner {
    /// Keeps nothing open.
    public func close() async {}

    /// Runs `argv` with no input.
    public func run(_ argv: [String], timeout: PlanDuration) async throws -> CommandResult {
        try await run(argv, timeout: timeout, input: nil)
    }
}

/// Runs commands on this machine.
public struct LocalCommandRunner: CommandRunner {
    /// Output beyond this many bytes per stream is dropped (and said so), so a runaway command cannot balloon.
    public var outputLimit = 4 * 1024 * 1024

    /// A runner on this machine, with the default output limit.
    public init() {}

    /// `local`: for reports.
    public var description: String { "local" }

    /// Runs `argv` on this machine (the program found on PATH) as one of the current step's commands; throws
    /// `CommandNotStarted` when it cannot be started.
    public func run(_ argv: [String], timeout: PlanDuration, input: String?) async throws -> CommandResult {
        try await StepActivity.tracking(argv) {
            try await ProcessExecution.run(
                argv,
                timeout: TaskDeadline.limit(timeout),
                input: input,
                outputLimit: outputLimit
            )
        }
    }
}

/// A command could not be started at all (no such program, no permission).
public struct CommandNotStarted: Error, CustomStringConvertible {
    /// The command that could not be started.
    public var argv: [String]
    /// Why not: the program is not installed or not on PATH, the system's error, or an empty argv.
    public var reason: String
    /// `cannot run PROGRAM : REASON`.
    public var description: String { "cannot run \(argv.first ?? "") : \(reason)" }
}
