import Dispatch
import Foundation
import Synchronization

/// One POSIX shell kept running to carry many commands, one at a time: over SSH, `ssh HOST -- exec sh`, so a command
/// costs a line written to that shell instead of a new ssh process, SSH session and login shell on the host.
///
/// Each command is one line the shell reads from its standard input: the command, with its own standard input
/// redirected (from /dev/null, or piped from `printf` of its quoted input text) so it can never read the lines after
/// it, then two `printf`s that write `\nMARKER STATUS\n` on standard output and on standard error. The marker holds a
/// nonce made for the command (`MarkedStream`). The line is made of words quoted for the shell (`shellQuoted`), as a
/// command given to ssh is: plan text stays one argument and is never interpreted.
///
/// A session whose command does not end by its local limit, or whose task is cancelled, is killed (its ssh; the far
/// side's `timeout` still ends the command there) and not used again; one whose shell or ssh ended is not either.
final class ShellSession: Sendable {
    private let child: SpawnedChild
    /// The writing end of the shell's standard input; -1 once closed.
    private let commands: Mutex<Int32>
    private let state = Mutex(State())
    /// Set when a command's local limit killed the session.
    private let killedAtLimit = Atomic<Bool>(false)

    private struct State {
        var stdout = MarkedStream()
        var stderr = MarkedStream()
        /// The launched process's exit status, once it has exited and its streams are read (a stream something
        /// still holds open five seconds after the exit is not read on).
        var exitStatus: Int32?
        var waiter: CheckedContinuation<Void, Never>?
        /// Who waits for the end of the launched process (`waitUntilEnded`).
        var endWaiters: [CheckedContinuation<Void, Never>] = []

        var ended: Bool { exitStatus != nil }
        var commandDone: Bool { (stdout.status != nil && stderr.status != nil) || ended }
    }

    private init(child: SpawnedChild, commands: Int32) {
        self.child = child
        self.commands = Mutex(commands)
    }

    /// Whether the shell is still there and no command's limit killed it: it may take another command.
    var isUsable: Bool { !killedAtLimit.load(ordering: .relaxed) && !state.withLock { $0.ended } }

    /// Starts `launch` (an argv whose program ends up reading shell commands from its standard input) and waits, up
    /// to `limit`, until the shell answers a first marker; what the login printed before it is dropped. Returns the
    /// session, or, when it never answered, how the launched process ended (for ssh: its status, 255, and its words).
    static func start(_ launch: [String], limit: PlanDuration) async throws -> Result<ShellSession, StartFailure> {
        let input = try ChildPipe()
        let stdout: ChildPipe
        let stderr: ChildPipe
        do {
            stdout = try ChildPipe()
            stderr = try ChildPipe()
        } catch {
            close(input.reading)
            close(input.writing)
            throw error
        }
        let pid: pid_t
        do {
            pid = try ProcessExecution.spawn(
                launch,
                stdin: input.reading,
                stdout: stdout.writing,
                stderr: stderr.writing
            )
        } catch {
            for descriptor in [input, stdout, stderr].flatMap({ [$0.reading, $0.writing] }) { close(descriptor) }
            throw error
        }
        for descriptor in [input.reading, stdout.writing, stderr.writing] { close(descriptor) }
        let session = ShellSession(child: SpawnedChild(pid: pid), commands: input.writing)
        // Expected before anything is read, so that the words of a launch that fails at once are kept.
        let marker = newMarker()
        session.expect(marker, outputLimit: 64 * 1024)
        session.follow(stdout: stdout.reading, stderr: stderr.reading)
        let greeting = await session.send(":", marker: marker, limit: limit)
        guard session.isUsable, greeting.status == 0 else {
            session.kill()
            await session.waitUntilEnded()
            // How the launch ended (ssh's 255, a signal when killed), never 0: no command ran.
            let status = session.state.withLock { $0.exitStatus }.flatMap { $0 == 0 ? nil : $0 } ?? -1
            return .failure(StartFailure(status: status, stderr: greeting.stderr, timedOut: greeting.timedOut))
        }
        return .success(session)
    }

    /// How a session that never answered ended.
    struct StartFailure: Error {
        var status: Int32
        var stderr: String
        var timedOut: Bool
    }

    /// Reads both streams and waits for the exit on one thread of its own for the session's life (not Dispatch's:
    /// its pool grows slowly past threads that block, and sessions block theirs for as long as they live).
    private func follow(stdout: Int32, stderr: Int32) {
        let thread = Thread { [self] in pump(stdout: stdout, stderr: stderr) }
        thread.name = "xentest shell session"
        thread.start()
    }

    private func pump(stdout: Int32, stderr: Int32) {
        var streams = [pollfd(fd: stdout, events: Int16(POLLIN), revents: 0)]
        streams.append(pollfd(fd: stderr, events: Int16(POLLIN), revents: 0))
        var buffer = [UInt8](repeating: 0, count: 65536)
        var exitedAt: ContinuousClock.Instant?
        while streams.contains(where: { $0.fd >= 0 }) {
            if exitedAt == nil, child.hasExited() { exitedAt = .now }
            // Something the last command left running may hold a stream open after the exit: not waited for long.
            if let exitedAt, exitedAt.duration(to: .now) > .seconds(5) { break }
            let ready = poll(&streams, nfds_t(streams.count), exitedAt == nil ? 1000 : 100)
            if ready < 0 && errno != EINTR { break }
            for index in streams.indices where streams[index].fd >= 0 && streams[index].revents != 0 {
                let count = buffer.withUnsafeMutableBytes { read(streams[index].fd, $0.baseAddress, $0.count) }
                if count < 0 && errno == EINTR { continue }
                if count <= 0 {
                    close(streams[index].fd)
                    streams[index].fd = -1
                    continue
                }
                update { state in
                    if index == 0 {
                        state.stdout.append(buffer[0..<count])
                    } else {
                        state.stderr.append(buffer[0..<count])
                    }
                }
            }
        }
        for stream in streams where stream.fd >= 0 { close(stream.fd) }
        let status = child.waitForExit()
        update { $0.exitStatus = status }
    }

