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
///
/// Processes are spawned with `posix_spawnp` and waited for with `waitid`, not through Foundation's `Process`: on
/// Linux, `Process` learns that a child exited when a socket it hands the child closes, and a daemon the command
/// leaves behind inherits that socket. `xl create` leaves one (its domain-monitoring child): run in dom0, it never
/// ended for `Process`, and every `create` step timed out with the guest up.
enum ProcessExecution {
    /// Writing to a command that already exited must be an error, not SIGPIPE ending xentest itself.
    private static let ignoreBrokenPipes: Void = { signal(SIGPIPE, SIG_IGN) }()

    /// Standard input as an unlinked temporary file: the command sees end-of-file at once, and nothing can block
    /// on a pipe nobody reads.
    static func inputDescriptor(_ text: String) throws -> Int32 {
        let path = NSTemporaryDirectory() + "/xentest-stdin-\(UUID().uuidString)"
        try Journal.writeAll(Data(text.utf8), toNewFile: path)
        defer { unlink(path) }
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else {
            throw CommandNotStarted(argv: [], reason: "cannot open a temporary file for standard input")
        }
        return descriptor
    }

    static func run(_ argv: [String], timeout: PlanDuration, input: String?, outputLimit: Int) async throws
        -> CommandResult
    {
        guard !argv.isEmpty else { throw CommandNotStarted(argv: argv, reason: "empty command") }
        _ = ignoreBrokenPipes
        let stdinDescriptor = try input.map(Self.inputDescriptor) ?? open("/dev/null", O_RDONLY | O_CLOEXEC)
        defer { close(stdinDescriptor) }
        let stdoutPipe = try ChildPipe()
        let stderrPipe = try ChildPipe()
        let start = DispatchTime.now()
        let pid: pid_t
        do {
            pid = try spawn(argv, stdin: stdinDescriptor, stdout: stdoutPipe.writing, stderr: stderrPipe.writing)
        } catch {
            for descriptor in [stdoutPipe.reading, stdoutPipe.writing, stderrPipe.reading, stderrPipe.writing] {
                close(descriptor)
            }
            throw error
        }
        // The child has its own copies now; ours would keep the readers from ever seeing end-of-file.
        close(stdoutPipe.writing)
        close(stderrPipe.writing)

        let child = SpawnedChild(pid: pid)
        let stdout = StreamCollector(limit: outputLimit)
        let stderr = StreamCollector(limit: outputLimit)
        let timedOut = Atomic<Bool>(false)
        let status: Int32 = try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Int32, any Error>) in
                let streams = DispatchGroup()
                for (descriptor, collector) in [(stdoutPipe.reading, stdout), (stderrPipe.reading, stderr)] {
                    streams.enter()
                    DispatchQueue.global().async {
                        collector.drain(descriptor)
                        close(descriptor)
                        streams.leave()
                    }
                }
                let timer = OneShotTimer(after: timeout) {
                    if child.stop() { timedOut.store(true, ordering: .relaxed) }
                }
                DispatchQueue.global().async {
                    let status = child.waitForExit()
                    timer.cancel()
                    // Both streams are read to their end before the result is built; something the command left
                    // running in the background may hold them open, so that wait is bounded.
                    _ = streams.wait(timeout: .now() + 5)
                    continuation.resume(returning: status)
                }
            }
        } onCancel: {
            child.stop()
        }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e9
        return CommandResult(
            argv: argv,
            status: status,
            stdout: stdout.text,
            stderr: stderr.text,
            durationSeconds: seconds,
            timedOut: timedOut.load(ordering: .relaxed)
        )
    }

    /// glibc's `posix_spawn_file_actions_addclosefrom_np` (2.34 and later), which Swift's Glibc module does not
    /// export: looked up once. Without it, only descriptors marked close-on-exec stay out of the child, which is why
    /// pipes are made and marked under `spawnLock`.
    private typealias CloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32
    private static let closeFrom: CloseFrom? = dlsym(nil, "posix_spawn_file_actions_addclosefrom_np")
        .map { unsafeBitCast($0, to: CloseFrom.self) }

    /// Held while a pipe is made and marked close-on-exec, and while a process is spawned, so that no spawn falls
    /// between the two (Swift's Glibc module has no pipe2).
    static let spawnLock = NSLock()

    /// Starts `argv` (found on PATH) with these descriptors as its standard streams and no other: every descriptor
    /// from 3 up is closed in the child, so no command holds another's pipes. The child leads a process group of its
    /// own (a time limit signals the whole group), with no signal blocked and every signal's handling at its
    /// default: xentest ignores SIGPIPE, and SIGINT and SIGTERM during a run, and Dispatch's threads block nearly
    /// every signal, none of which a command should inherit.
    static func spawn(_ argv: [String], stdin: Int32, stdout: Int32, stderr: Int32) throws -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, stdin, 0)
        posix_spawn_file_actions_adddup2(&actions, stdout, 1)
        posix_spawn_file_actions_adddup2(&actions, stderr, 2)
        if let closeFrom = closeFrom { _ = closeFrom(&actions, 3) }

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var noSignals = sigset_t()
        sigemptyset(&noSignals)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        var allSignals = sigset_t()
        sigfillset(&allSignals)
        sigdelset(&allSignals, SIGKILL)
        sigdelset(&allSignals, SIGSTOP)
        posix_spawnattr_setsigdefault(&attributes, &allSignals)
        posix_spawnattr_setpgroup(&attributes, 0)
        posix_spawnattr_setflags(
            &attributes,
            Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF)
        )

        var cArguments = argv.map { strdup($0) } + [nil]
        defer { cArguments.forEach { free($0) } }
        var pid: pid_t = 0
        let status = spawnLock.withLock { posix_spawnp(&pid, argv[0], &actions, &attributes, &cArguments, environ) }
        guard status == 0 else {
            let reason =
                status == ENOENT
                ? "\(argv[0]) is not installed or not on PATH"
                : String(cString: strerror(status))
            throw CommandNotStarted(argv: argv, reason: reason)
        }
        return pid
    }
}

