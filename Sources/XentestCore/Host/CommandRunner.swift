import Dispatch
import Foundation
import Synchronization

/// How one external command ended: the evidence a step keeps.
public struct CommandResult: Sendable, Hashable {
    /// What ran, as given (for SSH, the command run on the far side).
    public var argv: [String]
    /// Exit status; 128+N when killed by signal N.
    public var status: Int32
    public var stdout: String
    public var stderr: String
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
}

extension CommandRunner {
    /// Runs `argv` with no input.
    public func run(_ argv: [String], timeout: PlanDuration) async throws -> CommandResult {
        try await run(argv, timeout: timeout, input: nil)
    }
}

/// Runs commands on this machine.
public struct LocalCommandRunner: CommandRunner {
    /// Output beyond this many bytes per stream is dropped (and said so), so a runaway command cannot balloon.
    public var outputLimit = 4 * 1024 * 1024

    public init() {}

    public var description: String { "local" }

    public func run(_ argv: [String], timeout: PlanDuration, input: String?) async throws -> CommandResult {
        try await StepActivity.tracking(argv) {
            try await ProcessExecution.run(argv, timeout: TaskDeadline.limit(timeout), input: input, outputLimit: outputLimit)
        }
    }
}

/// Runs commands on another host over SSH, non-interactively (`BatchMode`), with a key.
///
/// ssh hands the far side one command line, which its shell splits again: each argument is quoted for that shell,
/// so plan text arrives as the same single arguments and is never interpreted.
public struct SSHCommandRunner: CommandRunner {
    public var user: String
    public var host: String
    public var port: Int
    /// A private key to log in with; nil for ssh's defaults.
    public var identityFile: String?
    /// A known_hosts file for this host (the lab writes its own); nil for the user's.
    public var knownHostsFile: String?
    /// Kept for the evidence of the far side's command, not the local ssh process.
    public var outputLimit = 4 * 1024 * 1024

    public init(user: String, host: String, port: Int = 22, identityFile: String? = nil, knownHostsFile: String? = nil) {
        self.user = user
        self.host = host
        self.port = port
        self.identityFile = identityFile
        self.knownHostsFile = knownHostsFile
    }

    /// Parses `ssh://[user@]host[:port]`.
    public init?(url: String) {
        guard url.hasPrefix("ssh://") else { return nil }
        var rest = String(url.dropFirst("ssh://".count))
        if rest.hasSuffix("/") { rest.removeLast() }
        var user = "root"
        if let at = rest.firstIndex(of: "@") {
            user = String(rest[..<at])
            rest = String(rest[rest.index(after: at)...])
        }
        var port = 22
        if let colon = rest.lastIndex(of: ":"), let parsed = Int(rest[rest.index(after: colon)...]) {
            port = parsed
            rest = String(rest[..<colon])
        }
        guard !rest.isEmpty, !user.isEmpty, (1...65535).contains(port) else { return nil }
        self.init(user: user, host: rest, port: port)
    }

    public var description: String { "ssh \(user)@\(host):\(port)" }

    /// The local argv that runs `argv` on the far side.
    public func sshArgv(for argv: [String]) -> [String] {
        var ssh = ["ssh", "-o", "BatchMode=yes", "-o", "ConnectTimeout=10", "-o", "LogLevel=ERROR", "-p", String(port)]
        if let identityFile { ssh += ["-i", identityFile, "-o", "IdentitiesOnly=yes"] }
        if let knownHostsFile {
            ssh += ["-o", "UserKnownHostsFile=\(knownHostsFile)", "-o", "StrictHostKeyChecking=yes"]
        }
        return ssh + ["\(user)@\(host)", "--", argv.map(shellQuoted).joined(separator: " ")]
    }

    /// How much longer than a command's limit the local ssh may take (connecting, returning the output) before it
    /// is killed too, when the far side has not ended the command itself.
    public var transportGrace = PlanDuration.seconds(10)

