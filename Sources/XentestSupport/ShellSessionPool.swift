import Synchronization

/// Shell sessions kept open between commands (`ShellSession`), by the argv that launched them: a command takes an
/// idle one or starts one, and gives it back when it is still usable. Commands that run at the same time (cases in
/// parallel, a console read while a line is typed) each have a session; at most `idleLimit` are kept per launch
/// argv once they are done.
final class ShellSessionPool: Sendable {
    private struct State {
        var idle: [[String]: [ShellSession]] = [:]
        var closed = false
    }

    private let state = Mutex(State())
    /// The most idle sessions kept per launch argv.
    let idleLimit: Int
    /// How long a new session may take to answer (connecting, logging in).
    let startLimit: PlanDuration

    init(idleLimit: Int = 4, startLimit: PlanDuration = .seconds(30)) {
        self.idleLimit = idleLimit
        self.startLimit = startLimit
    }

    /// Runs `command` (`ShellSession.run`) in a session of `launch`, reused or new. When no session starts, the result
    /// is how the launch ended (its status and standard error: ssh's own words when ssh could not connect), with the
    /// command never run; throws `CommandNotStarted` when the launch program is missing.
    func run(_ command: String, launch: [String], limit: PlanDuration, outputLimit: Int) async throws -> CommandResult {
        let session: ShellSession
        if let idle = checkOut(launch) {
            session = idle
        } else {
            switch try await ShellSession.start(launch, limit: startLimit) {
            case .success(let started): session = started
            case .failure(let failure):
                return CommandResult(
                    argv: [],
                    status: failure.status,
                    stdout: "",
                    stderr: failure.stderr,
                    durationSeconds: 0,
                    timedOut: failure.timedOut
                )
            }
        }
        let result = await session.run(command, limit: limit, outputLimit: outputLimit)
        if !checkIn(session, launch) { await session.end() }
        return result
    }

    private func checkOut(_ launch: [String]) -> ShellSession? {
        state.withLock { state in
            while let session = state.idle[launch]?.popLast() { if session.isUsable { return session } }
            return nil
        }
    }

    /// Keeps `session` for the next command; false when it is not kept (unusable, too many idle, or closed).
    private func checkIn(_ session: ShellSession, _ launch: [String]) -> Bool {
        guard session.isUsable else { return false }
        return state.withLock { state in
            guard !state.closed, state.idle[launch, default: []].count < idleLimit else { return false }
            state.idle[launch, default: []].append(session)
            return true
        }
    }

    /// How many sessions are idle: for tests.
    var idleCount: Int { state.withLock { $0.idle.values.reduce(0) { $0 + $1.count } } }

    /// Ends every idle session; a session still running a command ends when it is given back, and so does any a
    /// later command starts (`SSHCommandRunner` sends no more once its sharing is closed).
    func close() async {
        let sessions = state.withLock { state in
            state.closed = true
            defer { state.idle = [:] }
            return state.idle.values.flatMap { $0 }
        }
        for session in sessions { await session.end() }
    }

    /// Whether `close()` has not been called.
    var isOpen: Bool { !state.withLock { $0.closed } }
}