    /// Changes the state, then wakes the waiting command if it is done, and who waits for the end if it ended.
    private func update(_ change: (inout State) -> Void) {
        let waiters: [CheckedContinuation<Void, Never>] = state.withLock { state in
            change(&state)
            var waiters: [CheckedContinuation<Void, Never>] = []
            if state.commandDone, let waiter = state.waiter {
                waiters.append(waiter)
                state.waiter = nil
            }
            if state.ended {
                waiters += state.endWaiters
                state.endWaiters = []
            }
            return waiters
        }
        for waiter in waiters { waiter.resume() }
    }

    /// Runs one command line (`command`: quoted words, its standard input already redirected) and returns its
    /// status and output; the argv of the result is left empty for the caller. Past `limit`, or when the task is
    /// cancelled, the session is killed: the result says what was read until then, timed out at the limit.
    func run(_ command: String, limit: PlanDuration, outputLimit: Int) async -> CommandResult {
        let marker = Self.newMarker()
        expect(marker, outputLimit: outputLimit)
        return await send(command, marker: marker, limit: limit)
    }

    private static func newMarker() -> String { "xentest-end-" + String(UInt64.random(in: .min ... .max), radix: 16) }

    /// From now on, both streams are the output of the command `marker` ends (bytes before were no command's).
    private func expect(_ marker: String, outputLimit: Int) {
        state.withLock { state in
            state.stdout.expect(marker: marker, limit: outputLimit)
            state.stderr.expect(marker: marker, limit: outputLimit)
        }
    }

    /// Writes the command's line and waits for its markers, or the end of the session.
    private func send(_ command: String, marker: String, limit: PlanDuration) async -> CommandResult {
        let line =
            "\(command); xentest_status=$?; printf '\\n%s %d\\n' \(marker) \"$xentest_status\"; "
            + "printf '\\n%s %d\\n' \(marker) \"$xentest_status\" >&2\n"
        let start = DispatchTime.now()
        let timer = OneShotTimer(after: limit) { [self] in
            killedAtLimit.store(true, ordering: .relaxed)
            kill()
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let done = state.withLock { state in
                    if state.commandDone { return true }
                    state.waiter = continuation
                    return false
                }
                if done {
                    continuation.resume()
                    return
                }
                // On a thread of its own: a long input may wait for the far side to read it, and Dispatch's threads
                // may all be blocked by commands running elsewhere in this process.
                Thread { [self] in
                    // A write to a shell that has gone fails with EPIPE; its SIGPIPE stays pending on this thread,
                    // which then ends, instead of ending the process.
                    var brokenPipe = sigset_t()
                    sigemptyset(&brokenPipe)
                    sigaddset(&brokenPipe, SIGPIPE)
                    pthread_sigmask(SIG_BLOCK, &brokenPipe, nil)
                    if !write(line) { kill() }
                }
                .start()
            }
        } onCancel: {
            kill()
        }
        timer.cancel()
        let seconds = start.secondsElapsed
        return state.withLock { state in
            if state.stdout.status == nil { state.stdout.finish() }
            if state.stderr.status == nil { state.stderr.finish() }
            return CommandResult(
                argv: [],
                status: state.stdout.status ?? state.stderr.status ?? state.exitStatus ?? -1,
                stdout: state.stdout.text,
                stderr: state.stderr.text,
                durationSeconds: seconds,
                timedOut: killedAtLimit.load(ordering: .relaxed)
            )
        }
    }

    /// The part of a command's line before its markers: `argv` as quoted words, reading `input` (through `printf`, a
    /// builtin, from its quoted text) or /dev/null, never the shell's own input. `input` must hold no NUL: no shell
    /// word can.
    static func commandLine(_ argv: [String], input: String?) -> String {
        let words = argv.map(shellQuoted).joined(separator: " ")
        guard let input else { return words + " </dev/null" }
        return "printf %s \(shellQuoted(input)) | " + words
    }

    /// Writes all of `line` to the shell; false when the shell's input is closed or gone.
    private func write(_ line: String) -> Bool {
        commands.withLock { descriptor in
            guard descriptor >= 0 else { return false }
            var bytes = Array(line.utf8)[...]
            while !bytes.isEmpty {
                let written = bytes.withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress, $0.count) }
                if written < 0 && errno == EINTR { continue }
                if written <= 0 { return false }
                bytes = bytes.dropFirst(written)
            }
            return true
        }
    }

    /// SIGTERM to the launched process (SIGKILL two seconds later): its streams end, a waiting command returns, and a
    /// write blocked on its input fails. The input stays open until `end` or the last reference goes.
    func kill() { child.stop() }

    private func closeInput() {
        commands.withLock { descriptor in
            if descriptor >= 0 { close(descriptor) }
            descriptor = -1
        }
    }

    /// Ends the session: the shell reads the end of its input and exits; killed if it has not within 5 s.
    func end() async {
        closeInput()
        await waitUntilEnded()
    }

    /// Waits until the launched process has exited and its streams are read, killing it after `killingAfter`.
    func waitUntilEnded(killingAfter: PlanDuration = .seconds(5)) async {
        let timer = OneShotTimer(after: killingAfter) { [self] in child.stop() }
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let ended = state.withLock { state in
                if !state.ended { state.endWaiters.append(continuation) }
                return state.ended
            }
            if ended { continuation.resume() }
        }
        timer.cancel()
    }

    deinit { closeInput() }
}