    /// The far side's argv for `argv` with `timeout`: its own `timeout` (coreutils or busybox, same options) ends the
    /// command there at the limit. Killing the local ssh alone would leave it running on the host: without a
    /// terminal, sshd does not signal the command when the connection drops, so a hung `xl` would stay hung.
    public static func remoteArgv(for argv: [String], timeout: PlanDuration) -> [String] {
        let seconds = max(1, (timeout.milliseconds + 999) / 1000)
        return ["timeout", "-k", "2", String(seconds)] + argv
    }

    public func run(_ argv: [String], timeout: PlanDuration, input: String?) async throws -> CommandResult {
        try await StepActivity.tracking(argv) { try await runRemotely(argv, timeout: timeout, input: input) }
    }

    private func runRemotely(_ argv: [String], timeout: PlanDuration, input: String?) async throws -> CommandResult {
        let timeout = TaskDeadline.limit(timeout)
        let localLimit = PlanDuration(milliseconds: timeout.milliseconds + transportGrace.milliseconds)
        var result = try await ProcessExecution.run(
            sshArgv(for: Self.remoteArgv(for: argv, timeout: timeout)),
            timeout: localLimit,
            input: input,
            outputLimit: outputLimit
        )
        result.argv = argv
        // `timeout` exits 124 when it ended the command (137 when SIGTERM was not enough and it sent SIGKILL).
        if (result.status == 124 || result.status == 137) && result.durationSeconds * 1000 >= Double(timeout.milliseconds) {
            result.timedOut = true
        }
        // 255 is ssh's own failure, but also what a remote command exiting -1 gives (xl does): blame ssh only when
        // ssh says something.
        let sshWords = ["ssh:", "Connection refused", "Connection closed", "Permission denied", "Host key verification"]
        if result.status == 255 && !result.timedOut && sshWords.contains(where: result.stderr.contains) {
            result.stderr = "ssh to \(user)@\(host):\(port) failed: " + result.stderr
        }
        return result
    }
}

/// Quotes one argument for a POSIX shell: single quotes, with embedded ones closed, escaped and reopened.
public func shellQuoted(_ argument: String) -> String {
    let plain = !argument.isEmpty && argument.unicodeScalars.allSatisfy {
        ($0.value >= 0x30 && $0.value <= 0x39) || ($0.value >= 0x41 && $0.value <= 0x5A)
            || ($0.value >= 0x61 && $0.value <= 0x7A) || "-_./:=,@%+".unicodeScalars.contains($0)
    }
    return plain ? argument : "'" + argument.replacingOccurrences(of: "'", with: "'\\''") + "'"
}

/// A command could not be started at all (no such program, no permission).
public struct CommandNotStarted: Error, CustomStringConvertible {
    public var argv: [String]
    public var reason: String
    public var description: String { "cannot run \(argv.first ?? "") : \(reason)" }
}

/// Starting a process, feeding it, reading both streams without blocking each other, and ending it on time.
enum ProcessExecution {
    /// Whether this machine's `env` can reset signal handling (`--default-signal`, coreutils 8.31 and later).
    ///
    /// Probed with posix_spawn and waitpid, not Foundation's `Process`: its `waitUntilExit()` spins a run loop and,
    /// with many commands starting at once, now and then never saw the probe exit. This runs once, under Swift's
    /// lazy-static lock, so every command that started meanwhile waited on it and the whole cooperative pool hung.
    static let resetsSignals: Bool = {
        var actions: posix_spawn_file_actions_t = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        for descriptor: Int32 in [0, 1, 2] {
            posix_spawn_file_actions_addopen(&actions, descriptor, "/dev/null", descriptor == 0 ? O_RDONLY : O_WRONLY, 0)
        }
        let argv = ["/usr/bin/env", "--default-signal", "true"]
        var cArguments = argv.map { strdup($0) } + [nil]
        defer { cArguments.forEach { free($0) } }
        var pid: pid_t = 0
        guard posix_spawn(&pid, argv[0], &actions, nil, &cArguments, environ) == 0 else { return false }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
        // Exited normally with status 0.
        return status & 0x7f == 0 && (status >> 8) & 0xff == 0
    }()