/// A spawned child: waited for once, and signalled only while it has not been reaped, when its pid can no longer
/// belong to another process.
private final class SpawnedChild: Sendable {
    let pid: pid_t
    /// Whether the child has been reaped; signals are sent under this lock, so never after.
    private let reaped = Mutex<Bool>(false)
    /// Whether SIGTERM was sent; SIGKILL follows two seconds later if the child still runs.
    private let stopping = Atomic<Bool>(false)

    init(pid: pid_t) { self.pid = pid }

    /// Blocks until the child exits, reaps it, and returns its status (128+N when signal N ended it).
    func waitForExit() -> Int32 {
        // Wait without reaping first, so the pid stays the child's while `stop` may still signal it.
        var info = siginfo_t()
        while waitid(P_PID, id_t(pid), &info, WEXITED | WNOWAIT) == -1 && errno == EINTR {}
        var status: Int32 = 0
        reaped.withLock { reaped in
            while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
            reaped = true
        }
        let signal = status & 0x7f
        return signal == 0 ? (status >> 8) & 0xff : 128 + signal
    }

    /// SIGTERM to its process group, then SIGKILL two seconds later; false when it had already exited.
    @discardableResult
    func stop() -> Bool {
        guard signal(SIGTERM) else { return false }
        if !stopping.exchange(true, ordering: .relaxed) {
            DispatchQueue.global().asyncAfter(deadline: .now() + 2) { [self] in _ = self.signal(SIGKILL) }
        }
        return true
    }

    /// Sends `number` to the child's group (or the child alone), unless it was reaped; whether it was sent.
    private func signal(_ number: Int32) -> Bool {
        reaped.withLock { reaped in
            guard !reaped else { return false }
            if kill(-pid, number) != 0 { kill(pid, number) }
            return true
        }
    }
}

/// A pipe whose ends are close-on-exec in this process: no other command may inherit them, or this command's reader
/// waits for that one to exit too (`spawn` also closes every descriptor past the standard three in the child).
private struct ChildPipe {
    let reading: Int32
    let writing: Int32

    init() throws {
        var descriptors: [Int32] = [-1, -1]
        let made = ProcessExecution.spawnLock.withLock {
            guard pipe(&descriptors) == 0 else { return false }
            _ = fcntl(descriptors[0], F_SETFD, FD_CLOEXEC)
            _ = fcntl(descriptors[1], F_SETFD, FD_CLOEXEC)
            return true
        }
        guard made else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EMFILE) }
        reading = descriptors[0]
        writing = descriptors[1]
    }
}

/// Collects one stream up to a limit, reading on past it so the writer never blocks.
private final class StreamCollector: Sendable {
    private let limit: Int
    private let state = Mutex<(data: Data, dropped: Int)>((Data(), 0))

    init(limit: Int) { self.limit = limit }

    /// Reads `descriptor` to its end.
    func drain(_ descriptor: Int32) {
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            if count <= 0 { return }
            state.withLock { state in
                let room = max(0, limit - state.data.count)
                state.data.append(contentsOf: buffer[0..<min(count, room)])
                state.dropped += max(0, count - room)
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