    /// Writing to a command that already exited must be an error, not SIGPIPE ending xentest itself.
    private static let ignoreBrokenPipes: Void = { signal(SIGPIPE, SIG_IGN) }()

    /// Standard input as an unlinked temporary file: the command sees end-of-file at once, and nothing can block
    /// on a pipe nobody reads.
    static func inputFile(_ text: String) throws -> FileHandle {
        let path = NSTemporaryDirectory() + "/xentest-stdin-\(UUID().uuidString)"
        try Journal.writeAll(Data(text.utf8), toNewFile: path)
        defer { unlink(path) }
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else {
            throw CommandNotStarted(argv: [], reason: "cannot open a temporary file for standard input")
        }
        return FileHandle(fileDescriptor: descriptor, closeOnDealloc: true)
    }

    static func run(_ argv: [String], timeout: PlanDuration, input: String?, outputLimit: Int) async throws
        -> CommandResult
    {
        guard let program = argv.first else { throw CommandNotStarted(argv: argv, reason: "empty command") }
        _ = ignoreBrokenPipes
        let process = Process()
        // Foundation starts the child as the leader of a process group of its own: `stop()` signals that group, so a
        // time limit or Ctrl-C ends the command with everything it started (a killed shell's children would
        // otherwise keep its output open).
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        // Signals xentest ignores (SIGINT and SIGTERM during a run, SIGPIPE) would stay ignored in the command.
        process.arguments = (resetsSignals ? ["--default-signal"] : []) + argv
        let stdoutPipe = try ClosingPipe()
        let stderrPipe = try ClosingPipe()
        process.standardOutput = stdoutPipe.writing
        process.standardError = stderrPipe.writing
        process.standardInput = try input.map(Self.inputFile) ?? FileHandle.nullDevice
        let start = DispatchTime.now()
        let stdout = StreamCollector(limit: outputLimit)
        let stderr = StreamCollector(limit: outputLimit)
        let timedOut = Atomic<Bool>(false)
        let box = ProcessBox(process)
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let group = DispatchGroup()
                group.enter()  // stdout's reader: counted before launch, so an early exit still waits for it
                group.enter()  // stderr's reader
                let resumed = Atomic<Bool>(false)
                let resume: @Sendable () -> Void = {
                    if !resumed.exchange(true, ordering: .relaxed) { continuation.resume() }
                }
                process.terminationHandler = { _ in
                    // Both streams are read to their end before the result is built; something the command left
                    // running in the background may hold them open, so that wait is bounded.
                    group.notify(queue: .global()) { resume() }
                    DispatchQueue.global().asyncAfter(deadline: .now() + 5) { resume() }
                }
                do {
                    try ClosingPipe.spawnLock.withLock {
                        // The child inherits this thread's signal mask, and Dispatch's threads block nearly every
                        // signal: without this, SIGTERM at the time limit would never reach the command.
                        var unblocked = sigset_t()
                        var previous = sigset_t()
                        sigemptyset(&unblocked)
                        pthread_sigmask(SIG_SETMASK, &unblocked, &previous)
                        defer { pthread_sigmask(SIG_SETMASK, &previous, nil) }
                        try process.run()
                    }
                } catch {
                    process.terminationHandler = nil
                    group.leave()
                    group.leave()
                    continuation.resume(throwing: CommandNotStarted(argv: argv, reason: "\(error)"))
                    return
                }
                // Cancelled while it was being started: the handler found nothing to stop then.
                if box.cancelled.load(ordering: .relaxed) { box.stop() }
                // The child has its own copies now; ours would keep the readers from ever seeing end-of-file.
                try? stdoutPipe.writing.close()
                try? stderrPipe.writing.close()

                for (pipe, collector) in [(stdoutPipe, stdout), (stderrPipe, stderr)] {
                    DispatchQueue.global().async {
                        collector.drain(pipe.reading)
                        group.leave()
                    }
                }
                let timer = OneShotTimer(after: timeout) {
                    guard box.process.isRunning else { return }
                    timedOut.store(true, ordering: .relaxed)
                    box.stop()
                }
                box.timer = timer
            }
        } onCancel: {
            box.cancelled.store(true, ordering: .relaxed)
            box.stop()
        }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e9
        var status = process.terminationStatus
        if process.terminationReason == .uncaughtSignal { status += 128 }
        if status == 127 && stderr.text.hasPrefix("/usr/bin/env:") {
            throw CommandNotStarted(argv: argv, reason: "\(program) is not installed or not on PATH")
        }
        return CommandResult(
            argv: argv,
            status: status,
            stdout: stdout.text,
            stderr: stderr.text,
            durationSeconds: seconds,
            timedOut: timedOut.load(ordering: .relaxed)
        )
    }
}

/// A pipe whose ends are close-on-exec, unlike Foundation's `Pipe`: a command started at the same moment by
/// another task must not inherit them, or this command's reader waits for that one to exit too. The child gets
/// its own stdout/stderr through dup2, which clears the flag on the copy.
private struct ClosingPipe {
    /// Held while a pipe is made and while a process is spawned, so no spawn falls between pipe() and the flag
    /// (Swift's Glibc module has no pipe2).
    static let spawnLock = NSLock()

    let reading: FileHandle
    let writing: FileHandle

    init() throws {
        var descriptors: [Int32] = [-1, -1]
        let made = Self.spawnLock.withLock {
            guard pipe(&descriptors) == 0 else { return false }
            _ = fcntl(descriptors[0], F_SETFD, FD_CLOEXEC)
            _ = fcntl(descriptors[1], F_SETFD, FD_CLOEXEC)
            return true
        }
        guard made else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EMFILE) }
        reading = FileHandle(fileDescriptor: descriptors[0], closeOnDealloc: true)
        writing = FileHandle(fileDescriptor: descriptors[1], closeOnDealloc: true)
    }
}

/// Collects one stream up to a limit, reading on past it so the writer never blocks.
private final class StreamCollector: Sendable {
    private let limit: Int
    private let state = Mutex<(data: Data, dropped: Int)>((Data(), 0))

    init(limit: Int) { self.limit = limit }

    func drain(_ handle: FileHandle) {
        while true {
            let chunk = handle.availableData
            if chunk.isEmpty { return }
            state.withLock { state in
                let room = max(0, limit - state.data.count)
                state.data.append(chunk.prefix(room))
                state.dropped += max(0, chunk.count - room)
            }
        }
    }

    var text: String {
        state.withLock { state in
            String(decoding: state.data, as: UTF8.self)
                + (state.dropped > 0 ? "\n[\(state.dropped) more bytes dropped]" : "")
        }
    }
}

/// A running process handed to timers and cancellation handlers: `@unchecked Sendable` because only
/// `isRunning`, `processIdentifier` and signals are used from there, which are safe from any thread once it runs.
private final class ProcessBox: @unchecked Sendable {
    let process: Process
    /// The time limit's timer, kept alive as long as the process is; set once, before anything reads it.
    var timer: OneShotTimer?
    /// SIGKILL's timer after a SIGTERM.
    var killer: OneShotTimer?
    /// Set when the task running the command is cancelled, possibly before the process has started.
    let cancelled = Atomic<Bool>(false)
    init(_ process: Process) { self.process = process }

    /// SIGTERM to its process group, then SIGKILL two seconds later.
    func stop() {
        guard process.isRunning else { return }
        let pid = process.processIdentifier
        let signal: @Sendable (Int32) -> Void = { number in if kill(-pid, number) != 0 { kill(pid, number) } }
        signal(SIGTERM)
        // Only while it still runs: once reaped, its pid may already be some other process's.
        killer = OneShotTimer(after: .seconds(2)) { [self] in if self.process.isRunning { signal(SIGKILL) } }
    }
}
